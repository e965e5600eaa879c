"""GNU Radio hier block ``gensem_semantic_rx``: the receiver of both semantic streams.

    in -> gensem_two_stream_rx --frames--> gensem_prompt_arq_rx --prompt--> prompt
                               --frames--> frames      (one PDU per decoded frame)
                               --adaptive--> adaptive  (stream-1 payload PDUs)
                                           gensem_prompt_arq_rx --feedback--> feedback

The ``feedback`` port carries the ACK/NACK dicts for the transmitter's ``feedback``
port: a message connection in loopback, ZeroMQ (``gensem_zmq_feedback_sink``) over the air.
``decode_process`` runs the frame decoder in a worker process (see ``gensem_two_stream_rx``).
``prompt`` carries each CRC-clean prompt once, as a UTF-8 PDU; ``s0_symbols`` /
``s1_symbols`` the equalised cells of each stream (c32vector PDUs, constellation sinks).
"""

from __future__ import annotations

from gnuradio import gr

from gensem.blocks.prompt_arq_rx import prompt_arq_rx
from gensem.blocks.two_stream_rx import two_stream_rx


class semantic_rx(gr.hier_block2):
    MESSAGE_INPUTS = ()
    MESSAGE_OUTPUTS = ("frames", "adaptive", "prompt", "feedback", "s0_symbols", "s1_symbols")

    def __init__(self, n_prompt_carriers=24, decode_process=False):
        gr.hier_block2.__init__(
            self,
            "gensem_semantic_rx",
            gr.io_signature(1, 1, gr.sizeof_gr_complex),
            gr.io_signature(0, 0, 0),
        )
        self.rx = two_stream_rx(n_prompt_carriers=n_prompt_carriers, decode_process=decode_process)
        self.arq_rx = prompt_arq_rx()
        self.connect(self, self.rx)
        self.msg_connect(self.rx, "frames", self.arq_rx, "frames")
        for port in self.MESSAGE_OUTPUTS:
            self.message_port_register_hier_out(port)
        self.msg_connect(self.rx, "frames", self, "frames")
        self.msg_connect(self.rx, "adaptive", self, "adaptive")
        self.msg_connect(self.arq_rx, "prompt", self, "prompt")
        self.msg_connect(self.arq_rx, "feedback", self, "feedback")
        self.msg_connect(self.rx, "s0_symbols", self, "s0_symbols")
        self.msg_connect(self.rx, "s1_symbols", self, "s1_symbols")

    @property
    def stats(self):
        return self.rx.stats

    @property
    def delivered(self):
        """[(prompt_seq, text)] of the prompts delivered so far."""
        return self.arq_rx.delivered
