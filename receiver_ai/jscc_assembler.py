"""CDM-JSCC images from bridge messages (schema v2 streams ``side`` and ``analog``).

Stream 0 delivers an image's side information as ARQ packets (``side``, in ARQ order, one
container per image: ``gensem.core.jscc_container``); stream 1 delivers its JSCC symbols as
analog frames (``analog``; the ``first`` / ``last`` flags delimit one image's run of frames,
frames lost on the air leave zero-filled gaps: ``gensem.core.analog_assembler``). The
assembler pairs the n-th complete container with the n-th run of frames (the TX sends
images one after another on both streams) and emits a ``JsccImage``; a run whose first and
last frames show a symbol count other than the container's is not that image's and is
dropped (``mismatch``: its own side information was lost).

Robustness (counters in ``counters``): a gap in the ARQ sequence (the TX gave up on a
packet) drops the container being built (``side_gap``); packets that do not start a
container while none is open are skipped (``side_orphan``); malformed containers
(``side_bad``); a run whose container never comes within ``timeout_s`` is dropped
(``runs_unpaired``); a container whose frames never come is delivered with every symbol
lost (``partial``: the decoder still gives the hyperprior's image), unless
``emit_partial=False``; a run longer than ``max_frames`` is cut (``run_overflow``); a full
queue of complete containers drops its oldest (``evicted``).
Every queue is bounded. Imports neither GNU Radio nor torch.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np
from gensem.core import jscc_container
from gensem.core.analog_assembler import SEQ_MOD, AnalogAssembler, AnalogFrame
from gensem.core.bridge_schema import BridgeMessage

ARQ_SEQ_MOD = 1 << 16  # gensem.dsp.arq.SEQ_MOD (that module imports GNU Radio's fec)


@dataclass
class JsccImage:
    """One image's received side information and (zero-filled) JSCC symbols."""

    image_id: int
    side_info: bytes
    symbols: np.ndarray  # complex64, zeros where frames were lost
    lost_symbols: int
    lost_ranges: list
    frames: int  # analog frames placed
    side_packets: int
    snr_db: float | None  # stream-1 SNR estimate of the delivered symbols (from noise_var1)
    first_seen: float  # receiver clock (time.monotonic)
    completed: float
    partial: str | None = None  # why the image is incomplete (None: complete)
    facts: dict = field(default_factory=dict)

    @property
    def assembly_s(self) -> float:
        return self.completed - self.first_seen


@dataclass
class _Container:
    blob: bytearray
    next_seq: int
    first_seen: float
    last_seen: float
    packets: int = 0


@dataclass
class _Run:
    frames: list
    first_seen: float
    last_seen: float
    closed: float | None = None


class JsccAssembler:
    """Pairs stream-0 containers with stream-1 runs of analog frames (see the module doc)."""

    COUNTER_KEYS = (
        "completed",
        "partial",
        "side_packets",
        "side_gap",
        "side_orphan",
        "side_bad",
        "analog_frames",
        "runs_unpaired",
        "mismatch",
        "run_overflow",
        "evicted",
        "timeouts",
        "frame_reports",
        "ignored",
    )

    def __init__(
        self,
        timeout_s: float = 10.0,
        max_pending: int = 8,
        max_frames: int = 4096,
        clock=time.monotonic,
        emit_partial: bool = True,
    ):
        if timeout_s <= 0 or max_pending < 1 or max_frames < 1:
            raise ValueError("timeout_s must be > 0, max_pending and max_frames >= 1")
        self.timeout_s = float(timeout_s)
        self.max_frames = int(max_frames)
        self.clock = clock
        self.emit_partial = bool(emit_partial)
        self.counters = Counter()
        self._open: _Container | None = None
        self._containers: deque = deque(maxlen=int(max_pending))  # (side, n_sym, first_seen, packets)
        self._run: _Run | None = None
        self._runs: deque = deque(maxlen=int(max_pending))
        self._next_id = 0
        self.partial: deque[JsccImage] = deque(maxlen=32)
        self.timed_out: deque = deque(maxlen=32)
        self.last_frame: BridgeMessage | None = None

    @property
    def pending(self) -> list:
        """What waits for its other half: complete containers and closed runs."""
        return list(self._containers) + list(self._runs)

    def add(self, msg: BridgeMessage) -> JsccImage | None:
        if msg.stream == "side":
            self._on_side(msg)
        elif msg.stream == "analog":
            self._on_analog(msg)
        elif msg.stream == "frame":
            self.counters["frame_reports"] += 1
            self.last_frame = msg
            return None
        else:  # prompt / edge: the other system's streams
            self.counters["ignored"] += 1
            return None
        return self._pair()

    # stream 0 ------------------------------------------------------------------------
    def _on_side(self, msg: BridgeMessage):
        self.counters["side_packets"] += 1
        now = self.clock()
        c = self._open
        if c is not None and msg.seq != c.next_seq:
            self.counters["side_gap"] += 1  # the ARQ gave up on a packet: this container is lost
            self._open = c = None
        if c is None:
            if not msg.payload.startswith(jscc_container.PREFIX):
                self.counters["side_orphan"] += 1
                return
            c = self._open = _Container(bytearray(), msg.seq, now, now)
        c.last_seen = now
        c.blob += msg.payload
        c.packets += 1
        c.next_seq = (msg.seq + 1) % ARQ_SEQ_MOD
        try:
            head = jscc_container.header(c.blob)
            if head is None or len(c.blob) < jscc_container.HEAD.size + head[0]:
                return
            side, n_sym = jscc_container.unpack(c.blob)
        except jscc_container.ContainerError:
            self.counters["side_bad"] += 1
            self._open = None
            return
        self._open = None
        if len(self._containers) == self._containers.maxlen:
            self.counters["evicted"] += 1  # the oldest waiting container makes room
        self._containers.append((side, n_sym, c.first_seen, c.packets))

    # stream 1 ------------------------------------------------------------------------
    def _on_analog(self, msg: BridgeMessage):
        self.counters["analog_frames"] += 1
        now = self.clock()
        meta = msg.meta
        nv = meta.get("noise_var1")
        frame = AnalogFrame(
            msg.seq % SEQ_MOD,
            bool(meta.get("first")),
            bool(meta.get("last")),
            np.frombuffer(msg.payload, "<c8").astype(np.complex64),
            float(nv) if isinstance(nv, (int, float)) and not isinstance(nv, bool) else math.nan,
        )
        if frame.first and self._run is not None:  # the previous run's last frame was lost
            self._close_run(now)
        if self._run is None:
            self._run = _Run([], now, now)
        if len(self._run.frames) >= self.max_frames:
            self.counters["run_overflow"] += 1
            self._close_run(now)
            self._run = _Run([], now, now)
        self._run.frames.append(frame)
        self._run.last_seen = now
        if frame.last:
            self._close_run(now)

    def _close_run(self, now: float):
        run, self._run = self._run, None
        if run is None or not run.frames:
            return
        run.closed = now
        if len(self._runs) == self._runs.maxlen:
            self.counters["runs_unpaired"] += 1
        self._runs.append(run)

    # pairing -------------------------------------------------------------------------
    @staticmethod
    def _run_symbols(run: _Run) -> int | None:
        """The run's symbol count when its first and last frames are both in, else None:
        (frames spanned - 1) x K + the last frame's count."""
        first = next((f for f in run.frames if f.first), None)
        last = next((f for f in run.frames if f.last), None)
        if first is None or last is None:
            return None
        span = (last.seq - first.seq) % SEQ_MOD
        return span * first.symbols.size + last.symbols.size if span else last.symbols.size

    def _pair(self) -> JsccImage | None:
        while self._containers and self._runs:
            side, n_sym, first_seen, packets = self._containers[0]
            run = self._runs.popleft()
            have = self._run_symbols(run)
            if have is not None and have != n_sym:
                # not this container's symbols: an image whose side information was lost
                self.counters["mismatch"] += 1
                continue
            self._containers.popleft()
            self.counters["completed"] += 1
            return self._image(side, n_sym, packets, min(first_seen, run.first_seen), run.frames, None)
        return None

    def _image(self, side, n_sym, packets, first_seen, frames, partial) -> JsccImage:
        asm = AnalogAssembler(n_sym)
        for f in frames:
            asm.add(f)
        m = asm.assemble()
        image_id, self._next_id = self._next_id, self._next_id + 1
        return JsccImage(
            image_id=image_id,
            side_info=side,
            symbols=m.symbols,
            lost_symbols=int(m.lost_symbols),
            lost_ranges=[tuple(map(int, r)) for r in m.lost_ranges],
            frames=int(m.frames),
            side_packets=int(packets),
            snr_db=None if not math.isfinite(m.snr_db) else float(m.snr_db),
            first_seen=first_seen,
            completed=self.clock(),
            partial=partial,
            facts={"frames_unplaced": int(m.frames_unplaced)},
        )

    def expire(self, now: float | None = None) -> list[dict]:
        """Close, drop or deliver (partially) what waited longer than ``timeout_s``.

        An open run or container times out ``timeout_s`` after its latest piece, a closed run
        ``timeout_s`` after it was closed, a complete container ``timeout_s`` after its first
        packet."""
        now = self.clock() if now is None else now
        out = []
        run = self._run
        if run is not None and now - run.last_seen >= self.timeout_s:  # its last frame was lost
            self._close_run(now)
            img = self._pair()
            if img is not None:
                self.partial.append(img)  # complete but found here: delivered the same way
        c = self._open
        if c is not None and now - c.last_seen >= self.timeout_s:
            self._open = None
            self.counters["timeouts"] += 1
            out.append(
                {
                    "what": "side information incomplete",
                    "packets": c.packets,
                    "age_s": round(now - c.first_seen, 3),
                }
            )
        while self._runs and now - self._runs[0].closed >= self.timeout_s:
            r = self._runs.popleft()
            self.counters["runs_unpaired"] += 1
            out.append(
                {
                    "what": "symbols without side information",
                    "frames": len(r.frames),
                    "age_s": round(now - r.first_seen, 3),
                }
            )
        while self._containers and now - self._containers[0][2] >= self.timeout_s:
            side, n_sym, first_seen, packets = self._containers.popleft()
            self.counters["timeouts"] += 1
            rec = {
                "what": "side information without symbols",
                "symbols": n_sym,
                "age_s": round(now - first_seen, 3),
            }
            if self.emit_partial:
                self.counters["partial"] += 1
                rec["delivered_partial"] = True
                self.partial.append(self._image(side, n_sym, packets, first_seen, [], "no symbols arrived"))
            out.append(rec)
        for rec in out:
            self.timed_out.append(rec)
        return out
