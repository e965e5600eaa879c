"""``gensem keys --out DIR``: CURVE key pairs for authenticated, encrypted ZeroMQ links
(the bridge to the GPU receiver): ``server.key(_secret)`` for the side that binds,
``client.key(_secret)`` for the side that connects. Copy DIR to both hosts and pass
``--curve-keys DIR`` (``gensem jscc send``, ``gensem-receiver``, the GRC bridge sink)."""

from __future__ import annotations

import json


def cmd_keys(args, user_error) -> int:
    from gensem.core.zmq_security import make_keys

    try:
        paths = make_keys(args.out)
    except ValueError as exc:
        raise user_error(f"gensem keys: {exc}") from None
    if args.json:
        print(json.dumps(paths))
    else:
        print(f"gensem keys: wrote {args.out}/server.key(_secret) and client.key(_secret); copy the "
              "directory to both hosts and pass --curve-keys to each side")
    return 0


def add_keys_parser(sub, user_error):
    p = sub.add_parser("keys", help="make CURVE key pairs for authenticated ZeroMQ links")
    p.add_argument("--out", required=True, help="directory for the key files")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda a: cmd_keys(a, user_error))
