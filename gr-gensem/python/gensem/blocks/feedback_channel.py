"""GNU Radio block ``gensem_feedback_channel``: the ARQ feedback path in simulation.

Passes messages from ``in`` to ``out`` and loses each with probability ``loss``
(seeded): the ``--ack-loss`` of ``gensem link``. Over the air a ZeroMQ link or a
reverse radio link takes its place.
"""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr


class feedback_channel(gr.basic_block):
    def __init__(self, loss=0.0, seed=0):
        gr.basic_block.__init__(self, name="gensem_feedback_channel", in_sig=None, out_sig=None)
        if not 0.0 <= float(loss) < 1.0:
            raise ValueError(f"feedback loss probability must be in [0, 1), got {loss}")
        self.loss = float(loss)
        self.rng = np.random.default_rng([int(seed), 0xACC])
        self.passed = 0
        self.dropped = 0
        self.message_port_register_in(pmt.intern("in"))
        self.set_msg_handler(pmt.intern("in"), self._handle)
        self.message_port_register_out(pmt.intern("out"))

    def _handle(self, msg):
        if self.loss and self.rng.random() < self.loss:
            self.dropped += 1
            return
        self.passed += 1
        self.message_port_pub(pmt.intern("out"), msg)
