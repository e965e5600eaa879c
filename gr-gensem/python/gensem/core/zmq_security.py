"""Authenticated, encrypted ZeroMQ links (CURVE, pyzmq's ``zmq.auth``), for both hosts.

``gensem keys --out DIR`` writes two key pairs in ZeroMQ's certificate format:
``server.key`` / ``server.key_secret`` (the side that binds: the radio's bridge sink) and
``client.key`` / ``client.key_secret`` (the side that connects: ``gensem-receiver``). Copy
DIR to both hosts. The server accepts only clients whose public key is in DIR (a ZAP
authenticator thread checks each handshake); a client only talks to a server that proves
it holds ``server.key_secret``. A peer without the right keys gets nothing in and nothing
out: its handshake fails, and ZeroMQ drops it without delivering a message.

``secure(sock, keys_dir, server)`` configures one socket before bind/connect. A bad or
missing key file is a one-line ``ValueError`` naming the file and the fix.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from urllib.parse import urlparse

ROLES = ("server", "client")
_auth = {}  # context id -> (ThreadAuthenticator, {key directory: its ZAP domain})
_lock = threading.Lock()


def check_endpoint(endpoint: str, what: str = "ZeroMQ endpoint") -> str:
    """``endpoint`` if it is tcp://, ipc:// or inproc:// with an address, else a one-line
    ValueError naming ``what`` and the fix."""
    endpoint = str(endpoint)
    scheme, sep, rest = endpoint.partition("://")
    if not sep or scheme not in ("tcp", "ipc", "inproc") or not rest:
        raise ValueError(f"bad {what} {endpoint!r}; use e.g. tcp://*:5555 (bind) or tcp://radio-host:5555")
    return endpoint


def check_link(endpoint: str, keys_dir, bind: bool, what: str = "ZeroMQ endpoint") -> tuple[str, str]:
    """(endpoint, keys_dir) of a block's ZeroMQ link, checked when the block is made, not
    when the flowgraph starts: a bad endpoint, or bad / missing key files (the server's when
    it binds, the client's when it connects), is a one-line ValueError."""
    keys_dir = str(keys_dir or "")
    endpoint = check_endpoint(endpoint, what)
    if keys_dir:
        check_keys(keys_dir, server=bool(bind))
    return endpoint, keys_dir


def make_keys(out_dir: str) -> dict:
    """Write the server and client key pairs into ``out_dir``; returns their paths."""
    import zmq.auth

    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create key directory {out_dir!r}: {exc.strerror}") from None
    paths = {}
    for role in ROLES:
        if os.path.exists(os.path.join(out_dir, f"{role}.key_secret")):
            raise ValueError(f"{out_dir}/{role}.key_secret exists; remove it or choose another --out")
        public, secret = zmq.auth.create_certificates(out_dir, role)
        os.chmod(secret, 0o600)
        paths[role] = {"public": public, "secret": secret}
    return paths


def _load(path: str, secret: bool):
    import zmq.auth

    if not os.path.isfile(path):
        raise ValueError(f"CURVE key file {path} is missing: make the keys with `gensem keys --out DIR`")
    try:
        pub, sec = zmq.auth.load_certificate(path)
    except Exception as exc:  # a malformed certificate: zmq raises ValueError/OSError/...
        from gensem.core.errors import first_line

        raise ValueError(f"bad CURVE key file {path}: {first_line(exc, 160)}") from None
    if secret and not sec:
        raise ValueError(f"CURVE key file {path} holds no secret key; use the .key_secret file")
    return pub, sec


def check_keys(keys_dir: str, server: bool) -> tuple:
    """The keys one side needs, loaded: (public, secret, server public or None). One-line
    ValueError for a missing directory or key file, or a malformed one."""
    if not os.path.isdir(keys_dir):
        raise ValueError(f"CURVE key directory {keys_dir!r} not found: make one with `gensem keys --out DIR`")
    if server:
        pub, sec = _load(os.path.join(keys_dir, "server.key_secret"), True)
        _load(os.path.join(keys_dir, "client.key"), False)  # a server with no client key lets no one in
        return pub, sec, None
    pub, sec = _load(os.path.join(keys_dir, "client.key_secret"), True)
    server_pub, _ = _load(os.path.join(keys_dir, "server.key"), False)
    return pub, sec, server_pub


def secure(sock, keys_dir: str, server: bool):
    """Make ``sock`` a CURVE server (accepting the client keys in ``keys_dir``) or client,
    before its bind/connect; no-op for an empty ``keys_dir``."""
    import zmq

    if not keys_dir:
        return sock
    pub, sec, server_pub = check_keys(keys_dir, server)
    sock.curve_secretkey, sock.curve_publickey = sec, pub
    if server:
        sock.setsockopt(zmq.ZAP_DOMAIN, _authenticate(sock.context, keys_dir).encode())
        sock.curve_server = True
    else:
        sock.curve_serverkey = server_pub
    return sock


def _authenticate(ctx, keys_dir: str) -> str:
    """The ZAP domain under which ``ctx``'s authenticator accepts the client keys in
    ``keys_dir`` (one authenticator thread per context, one domain per key directory)."""
    from zmq.auth.thread import ThreadAuthenticator

    keys_dir = os.path.abspath(keys_dir)
    with _lock:
        if id(ctx) not in _auth:
            auth = ThreadAuthenticator(ctx)
            auth.start()
            _auth[id(ctx)] = (auth, {})
        auth, domains = _auth[id(ctx)]
        if keys_dir not in domains:
            domains[keys_dir] = f"gensem-{len(domains)}"
            auth.configure_curve(domain=domains[keys_dir], location=keys_dir)
        return domains[keys_dir]


def is_loopback(endpoint: str) -> bool:
    """True for ipc:// and inproc:// endpoints and tcp:// on a loopback address."""
    u = urlparse(endpoint)
    if u.scheme in ("ipc", "inproc"):
        return True
    host = (u.hostname or "").strip("[]")
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # *, 0.0.0.0 is not an IP literal here ("*") or is "any": exposed


def warn_if_exposed(endpoint: str, keys_dir: str, who: str, log=None) -> str | None:
    """The one-line warning for binding a non-loopback address without CURVE keys, or None."""
    if keys_dir or is_loopback(endpoint):
        return None
    text = (
        f"{who}: {endpoint} is reachable from the network and unauthenticated: anyone can connect; "
        "make keys with `gensem keys --out DIR` and pass --curve-keys DIR"
    )
    if log is not None:
        log.warning(text)
    return text


def attach(sock, endpoint: str, bind: bool, keys_dir: str, who: str, log=None):
    """Secure ``sock`` (CURVE server when it binds, client when it connects; nothing without
    ``keys_dir``), warn about an exposed unauthenticated bind, then bind or connect it. A
    failure closes the socket and raises a one-line RuntimeError naming ``who`` and the fix."""
    import zmq

    secure(sock, keys_dir, server=bind)
    if bind:
        warn_if_exposed(endpoint, keys_dir, who, log)
    try:
        sock.bind(endpoint) if bind else sock.connect(endpoint)
    except zmq.ZMQError as exc:
        sock.close(0)
        verb = "bind" if bind else "connect"
        raise RuntimeError(f"{who}: cannot {verb} {endpoint} ({exc}); use tcp://HOST:PORT") from None
    return sock
