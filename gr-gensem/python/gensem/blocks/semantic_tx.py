"""GNU Radio hier block ``gensem_semantic_tx``: the transmitter of both semantic streams.

    message ports prompt, adaptive, feedback, control -> gensem_two_stream_tx
        -> blocks.multiply_const_cc (``scale``: digital amplitude for a radio) -> out

One box for a flowgraph: the prompt (stream 0, CRC + conv 1/2 + QPSK + ARQ) and the
adaptive M-QAM stream 1 on their sub-channels, M and the power split changeable at run
time. The ``events`` port reports every frame. Over the air set ``scale`` so the peaks
stay below the radio's full scale (a unit-power frame has rms 0.72, peak ~4.3: 0.15 is safe).
"""

from __future__ import annotations

from gnuradio import blocks, gr

from gensem.blocks.two_stream_tx import two_stream_tx


class semantic_tx(gr.hier_block2):
    MESSAGE_INPUTS = ("prompt", "adaptive", "feedback", "control")
    MESSAGE_OUTPUTS = ("events",)

    def __init__(
        self,
        mod=16,
        prompt_power=0.5,
        prompts=(),
        prbs_frames=0,
        prbs_bytes=256,
        prbs_seed=1,
        window=0,
        max_retries=32,
        ack_timeout=1.0,
        stall_timeout=0.5,
        finish=True,
        scale=1.0,
        n_prompt_carriers=24,
    ):
        gr.hier_block2.__init__(
            self,
            "gensem_semantic_tx",
            gr.io_signature(0, 0, 0),
            gr.io_signature(1, 1, gr.sizeof_gr_complex),
        )
        scale = float(scale)
        if not 0.0 < scale <= 10.0:
            raise ValueError(f"scale must be in (0, 10], got {scale}; use about 0.15 for a radio")
        self.tx = two_stream_tx(
            mod=mod,
            prompt_power=prompt_power,
            prompts=prompts,
            prbs_frames=prbs_frames,
            prbs_bytes=prbs_bytes,
            prbs_seed=prbs_seed,
            window=window,
            max_retries=max_retries,
            stall_timeout=stall_timeout,
            ack_timeout=ack_timeout,
            finish=finish,
            n_prompt_carriers=n_prompt_carriers,
        )
        self.scale = blocks.multiply_const_cc(scale)
        self.scale.set_min_output_buffer(1 << 16)
        self.connect(self.tx, self.scale, self)
        for port in self.MESSAGE_INPUTS:
            self.message_port_register_hier_in(port)
            self.msg_connect(self, port, self.tx, port)
        for port in self.MESSAGE_OUTPUTS:
            self.message_port_register_hier_out(port)
            self.msg_connect(self.tx, port, self, port)

    @property
    def finished(self) -> bool:
        """True once the transmitter has sent everything and its tail (``finish``)."""
        return self.tx.finished and self.tx._done

    def set_mod(self, mod):
        self.tx.set_mod(mod)

    def set_prompt_power(self, f0):
        self.tx.set_prompt_power(f0)

    def set_scale(self, scale):
        self.scale.set_k(float(scale))
