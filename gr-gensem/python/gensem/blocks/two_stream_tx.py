"""GNU Radio block ``gensem_two_stream_tx``: the transmitter of both sub-channels.

Builds one OFDM frame at a time (``dsp.frame_builder``): stream 0 carries the prompt
packets of the stop-and-wait ARQ (``dsp.arq``), stream 1 the adaptive-M-QAM payloads,
either PDUs from the ``adaptive`` port or, in BER-tester mode, pseudo-random payloads.
M1 and the power split come from the ``control`` port (or PDU metadata ``mod``) and take
effect at the next frame: they travel in that frame's header, so the receiver follows
without a restart. Every frame start carries a ``gensem_frame`` stream tag (the
simulated channel starts a new fading block there).

Frame clock: with ``window`` > 0 at most ``window`` frames are sent ahead of the latest
receiver feedback, which makes loopback runs deterministic; a ``stall_timeout`` guards
against lost feedback. Ports: in ``prompt`` (PDU or string: UTF-8 text), ``adaptive``
(PDU payload), ``feedback`` (dict from ``gensem_prompt_arq_rx``), ``control`` (dict with
``mod``, ``prompt_power``); out ``events`` (per-frame and per-prompt reports). With
``prompt_carousel`` the last prompt is submitted again whenever the ARQ goes idle while
stream-1 frames are still being sent (one prompt per image, as in the closed loop).
With ``wide_when_idle`` a QAM frame that carries no prompt packet is sent wide: stream 1 on
all 48 data carriers (``FrameHeader.wide``), for links with no prompt traffic.

Analog mode: a PDU on ``adaptive`` whose vector is a c32vector (complex symbols, unit
average power, e.g. CDM-JSCC channel symbols) is sent as analog frames: split into
chunks of ``analog_frame_symbols`` sent in consecutive frames, flagged first / last
(``dsp.analog_assembler`` puts them back). A PDU on ``prompt`` with metadata
``binary: True`` is sent as raw bytes over the ARQ (side information) instead of text.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import pmt
from gnuradio import gr

from gensem.blocks.pdu_util import FRAME_TAG, log, parse_c32_pdu, parse_dict, parse_pdu, subscribed_ports
from gensem.core import colour_layout
from gensem.core.analog_assembler import split_message
from gensem.dsp import aggregation, prbs, qam
from gensem.dsp.arq import StopAndWaitSender, unwrap_frame
from gensem.dsp.conv_code import ConvCode
from gensem.dsp.frame_builder import build_frame, encode_prompt_packet
from gensem.dsp.frame_header import MAX_S1_BYTES, MAX_S1_SYMBOLS
from gensem.dsp.ofdm_params import OfdmParams


@dataclass
class AnalogChunk:
    """One analog frame's symbols and its place in the message (adaptive-queue item)."""

    symbols: np.ndarray
    first: bool
    last: bool
    offset: int
    message: int


class two_stream_tx(gr.sync_block):
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
        stall_timeout=0.5,
        ack_timeout=1.0,
        finish=True,
        tail=512,
        n_prompt_carriers=24,
        max_queue=1024,
        prompt_carousel=False,
        analog_frame_symbols=2400,
        wide_when_idle=False,
        first_seq=0,
        aggregate=1,
    ):
        gr.sync_block.__init__(self, name="gensem_two_stream_tx", in_sig=None, out_sig=[np.complex64])
        self.params = OfdmParams(n_prompt_carriers=int(n_prompt_carriers))
        self.mod = qam.check_m(mod)
        self.prompt_power = self._check_power(prompt_power)
        if not 0 < int(prbs_bytes) <= MAX_S1_BYTES:
            raise ValueError(f"prbs_bytes must be in 1..{MAX_S1_BYTES}")
        if int(prbs_frames) < 0 or int(window) < 0:
            raise ValueError("prbs_frames and window must be >= 0")
        if not 0 < int(analog_frame_symbols) <= MAX_S1_SYMBOLS:
            raise ValueError(f"analog_frame_symbols must be in 1..{MAX_S1_SYMBOLS}")
        self.analog_frame_symbols = int(analog_frame_symbols)
        # packets per stream-1 frame (dsp.aggregation); 1 = one payload per frame, no subframes
        self.aggregate = int(aggregate)
        if self.aggregate < 1:
            raise ValueError("aggregate must be >= 1 packet per frame")
        agg_prbs = int(prbs_frames) > 0 and self.aggregate > 1
        if agg_prbs and self.aggregate * aggregation.subframe_bytes(prbs_bytes) > MAX_S1_BYTES:
            raise ValueError(
                f"{self.aggregate} packets of {int(prbs_bytes)} bytes exceed a frame's {MAX_S1_BYTES} bytes "
                f"(at most {MAX_S1_BYTES // aggregation.subframe_bytes(prbs_bytes)} per frame)"
            )
        self.prbs_packets_sent = 0
        self.frame_log = deque(maxlen=4096)  # (frame, M1, prompt power) of the latest frames
        self.analog_messages = 0
        self.analog_frames_sent = 0
        self.prbs_frames = int(prbs_frames)
        self.prbs_bytes = int(prbs_bytes)
        self.prbs_seed = int(prbs_seed)
        self.window = int(window)
        self.stall_timeout = float(stall_timeout)
        self.ack_timeout = float(ack_timeout)
        self.finish = bool(finish)
        self.tail = int(tail)
        self.max_queue = int(max_queue)
        self.code = ConvCode()
        self.arq = StopAndWaitSender(max_retries, first_seq=first_seq)
        self.prompt_carousel = bool(prompt_carousel)
        self.wide_when_idle = bool(wide_when_idle)
        self._last_prompt = None
        for item in prompts:  # "text", ("text", n_parts) for an image prompt, + colour layout bytes
            args = (item,) if isinstance(item, str) else tuple(item)
            self.arq.submit(*args)
            self._last_prompt = args
        self.adaptive_queue: deque = deque()
        self._pending = np.zeros(0, np.complex64)
        self._tag_offsets: deque = deque()  # (offset in pending stream, seq)
        self.samples_sent = 0  # also the absolute offset of the next output sample
        self._coded_cache: tuple | None = None
        self.frames_sent = 0
        self.prbs_sent = 0
        self.stalls = 0
        self.bad_messages = 0
        self.dropped_pdus = 0
        self._throttled_since = None
        self._done = False
        # hold_end: when all is sent, idle instead of ending the flowgraph, until the caller
        # has seen the receiver's message chain drain (GNU Radio stops message-only blocks
        # when the streams end, dropping PDUs still queued for them)
        self.hold_end = False
        self._subscribed = None
        self.set_min_output_buffer(1 << 16)
        for port, handler in (
            ("prompt", self._on_prompt),
            ("adaptive", self._on_adaptive),
            ("feedback", self._on_feedback),
            ("control", self._on_control),
        ):
            self.message_port_register_in(pmt.intern(port))
            self.set_msg_handler(pmt.intern(port), handler)
        self.message_port_register_out(pmt.intern("events"))

    # ------------------------------------------------------------ message ports
    @staticmethod
    def _check_power(f0):
        f0 = float(f0)
        if not 0.0 <= f0 <= 1.0:
            raise ValueError(f"prompt power fraction must be in [0, 1], got {f0}")
        return f0

    def _bad(self, why: str):
        self.bad_messages += 1
        log.warning("gensem_two_stream_tx: ignored message: %s", why)

    def _on_prompt(self, msg):
        try:
            n_parts = colour = None
            if pmt.is_symbol(msg):
                text = pmt.symbol_to_string(msg)
            else:
                meta, data = parse_pdu(msg)
                if meta.get("binary"):
                    self.submit_bytes(data)
                    return
                text = data.decode("utf-8")
                if meta.get("n_parts") is not None:  # an image prompt: its edge-part count goes on air
                    n_parts = int(meta["n_parts"])
                if meta.get("colour_layout"):  # and its colour layout (base64), if it has one
                    colour = colour_layout.from_meta(meta["colour_layout"])
            self.arq.submit(text, n_parts, colour)
            self._last_prompt = (text, n_parts, colour)
        except (ValueError, UnicodeDecodeError) as exc:
            self._bad(str(exc))

    def submit_bytes(self, data: bytes) -> int:
        """Send raw bytes (1..505) as one stream-0 packet over the ARQ; returns its ARQ seq."""
        return self.arq.submit_bytes(data)

    def queue_analog(self, symbols) -> int:
        """Queue an analog message (complex symbols) for stream 1; returns its frame count
        (0: dropped, the queue is full). Raises ValueError on malformed symbols."""
        sym = np.asarray(symbols)
        if sym.ndim != 1 or not np.iscomplexobj(sym) or sym.size == 0:
            raise ValueError("analog message must be a non-empty 1-D complex array")
        if not np.all(np.isfinite(sym)):
            raise ValueError("analog message has NaN or inf symbols")
        chunks = split_message(sym.astype(np.complex64), self.analog_frame_symbols)
        if len(self.adaptive_queue) + len(chunks) > self.max_queue:
            self.dropped_pdus += 1
            log.warning(
                "gensem_two_stream_tx: adaptive queue full (%d), analog message of %d frames dropped",
                self.max_queue,
                len(chunks),
            )
            return 0
        msg_id = self.analog_messages
        self.analog_messages += 1
        for k, (c, first, last) in enumerate(chunks):
            item = AnalogChunk(c, first, last, k * self.analog_frame_symbols, msg_id)
            self.adaptive_queue.append((item, None))
        return len(chunks)

    def _on_adaptive(self, msg):
        analog = parse_c32_pdu(msg)
        if analog is not None:
            try:
                self.queue_analog(analog[1])
            except ValueError as exc:
                self._bad(str(exc))
            return
        try:
            meta, data = parse_pdu(msg)
            if not 0 < len(data) <= MAX_S1_BYTES:
                raise ValueError(f"payload of {len(data)} bytes outside 1..{MAX_S1_BYTES}")
            mod = qam.check_m(meta["mod"]) if "mod" in meta else None
        except ValueError as exc:
            self._bad(str(exc))
            return
        if len(self.adaptive_queue) >= self.max_queue:
            self.dropped_pdus += 1
            log.warning("gensem_two_stream_tx: adaptive queue full (%d), PDU dropped", self.max_queue)
            return
        self.adaptive_queue.append((data, mod))

    def _on_feedback(self, msg):
        try:
            fb = parse_dict(msg)
            frame_abs = unwrap_frame(int(fb["frame"]), self.frames_sent - 1)
            crc_ok = fb.get("crc_ok")
            seq, session = fb.get("prompt_seq"), fb.get("session")
            self.arq.on_feedback(
                frame_abs,
                None if crc_ok is None else bool(crc_ok),
                None if seq is None else int(seq),
                None if session is None else int(session),
            )
        except (ValueError, KeyError, TypeError) as exc:
            self._bad(f"feedback: {exc}")

    def _on_control(self, msg):
        try:
            ctl = parse_dict(msg)
            if "mod" in ctl:
                self.set_mod(ctl["mod"])
            if "prompt_power" in ctl:
                self.set_prompt_power(ctl["prompt_power"])
        except (ValueError, TypeError) as exc:
            self._bad(f"control: {exc}")

    def set_mod(self, mod):
        self.mod = qam.check_m(mod)

    def set_prompt_power(self, f0):
        self.prompt_power = self._check_power(f0)

    # ------------------------------------------------------------ frame source
    @property
    def finished(self) -> bool:
        return (
            self.finish and self.arq.idle and not self.adaptive_queue and self.prbs_sent >= self.prbs_frames
        )

    def _throttled(self) -> bool:
        if self.window <= 0:
            return False
        in_flight = self.frames_sent - 1 - self.arq.progress
        if in_flight < self.window:
            self._throttled_since = None
            return False
        now = time.monotonic()
        if self._throttled_since is None:
            self._throttled_since = now
            return True
        if now - self._throttled_since > self.stall_timeout:
            self.stalls += 1  # no feedback at all: treat the prompt in flight as lost
            self.arq.expire(now, 0.0)
            self._throttled_since = None
            return False
        return True

    def _next_frame(self):
        n = self.frames_sent
        if self.window <= 0:
            self.arq.expire(time.monotonic(), self.ack_timeout)
        s1, mod, analog, agg = None, self.mod, None, False
        if self.prbs_sent < self.prbs_frames:
            s1, agg = self._prbs_payload(n)
        elif self.adaptive_queue:
            item, m = self.adaptive_queue.popleft()
            if isinstance(item, AnalogChunk):
                analog = item
            else:
                s1, mod = item, m or self.mod
                if self.aggregate > 1:
                    s1, agg = self._aggregate_queued(s1, mod)
        has_s1 = s1 is not None or analog is not None
        if self.prompt_carousel and self._last_prompt is not None and has_s1 and self.arq.idle:
            self.arq.submit(*self._last_prompt)  # carousel: the next image's prompt, while stream 1 runs
        pk = self.arq.packet_for_frame(n)
        if not has_s1 and pk is None:
            if self.arq.current is None or self.window <= 0:
                return None  # nothing to send
            # ARQ waiting for feedback: a header-only frame keeps the frame clock going
        s0_coded, s0_bytes, seq = None, 0, -1
        if pk is not None:
            seq, packet = pk
            if self._coded_cache is None or self._coded_cache[0] != packet:
                self._coded_cache = (packet, encode_prompt_packet(packet, self.code))
            s0_coded, s0_bytes = self._coded_cache[1], len(packet)
        if s1 is not None and self.prbs_sent < self.prbs_frames:
            self.prbs_sent += 1
        kw = {}
        if analog is not None:
            kw = {"s1_analog": analog.symbols, "analog_first": analog.first, "analog_last": analog.last}
            self.analog_frames_sent += 1
        f0 = self.prompt_power
        if self.wide_when_idle and s0_coded is None and s1 is not None:
            f0 = 0.0  # a wide frame: stream 1 on every data carrier (FrameHeader.wide)
        frame = build_frame(self.params, n, mod, f0, s0_coded, s0_bytes, s1, self.code, aggregate=agg, **kw)
        self.frames_sent += 1
        self.frame_log.append((n, 0 if analog is not None else mod, f0))
        if self._subscribed is None:
            self._subscribed = subscribed_ports(self, ("events",))
        if self._subscribed["events"]:
            ev = {
                "event": "frame",
                "frame": n,
                "prompt_seq": seq,
                "mod": 0 if analog is not None else mod,
                "prompt_power": f0,
                "s1_bytes": len(s1 or b""),
                "samples": int(frame.size),
            }
            if analog is not None:
                ev.update(
                    analog=True,
                    s1_symbols=int(analog.symbols.size),
                    offset=analog.offset,
                    message=analog.message,
                )
            self.message_port_pub(pmt.intern("events"), pmt.to_pmt(ev))
        return frame

    def _prbs_payload(self, n: int):
        """BER-tester payload of frame n: one PRBS packet, or ``aggregate`` of them, each
        identified by its subframe offset (``prbs.payload``'s ``offset``)."""
        if self.aggregate == 1:
            self.prbs_packets_sent += 1
            return prbs.payload(self.prbs_seed, n & 0xFFFF, self.prbs_bytes), False
        self.prbs_packets_sent += self.aggregate
        return prbs.aggregated_payload(self.prbs_seed, n & 0xFFFF, self.prbs_bytes, self.aggregate), True

    def _aggregate_queued(self, first: bytes, mod: int):
        """``first`` and the byte PDUs queued behind it with the same modulation, up to
        ``aggregate`` packets and a frame's bytes, as one aggregate (a PDU too large for a
        subframe goes alone, unaggregated)."""
        size = aggregation.subframe_bytes(len(first))
        if size > MAX_S1_BYTES:
            return first, False
        packets = [first]
        q = self.adaptive_queue
        while len(packets) < self.aggregate and q:
            item, m = q[0]
            if isinstance(item, AnalogChunk) or (m or self.mod) != mod:
                break
            more = aggregation.subframe_bytes(len(item))
            if size + more > MAX_S1_BYTES:
                break
            q.popleft()
            packets.append(item)
            size += more
        return aggregation.pack(packets), True

    def work(self, input_items, output_items):
        out = output_items[0]
        while self._pending.size < out.size and not self._done:
            if self.finished:
                self._pending = np.concatenate([self._pending, np.zeros(self.tail, np.complex64)])
                self._done = True
                break
            if self._throttled():
                break
            frame = self._next_frame()
            if frame is None:
                break
            self._tag_offsets.append((self.samples_sent + self._pending.size, self.frames_sent - 1))
            self._pending = np.concatenate([self._pending, frame])
        n = min(out.size, self._pending.size)
        if n == 0:
            if self._done and not self.hold_end:
                return -1
            time.sleep(0.01 if self._done else 0.0005)  # holding the end: idle, leave the CPU to the RX
            return 0
        out[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        while self._tag_offsets and self._tag_offsets[0][0] < self.samples_sent + n:
            off, seq = self._tag_offsets.popleft()
            self.add_item_tag(0, off, FRAME_TAG, pmt.from_long(seq & 0xFFFF))
        self.samples_sent += n
        return n
