"""GNU Radio block ``gensem_prompt_arq_rx``: receiver side of the prompt ARQ.

Takes the ``frames`` PDUs of ``gensem_two_stream_rx`` in order; for each it publishes
one feedback dict on ``feedback`` (ACK: crc_ok True + prompt_seq, NACK: crc_ok False,
frame seen without prompt: crc_ok None; every one also carries the frame's snr0_db,
snr1_db, prompt_power and mod, the transmitter's planner input over the air) and, for a new CRC-clean prompt, a PDU with
the UTF-8 text on ``prompt`` (metadata: prompt_seq, session (the transmitter run's ARQ
session, ``dsp.arq``), frame, snr0_db, and n_parts for an
image prompt: the number of edge-map parts of its image, 0 = none, and colour_layout (base64)
when it carries one; see
``dsp.prompt_packet``). Duplicates (the ACK was lost) are ACKed again, never re-delivered; a restarted transmitter
(a new session) is delivered. Memory is bounded: ``delivered`` keeps the last deliveries.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pmt
from gnuradio import gr

from gensem.blocks.pdu_util import log, make_pdu, parse_pdu
from gensem.core import colour_layout
from gensem.dsp.arq import MAX_DELIVERED, StopAndWaitReceiver
from gensem.dsp.prompt_packet import split_image


class prompt_arq_rx(gr.basic_block):
    """``raw``: stream 0 carries binary packets (CDM-JSCC side information), published on
    ``prompt`` exactly as delivered; never parsed as an image prompt, whose marks any binary
    byte can match (a side packet starting with the colour mark lost bytes before)."""

    def __init__(self, raw: bool = False):
        gr.basic_block.__init__(self, name="gensem_prompt_arq_rx", in_sig=None, out_sig=None)
        self.raw = bool(raw)
        self.arq = StopAndWaitReceiver()
        self.delivered = deque(maxlen=MAX_DELIVERED)  # (seq, text; raw: bytes) of the latest deliveries
        self.delivered_frames = deque(maxlen=MAX_DELIVERED)  # frame number of each
        self.bad_messages = 0
        self.bad_colour = 0  # image prompts whose colour layout length did not fit (a sender bug)
        self.frames_seen = 0
        self.message_port_register_in(pmt.intern("frames"))
        self.set_msg_handler(pmt.intern("frames"), self._on_frame)
        self.message_port_register_out(pmt.intern("feedback"))
        self.message_port_register_out(pmt.intern("prompt"))

    def _on_frame(self, msg):
        try:
            meta, packet = parse_pdu(msg)
            frame = int(meta["frame"])
        except (ValueError, KeyError, TypeError) as exc:
            self.bad_messages += 1
            log.warning("gensem_prompt_arq_rx: ignored message: %s", exc)
            return
        self.frames_seen += 1
        has = bool(meta.get("s0_present", bool(packet)))
        fb, new = self.arq.on_frame(frame, has, bool(meta.get("crc_ok", False)), packet)
        fb.update(_snr_report(meta))  # the frame's SNR estimates: the TX host's planner input
        self.message_port_pub(pmt.intern("feedback"), pmt.to_pmt(fb))
        if new is not None:
            seq, payload = new
            n_parts = colour = None
            if not self.raw:
                try:
                    payload, n_parts, colour = split_image(payload)
                except ValueError as exc:  # CRC-clean, so a sender bug: the prompt still goes on
                    log.warning("gensem_prompt_arq_rx: %s; colour layout dropped", exc)
                    self.bad_colour += 1
                    payload, n_parts, colour = payload[3:], payload[1], None
            text = payload if self.raw else payload.decode("utf-8", errors="replace")
            self.delivered.append((seq, text))
            self.delivered_frames.append(frame)
            out_meta = {
                "prompt_seq": seq,
                "session": self.arq.session,
                "frame": frame,
                "snr0_db": meta.get("snr0_db", np.nan),
            }
            if n_parts is not None:
                out_meta["n_parts"] = n_parts
            if colour is not None:  # base64: a scalar string the bridge carries in its meta
                out_meta["colour_layout"] = colour_layout.to_meta(colour)
            self.message_port_pub(pmt.intern("prompt"), make_pdu(out_meta, payload))

    @property
    def crc_failures(self):
        return self.arq.crc_failures

    @property
    def duplicates(self):
        return self.arq.duplicates


def _snr_report(meta: dict) -> dict:
    """The frame's per-stream SNR estimates, power split and M1 (finite numbers only), which
    ride on its feedback dict to the transmitter's planner (``gensem_plan_controller``'s
    ``reports`` port: the closed loop over the air)."""
    out = {}
    for key in ("snr0_db", "snr1_db", "prompt_power"):
        v = meta.get(key)
        if isinstance(v, (int, float)) and math.isfinite(v):
            out[key] = float(v)
    if isinstance(meta.get("mod"), int):
        out["mod"] = int(meta["mod"])
    return out
