"""GNU Radio block ``gensem_plan_controller``: the closed loop of the latency-aware planner.

Subscribes to the receiver's decoded-frame PDUs (``gensem_two_stream_rx`` ``frames``:
per-stream SNR estimates and the frame's power split), keeps the average-SNR estimate and
re-plans at every frame (``planner.closed_loop.PlanTracker``: Lemma 1's discrete choice of
M1 and p0/p1, Qiao et al. Table II), and sends ``{mod, prompt_power}`` to the
transmitter's ``control`` port whenever the plan changes: the running flowgraph follows
from the next frame, no restart. M1 = 0 (edge map not sent) is sent as
``prompt_power = 1`` (stream 1 at zero power). Over the air the controller runs on the TX
host: the RX host's feedback dicts carry each frame's SNR estimates
(``gensem_prompt_arq_rx``) over the ZeroMQ feedback link into ``reports``; lost, late and
other-session reports are counted and keep the last plan. ``enabled`` False: reports are
counted, no plan is sent. Ports: in ``frames``, ``reports``; out ``control``, ``events``
(one dict per frame).
"""

from __future__ import annotations

from collections import deque

import pmt
from gnuradio import gr

from gensem.blocks.pdu_util import log, parse_dict, parse_pdu, subscribed_ports
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
        enabled=True,
        per_model="paper",
    ):
        gr.basic_block.__init__(self, name="gensem_plan_controller", in_sig=None, out_sig=None)
        from gensem.planner.per_fit import system_params

        self.tracker = PlanTracker(
            params=system_params(per_model),  # eq. (2)'s k, b: the paper's or our PHY's fit
            v0_bits=v0_bits,
            v1_bits=v1_bits,
            target_ber=target_ber,
            n_prompt_carriers=n_prompt_carriers,
            n_adaptive_carriers=n_adaptive_carriers,
            smoothing=smoothing,
            margin_db=margin_db,
        )
        self.keep_records = bool(keep_records)
        self.enabled = bool(enabled)  # False: reports are counted and logged, no plan is sent
        self.session = None  # the transmitter run's ARQ session (reports of another are foreign)
        self.reports = self.lost_reports = self.late_reports = self.foreign_reports = 0
        self._last_report = None
        self.report_log = deque(maxlen=4096)  # (frame, snr0_db, snr1_db) of the latest reports
        self.records = deque(maxlen=4096)  # the latest plan events (bounded on long runs)
        self.bad_messages = 0
        self.commands = 0
        self._sent = None  # (mod, power_q) of the last command
        self._subscribed = None
        self.message_port_register_in(pmt.intern("frames"))
        self.set_msg_handler(pmt.intern("frames"), self._on_frame)
        self.message_port_register_in(pmt.intern("reports"))
        self.set_msg_handler(pmt.intern("reports"), self._on_report)
        self.message_port_register_out(pmt.intern("control"))
        self.message_port_register_out(pmt.intern("events"))

    def _on_frame(self, msg):
        """A decoded-frame PDU of the receiver (loopback: the RX in the same flowgraph)."""
        try:
            meta, _ = parse_pdu(msg)
        except (ValueError, TypeError) as exc:
            self.bad_messages += 1
            log.warning("gensem_plan_controller: ignored message: %s", exc)
            return
        self._plan(meta)  # a frame number or split missing: counted there

    def _on_report(self, msg):
        """An SNR report from the RX host (the feedback dict of ``gensem_zmq_feedback_source``):
        reports of another transmitter run (``session`` given and not ours), late ones (a frame
        not after the latest) and lost ones (frame numbers skipped) are counted; a lost or late
        report keeps the last plan."""
        try:
            fb = parse_dict(msg)
            frame = int(fb["frame"])
            session = fb.get("session")
        except (ValueError, KeyError, TypeError) as exc:
            self.bad_messages += 1
            log.warning("gensem_plan_controller: ignored report: %s", exc)
            return
        if session is not None and self.session is not None and int(session) != self.session:
            self.foreign_reports += 1
            return
        if "snr1_db" not in fb and "snr0_db" not in fb or "prompt_power" not in fb:
            self.bad_messages += 1
            return
        if self._last_report is not None:
            step = (frame - self._last_report) % 65536  # 16-bit frame numbers
            if step == 0 or step >= 32768:
                self.late_reports += 1
                return
            self.lost_reports += step - 1
        self._last_report = frame
        self.reports += 1
        self.report_log.append((frame, fb.get("snr0_db"), fb.get("snr1_db")))
        if self.enabled:
            self._plan(fb)

    def _plan(self, meta: dict):
        try:
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
