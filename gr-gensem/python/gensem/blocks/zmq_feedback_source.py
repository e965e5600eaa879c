"""GNU Radio block ``gensem_zmq_feedback_source``: the TX host's end of the ARQ feedback link.

Receives the versioned JSON feedback messages of ``gensem_zmq_feedback_sink`` (the RX
host) on a ZeroMQ SUB socket and publishes each as a pmt dict on ``out``, for
``gensem_semantic_tx``'s ``feedback`` port. It connects by default (the RX binds).
``curve_keys``: a directory from ``gensem keys`` (this end is the CURVE client when it
connects): a host without the keys gets nothing through, and nothing from it arrives.
A malformed, oversized or other-version message is counted (``bad_messages``, the first
ten logged in one line each) and the block keeps running; ``received`` counts the good
ones. A receiving thread polls every ``timeout_ms`` so ``stop()`` returns promptly. The
replacement of GNU Radio's ``zeromq.sub_msg_source`` (it deserialises any pmt from the
network, unauthenticated).
"""

from __future__ import annotations

import threading

import pmt
import zmq
from gnuradio import gr

from gensem.blocks.pdu_util import log
from gensem.core import feedback_wire
from gensem.core.zmq_security import check_link


class zmq_feedback_source(gr.basic_block):
    def __init__(self, address="tcp://127.0.0.1:5556", bind=False, curve_keys="", timeout_ms=100):
        gr.basic_block.__init__(self, name="gensem_zmq_feedback_source", in_sig=None, out_sig=None)
        self.bind = bool(bind)
        self.address, self.curve_keys = check_link(address, curve_keys, self.bind, "feedback address")
        if int(timeout_ms) < 1:
            raise ValueError("timeout_ms must be >= 1")
        self.timeout_ms = int(timeout_ms)
        self.received = 0
        self.bad_messages = 0
        self._sock = None
        self._thread = None
        self._stop = threading.Event()
        self.message_port_register_out(pmt.intern("out"))

    def start(self):
        from gensem.core.zmq_security import attach

        sock = zmq.Context.instance().socket(zmq.SUB)
        sock.setsockopt(zmq.MAXMSGSIZE, feedback_wire.MAX_BYTES)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        attach(sock, self.address, self.bind, self.curve_keys, "gensem_zmq_feedback_source", log)
        self._sock = sock  # from here on used by the receiving thread only
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="gensem-feedback-rx", daemon=True)
        self._thread.start()
        return True

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None
        return True

    def _loop(self):
        sock = self._sock
        while not self._stop.is_set():
            if not sock.poll(self.timeout_ms):
                continue
            try:
                data = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                continue
            except zmq.ZMQError as exc:
                log.error("gensem_zmq_feedback_source: receive failed (%s); feedback stopped", exc)
                return
            self.deliver(data)

    def deliver(self, data: bytes) -> bool:
        """Publish one received message (the thread's step; tests call it directly)."""
        try:
            fb = feedback_wire.decode(data)
        except ValueError as exc:
            self.bad_messages += 1
            if self.bad_messages <= 10:
                log.warning("gensem_zmq_feedback_source: ignored message: %s", exc)
            return False
        self.received += 1
        self.message_port_pub(pmt.intern("out"), pmt.to_pmt(fb))
        return True
