"""Receiver side of analog stream-1 messages: frames back in order, lost ranges zero-filled.

The TX (``gensem_two_stream_tx``) splits one analog message into frames with consecutive
frame seqs; every frame but the last carries the same number K of symbols, and the
header flags mark the first and the last frame (``frame_header``). A frame's symbol
offset is therefore (seq - seq_first) * K, and the last frame ends the message (offset
N - count when the length N is known, e.g. from the side information on stream 0).

Frames lost to a header CRC failure leave zero-filled gaps, reported as ``lost_ranges``.
Anchoring: on the first frame, else on the last one (needs N); when both are lost the
other frames cannot be placed and count as lost too (``frames_unplaced``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SEQ_MOD = 1 << 16


@dataclass
class AnalogFrame:
    seq: int
    first: bool
    last: bool
    symbols: np.ndarray
    noise_var: float = math.nan  # expected error variance of these symbols (RX estimate)


@dataclass
class AnalogMessage:
    symbols: np.ndarray  # complex64, zeros where frames were lost
    lost_symbols: int
    lost_ranges: list = field(default_factory=list)  # [(start, stop)), symbol indices
    frames: int = 0  # frames placed
    frames_unplaced: int = 0  # received but not placeable (no anchor, inconsistent)
    noise_var: float = math.nan  # symbol-weighted mean over the placed frames
    length_known: bool = True  # False: N was not given and the last frame was lost

    @property
    def snr_db(self) -> float:
        nv = self.noise_var
        return float(-10 * math.log10(nv)) if nv > 0 and math.isfinite(nv) else math.nan


class AnalogAssembler:
    """Collect the frames of one analog message (``add``), then ``assemble()``."""

    def __init__(self, n_symbols: int | None = None):
        if n_symbols is not None and int(n_symbols) < 0:
            raise ValueError("n_symbols must be >= 0")
        self.n_symbols = None if n_symbols is None else int(n_symbols)
        self._frames: dict[int, AnalogFrame] = {}

    def add(self, frame: AnalogFrame):
        """Store one received frame (a duplicate seq keeps the first copy)."""
        self._frames.setdefault(int(frame.seq) % SEQ_MOD, frame)

    def assemble(self) -> AnalogMessage:
        frames = sorted(self._frames.values(), key=lambda f: f.seq)
        first = next((f for f in frames if f.first), None)
        last = next((f for f in frames if f.last), None)
        full = [f.symbols.size for f in frames if not f.last]
        k = full[0] if full else None
        n = self.n_symbols
        s0 = None
        if first is not None:
            s0 = first.seq
        elif last is not None and n is not None and k:
            s0 = (last.seq - (max(-(-n // k), 1) - 1)) % SEQ_MOD
        placed = []
        for f in frames:
            cnt = f.symbols.size
            if f.last and n is not None:
                off = n - cnt
            elif s0 is None:
                continue
            else:
                off = ((f.seq - s0) % SEQ_MOD) * (k or 0)
                if not f.last and cnt != k:
                    continue
            placed.append((off, f))
        length_known = n is not None
        if n is None:
            ends = [off + f.symbols.size for off, f in placed]
            n = max(ends, default=0)
            length_known = last is not None and any(f is last for _, f in placed)
        out = np.zeros(n, np.complex64)
        covered = np.zeros(n, bool)
        used, nv_sum, nv_n = 0, 0.0, 0
        for off, f in placed:
            cnt = f.symbols.size
            if off < 0 or off + cnt > n or covered[off : off + cnt].any():
                continue
            out[off : off + cnt] = f.symbols
            covered[off : off + cnt] = True
            used += 1
            if math.isfinite(f.noise_var):
                nv_sum += f.noise_var * cnt
                nv_n += cnt
        return AnalogMessage(
            symbols=out,
            lost_symbols=int(n - covered.sum()),
            lost_ranges=_runs(~covered),
            frames=used,
            frames_unplaced=len(frames) - used,
            noise_var=nv_sum / nv_n if nv_n else math.nan,
            length_known=length_known,
        )


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def split_message(symbols: np.ndarray, frame_symbols: int) -> list[tuple[np.ndarray, bool, bool]]:
    """TX side: (chunk, first, last) per frame, every chunk but the last ``frame_symbols`` long."""
    n = symbols.size
    if n == 0 or frame_symbols < 1:
        raise ValueError("an analog message needs >= 1 symbol and frame_symbols >= 1")
    starts = range(0, n, frame_symbols)
    return [(symbols[s : s + frame_symbols], s == 0, s + frame_symbols >= n) for s in starts]
