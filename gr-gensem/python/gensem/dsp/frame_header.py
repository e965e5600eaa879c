"""Frame header: 48 information bits + CRC-16, K=7 r=1/2 convolutional code, BPSK,
the code word repeated cyclically over the header symbols.

Fields (MSB first): frame seq (16) | M1 index (2) | prompt power fraction q (8, f0 = q/255)
| stream-0 packet bytes (9) | stream-1 payload bytes (13).
The 140 coded bits fill ``n_header_symbols * n_data`` cells (192 by default) and repeated
cells are soft-combined at the receiver; every header is sent at the unit reference
power on all data subcarriers, so M1 and the power split can change from frame to frame
without restarting the flowgraph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .conv_code import ConvCode
from .crc import crc16
from .qam import INDEX_MOD, MOD_INDEX

HEADER_BITS = 64
MAX_S0_BYTES = (1 << 9) - 1
MAX_S1_BYTES = (1 << 13) - 1


@dataclass(frozen=True)
class FrameHeader:
    seq: int
    mod: int
    power_q: int
    s0_bytes: int
    s1_bytes: int

    @property
    def prompt_power_fraction(self) -> float:
        return self.power_q / 255.0

    def to_bits(self) -> np.ndarray:
        if self.mod not in MOD_INDEX:
            raise ValueError(f"unknown modulation order {self.mod}")
        if not 0 <= self.s0_bytes <= MAX_S0_BYTES:
            raise ValueError(f"stream-0 packet of {self.s0_bytes} bytes exceeds {MAX_S0_BYTES}")
        if not 0 <= self.s1_bytes <= MAX_S1_BYTES:
            raise ValueError(f"stream-1 payload of {self.s1_bytes} bytes exceeds {MAX_S1_BYTES}")
        word = (
            ((self.seq & 0xFFFF) << 32)
            | (MOD_INDEX[self.mod] << 30)
            | ((self.power_q & 0xFF) << 22)
            | (self.s0_bytes << 13)
            | self.s1_bytes
        )
        body = word.to_bytes(6, "big")
        full = body + crc16(body).to_bytes(2, "big")
        return np.unpackbits(np.frombuffer(full, np.uint8))

    @classmethod
    def from_bits(cls, bits: np.ndarray) -> FrameHeader | None:
        """Parse 64 hard bits; None when the CRC fails."""
        raw = np.packbits(np.asarray(bits, dtype=np.uint8)[:HEADER_BITS]).tobytes()
        body, crc = raw[:6], int.from_bytes(raw[6:8], "big")
        if crc16(body) != crc:
            return None
        word = int.from_bytes(body, "big")
        return cls(
            seq=(word >> 32) & 0xFFFF,
            mod=INDEX_MOD[(word >> 30) & 0x3],
            power_q=(word >> 22) & 0xFF,
            s0_bytes=(word >> 13) & 0x1FF,
            s1_bytes=word & 0x1FFF,
        )


def quantize_power(f0: float) -> int:
    return int(round(float(np.clip(f0, 0.0, 1.0)) * 255))


def _positions(n_coded: int) -> np.ndarray:
    """Cell i carries coded bit i mod 140 (the code word repeated cyclically)."""
    n = ConvCode.coded_len(HEADER_BITS)
    if n_coded < n:
        raise ValueError(f"header needs at least {n} coded cells, got {n_coded}")
    return np.arange(n_coded) % n


def encode(header: FrameHeader, n_coded: int, code: ConvCode) -> np.ndarray:
    """64 header bits -> K=7 r=1/2 code (140 bits) -> repeated to fill ``n_coded`` cells."""
    coded = code.encode(header.to_bits())
    return coded[_positions(n_coded)]


def decode(soft: np.ndarray, code: ConvCode) -> FrameHeader | None:
    """Soft-combine repeated cells (positive = 1), Viterbi-decode, check the CRC."""
    soft = np.asarray(soft, dtype=np.float64)
    comb = np.bincount(_positions(soft.size), weights=soft)
    comb = comb / max(np.mean(np.abs(comb)), 1e-30)  # nominal amplitude ~1 for gr-fec
    return FrameHeader.from_bits(code.decode(comb.astype(np.float32), HEADER_BITS))
