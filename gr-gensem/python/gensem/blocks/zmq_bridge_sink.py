"""GNU Radio block ``gensem_zmq_bridge_sink``: decoded PDUs -> ZeroMQ, for the GPU receiver.

Message inputs: ``prompt`` (from ``gensem_prompt_arq_rx``: what the stream-0 ARQ
delivered), ``adaptive`` (from ``gensem_two_stream_rx``: stream-1 payloads, i.e. edge-map
bits, or analog frames of JSCC symbols) and ``frames`` (per-frame reports of
``gensem_two_stream_rx``). Each PDU becomes one bridge message (``gensem.core.bridge_schema``)
sent with a non-blocking send on a PUB or PUSH socket with a bounded high-water mark;
image_id / part / n_parts in the PDU metadata pass through.

``stream0`` says what stream 0 carries: ``"prompt"`` (the Qiao system's text prompt,
bridge stream ``prompt``) or ``"side"`` (CDM-JSCC side-information packets, bridge stream
``side``). A c32 PDU on ``adaptive`` (an analog frame) always goes out as stream ``analog``,
a u8 one as ``edge``. The socket binds (or connects) when the flowgraph starts.
Counters: ``sent``, ``dropped`` (queue full / no peer), ``bad_pdus`` (per stream).
``curve_keys``: a directory made by ``gensem keys``: the link is CURVE-authenticated and
encrypted (``gensem.core.zmq_security``; the side that binds is the CURVE server); binding
a non-loopback address without keys logs a one-line warning.

No hidden drops: "pub" is an XPUB socket with ``ZMQ_XPUB_NODROP``, so a subscriber that
falls behind by ``hwm`` messages makes the send fail (counted in ``dropped``) instead of
ZeroMQ discarding it silently, and a message sent while no receiver is subscribed is counted
too (``no_subscriber``, part of ``dropped``). "push" blocks at the high-water mark, which
the non-blocking send turns into a counted drop as well.
"""

from __future__ import annotations

import math
import time

import pmt
import zmq
from gnuradio import gr

from gensem.blocks.pdu_util import log, parse_c32_pdu, parse_pdu
from gensem.core.bridge_schema import DEFAULT_MAX_BYTES, STREAMS, BridgeError, encode, message_from_pdu
from gensem.core.zmq_security import check_endpoint, check_link

PATTERNS = {"pub": zmq.XPUB, "push": zmq.PUSH}
STREAM0 = ("prompt", "side")


def _ber_est(snr_db, mod):
    """Gray M-QAM AWGN BER at the estimated Es/N0 (None when either is unknown)."""
    if (
        not isinstance(snr_db, (int, float))
        or not math.isfinite(snr_db)
        or not isinstance(mod, int)
        or mod < 4
    ):
        return None
    from gensem.dsp.theory import ber_mqam_awgn

    try:
        return float(min(1.0, max(0.0, ber_mqam_awgn(snr_db, int(mod)))))
    except ValueError:  # an M outside the supported set
        return None


def probe_bind(endpoint: str) -> None:
    """Raise a one-line ValueError now if ``endpoint`` cannot be bound (port in use, bad
    address): a failing bind inside a running flowgraph only reaches GNU Radio's log."""
    sock = zmq.Context.instance().socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.bind(check_endpoint(endpoint))
    except zmq.ZMQError as exc:
        raise ValueError(f"cannot bind the bridge endpoint {endpoint}: {exc}") from None
    finally:
        sock.close(0)


class zmq_bridge_sink(gr.basic_block):
    def __init__(
        self,
        endpoint="tcp://*:5555",
        pattern="pub",
        bind=True,
        hwm=1000,
        max_bytes=DEFAULT_MAX_BYTES,
        stream0="prompt",
        curve_keys="",
    ):
        gr.basic_block.__init__(self, name="gensem_zmq_bridge_sink", in_sig=None, out_sig=None)
        self.bind = bool(bind)
        self.endpoint, self.curve_keys = check_link(endpoint, curve_keys, self.bind)
        if str(pattern).lower() not in PATTERNS:
            raise ValueError(f"pattern must be 'pub' or 'push', got {pattern!r}")
        self.pattern = str(pattern).lower()
        if int(hwm) < 1:
            raise ValueError("hwm (send high-water mark, messages) must be >= 1")
        self.hwm = int(hwm)
        if int(max_bytes) < 1024:
            raise ValueError("max_bytes must be >= 1024")
        self.max_bytes = int(max_bytes)
        if stream0 not in STREAM0:
            raise ValueError(f"stream0 must be 'prompt' (text prompt) or 'side' (CDM-JSCC), got {stream0!r}")
        self.stream0 = stream0
        self.sent = {s: 0 for s in STREAMS}
        self.dropped = {s: 0 for s in STREAMS}
        self.bad_pdus = {s: 0 for s in STREAMS}
        self.no_subscriber = 0  # PUB messages sent while no receiver was subscribed (in dropped)
        self.subscribers = 0
        self.last_endpoint = None
        self._ctx = None
        self._sock = None
        for port, handler in (
            ("prompt", self._on_prompt),
            ("adaptive", self._on_adaptive),
            ("frames", self._on_frames),
        ):  # GNU Radio's Python gateway needs bound methods as handlers, not lambdas
            self.message_port_register_in(pmt.intern(port))
            self.set_msg_handler(pmt.intern(port), handler)

    def start(self):
        self._ctx = zmq.Context.instance()
        sock = self._ctx.socket(PATTERNS[self.pattern])
        sock.setsockopt(zmq.SNDHWM, self.hwm)
        sock.setsockopt(zmq.LINGER, 500)
        if self.pattern == "pub":
            sock.setsockopt(zmq.XPUB_NODROP, 1)  # a full subscriber queue: EAGAIN, counted
        from gensem.core.zmq_security import attach

        attach(sock, self.endpoint, self.bind, self.curve_keys, "gensem_zmq_bridge_sink", log)
        self.last_endpoint = sock.getsockopt(zmq.LAST_ENDPOINT).decode()
        self._sock = sock
        return True

    def stop(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        return True

    def _on_prompt(self, msg):
        self._handle(self.stream0, msg)

    def _on_adaptive(self, msg):
        analog = parse_c32_pdu(msg)  # an analog frame (c32 symbols), else edge-map bytes
        if analog is None:
            self._handle("edge", msg)
        else:
            meta, symbols = analog
            self._handle("analog", msg, (meta, symbols.astype("<c8").tobytes()))

    def _on_frames(self, msg):
        self._handle("frame", msg)

    def _handle(self, stream, msg, parsed=None):
        """Send one PDU as a bridge message; ``parsed``: its (meta, payload bytes) if known."""
        try:
            meta, data = parsed if parsed is not None else parse_pdu(msg)
            extra = {"ber_est": _ber_est(meta.get("snr1_db"), meta.get("mod"))} if stream == "edge" else {}
            bmsg = message_from_pdu(stream, meta, data, sent_time=time.time(), **extra)
            frames = encode(bmsg, self.max_bytes)
        except (ValueError, TypeError, BridgeError) as exc:
            self.bad_pdus[stream] += 1
            log.warning("gensem_zmq_bridge_sink: %s PDU not sent: %s", stream, exc)
            return
        if self._sock is None:
            self.dropped[stream] += 1
            return
        if self.pattern == "pub":
            self._read_subscriptions()
            if self.subscribers == 0:  # ZeroMQ would discard it: count it
                self.no_subscriber += 1
                self.dropped[stream] += 1
                return
        try:
            self._sock.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
            self.sent[stream] += 1
        except zmq.Again:
            self.dropped[stream] += 1

    def _read_subscriptions(self):
        """XPUB hands us (un)subscriptions: byte 1 = subscribe, 0 = unsubscribe, then the topic."""
        while True:
            try:
                ev = self._sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if ev[:1] == b"\x01":
                self.subscribers += 1
            elif ev[:1] == b"\x00":
                self.subscribers = max(0, self.subscribers - 1)

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())
