"""GNU Radio block ``gensem_zmq_feedback_sink``: the RX host's end of the ARQ feedback link.

Message input ``in``: the feedback dicts of ``gensem_semantic_rx`` / ``gensem_prompt_arq_rx``
(ACK / NACK). Each goes out on a ZeroMQ PUB socket as one versioned JSON message
(``core.feedback_wire``) to the TX host's ``gensem_zmq_feedback_source``. The RX binds, the
TX connects (``bind``). ``curve_keys``: a directory from ``gensem keys``: the link is CURVE
authenticated and encrypted (this end is the CURVE server when it binds), as the bridge to
the GPU receiver is; without keys, binding a non-loopback address logs a one-line warning.
A message nobody can take now (no TX connected, a full queue) is dropped and counted
(``dropped``): the TX's ACK timeout covers a lost ACK. A dict that cannot be encoded is
counted in ``bad_messages``. The replacement of GNU Radio's ``zeromq.pub_msg_sink`` (a
serialised pmt, no authentication).
"""

from __future__ import annotations

import pmt
import zmq
from gnuradio import gr

from gensem.blocks.pdu_util import log, parse_dict
from gensem.core import feedback_wire
from gensem.core.zmq_security import check_link

HWM = 256  # messages queued for a slow or absent TX before they are dropped


class zmq_feedback_sink(gr.basic_block):
    def __init__(self, address="tcp://0.0.0.0:5556", bind=True, curve_keys=""):
        gr.basic_block.__init__(self, name="gensem_zmq_feedback_sink", in_sig=None, out_sig=None)
        self.bind = bool(bind)
        self.address, self.curve_keys = check_link(address, curve_keys, self.bind, "feedback address")
        self.sent = 0
        self.dropped = 0
        self.bad_messages = 0
        self._sock = None
        self.message_port_register_in(pmt.intern("in"))
        self.set_msg_handler(pmt.intern("in"), self._handle)

    def start(self):
        from gensem.core.zmq_security import attach

        sock = zmq.Context.instance().socket(zmq.PUB)
        sock.setsockopt(zmq.SNDHWM, HWM)
        sock.setsockopt(zmq.LINGER, 200)
        attach(sock, self.address, self.bind, self.curve_keys, "gensem_zmq_feedback_sink", log)
        self._sock = sock
        return True

    def stop(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        return True

    def _handle(self, msg):
        try:
            data = feedback_wire.encode(parse_dict(msg))
        except ValueError as exc:
            self.bad_messages += 1
            log.warning("gensem_zmq_feedback_sink: feedback not sent: %s", exc)
            return
        if self._sock is None:
            self.dropped += 1
            return
        try:
            self._sock.send(data, flags=zmq.NOBLOCK)
            self.sent += 1
        except zmq.Again:
            self.dropped += 1
