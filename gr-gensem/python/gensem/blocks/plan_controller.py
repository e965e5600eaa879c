"""GNU Radio block ``gensem_plan_controller``: the closed loop of the latency-aware planner.

Subscribes to the receiver's decoded-frame PDUs (``gensem_two_stream_rx`` ``frames``:
per-stream SNR estimates and the frame's power split), keeps the average-SNR estimate and
re-plans at every frame (``planner.closed_loop.PlanTracker``: Lemma 1's discrete choice of
M1 and p0/p1, Qiao et al. Table II), and sends ``{mod, prompt_power}`` to the
transmitter's ``control`` port whenever the plan changes: the running flowgraph follows
from the next frame, no restart. M1 = 0 (edge map not sent) is sent as
``prompt_power = 1`` (stream 1 at zero power). Over the air the same dict travels on the
feedback link. Ports: in ``frames``; out ``control``, ``events`` (one dict per frame).
"""

from __future__ import annotations

from collections import deque

import pmt
from gnuradio import gr

from gensem.blocks.pdu_util import log, parse_pdu, subscribed_ports
from gensem.dsp.frame_header import quantize_power
from gensem.planner.closed_loop import PlanTracker


class plan_controller(gr.basic_block):
    def __init__(
        self,
        v0_bits=1000,
        v1_bits=7880,
        target_ber=1e-5,
        margin_db=1.0,
        smoothing=0.3,
        n_prompt_carriers=24,
        n_adaptive_carriers=24,
        keep_records=True,
    ):
        gr.basic_block.__init__(self, name="gensem_plan_controller", in_sig=None, out_sig=None)
        self.tracker = PlanTracker(
            v0_bits=v0_bits,
            v1_bits=v1_bits,
            target_ber=target_ber,
            n_prompt_carriers=n_prompt_carriers,
            n_adaptive_carriers=n_adaptive_carriers,
            smoothing=smoothing,
            margin_db=margin_db,
        )
        self.keep_records = bool(keep_records)
        self.records = deque(maxlen=4096)  # the latest plan events (bounded on long runs)
        self.bad_messages = 0
        self.commands = 0
        self._sent = None  # (mod, power_q) of the last command
        self._subscribed = None
        self.message_port_register_in(pmt.intern("frames"))
        self.set_msg_handler(pmt.intern("frames"), self._on_frame)
        self.message_port_register_out(pmt.intern("control"))
        self.message_port_register_out(pmt.intern("events"))

    def _on_frame(self, msg):
        try:
            meta, _ = parse_pdu(msg)
            frame = int(meta["frame"])
            plan = self.tracker.update(meta.get("snr0_db"), meta.get("snr1_db"), float(meta["prompt_power"]))
        except (ValueError, KeyError, TypeError) as exc:
            self.bad_messages += 1
            log.warning("gensem_plan_controller: ignored message: %s", exc)
            return
        if plan is None:
            return
        last_mod = self._sent[0] if self._sent else 4
        mod = plan["modulation"] or last_mod  # M1 = 0: keep the last M, zero power
        key = (mod, quantize_power(plan["prompt_power"]))  # what the frame header can carry
        if key != self._sent:
            self._sent = key
            self.commands += 1
            self.message_port_pub(
                pmt.intern("control"), pmt.to_pmt({"mod": mod, "prompt_power": plan["prompt_power"]})
            )
        event = dict(plan, frame=frame, rx_mod=int(meta.get("mod", 0)), rx_prompt_power=meta["prompt_power"])
        if self.keep_records:
            self.records.append(event)
        if self._subscribed is None:
            self._subscribed = subscribed_ports(self, ("events",))
        if self._subscribed["events"]:
            self.message_port_pub(pmt.intern("events"), pmt.to_pmt(event))
