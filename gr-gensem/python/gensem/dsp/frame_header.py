"""Frame header: 48 information bits + CRC-16, K=7 r=1/2 convolutional code, BPSK,
the code word repeated cyclically over the header symbols.

Fields (MSB first): frame seq (16) | M1 index (2) | prompt power fraction q (8, f0 = q/255)
| stream-0 packet bytes (9) | stream-1 payload bytes (13).
The 140 coded bits fill ``n_header_symbols * n_data`` cells (192 by default) and repeated
cells are soft-combined at the receiver; every header is sent at the unit reference
power on all data subcarriers, so M1 and the power split can change from frame to frame
without restarting the flowgraph.

Analog frames (stream 1 carries complex JSCC symbols, no bits, no QAM) keep the same 48
bits and mark themselves by the CRC: the CRC-16 is sent XOR ``ANALOG_CRC_MASK`` (as
LTE/NR scramble a control channel's CRC with the RNTI). The receiver checks both
hypotheses, so QAM headers are bit-exact as before and no field loses a bit; the cost
is one bit of false-accept margin (2^-15 instead of 2^-16 per wrong decode). In an
analog header the M1 field holds two flags (bit 1 = first, bit 0 = last frame of an
analog message) and the s1 field counts **symbols** (1..8191), not bytes.

Aggregated frames (``FrameHeader.aggregate``: stream 1 carries several packets, each with
its own delimiter and CRC-32, ``dsp.aggregation``) are marked the same way, by
``AGGREGATE_CRC_MASK``: three hypotheses, so a wrong decode is accepted with odds 3 x 2^-16.

Wide frames (``FrameHeader.wide``): a QAM header with s0 = 0 and q = 0 puts stream 1 on all
48 data carriers (B0 and B1) at unit power, for links whose prompt stream is idle.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from gensem.dsp.conv_code import ConvCode
from gensem.dsp.crc import crc16
from gensem.dsp.qam import INDEX_MOD, MOD_INDEX

HEADER_BITS = 64
MAX_S0_BYTES = (1 << 9) - 1
MAX_S1_BYTES = (1 << 13) - 1
MAX_S1_SYMBOLS = MAX_S1_BYTES  # analog frames: the s1 field counts symbols
ANALOG_CRC_MASK = 0xA5C3  # CRC-16 XOR this marks an analog frame
AGGREGATE_CRC_MASK = 0x3C5A  # CRC-16 XOR this marks an aggregated QAM frame
ANALOG_MOD = 0  # ``mod`` of an analog header (no QAM)
CRC_SYNDROMES = (0, ANALOG_CRC_MASK, AGGREGATE_CRC_MASK)  # a header's CRC XOR one of these


@dataclass(frozen=True)
class FrameHeader:
    seq: int
    mod: int
    power_q: int
    s0_bytes: int
    s1_bytes: int  # analog frames: stream-1 symbols
    analog: bool = False
    first: bool = False  # analog only: first / last frame of an analog message
    last: bool = False
    aggregate: bool = False  # QAM only: stream 1 carries aggregated packets (dsp.aggregation)

    @property
    def prompt_power_fraction(self) -> float:
        return self.power_q / 255.0

    @property
    def wide(self) -> bool:
        """A QAM frame with no stream-0 packet and no power for it (q = 0): stream 1 then
        spans every data carrier, B0 and B1, at unit power (frame efficiency when the
        prompt stream is idle). No field is spent on it: q = 0 with s0 = 0 said "all power
        on stream 1" before, and now also "and all carriers"."""
        return not self.analog and self.s0_bytes == 0 and self.power_q == 0

    def to_bits(self) -> np.ndarray:
        if self.analog:
            m_bits = (int(self.first) << 1) | int(self.last)
        elif self.mod not in MOD_INDEX:
            raise ValueError(f"unknown modulation order {self.mod}")
        else:
            m_bits = MOD_INDEX[self.mod]
        if not 0 <= self.s0_bytes <= MAX_S0_BYTES:
            raise ValueError(f"stream-0 packet of {self.s0_bytes} bytes exceeds {MAX_S0_BYTES}")
        if not 0 <= self.s1_bytes <= MAX_S1_BYTES:
            raise ValueError(f"stream-1 payload of {self.s1_bytes} bytes exceeds {MAX_S1_BYTES}")
        word = (
            ((self.seq & 0xFFFF) << 32)
            | (m_bits << 30)
            | ((self.power_q & 0xFF) << 22)
            | (self.s0_bytes << 13)
            | self.s1_bytes
        )
        body = word.to_bytes(6, "big")
        if self.analog and self.aggregate:
            raise ValueError("an analog frame cannot carry aggregated packets")
        mask = ANALOG_CRC_MASK if self.analog else AGGREGATE_CRC_MASK if self.aggregate else 0
        crc = crc16(body) ^ mask
        full = body + crc.to_bytes(2, "big")
        return np.unpackbits(np.frombuffer(full, np.uint8))

    @classmethod
    def from_bits(cls, bits: np.ndarray) -> FrameHeader | None:
        """Parse 64 hard bits; None when the CRC fails (under every mask)."""
        raw = np.packbits(np.asarray(bits, dtype=np.uint8)[:HEADER_BITS]).tobytes()
        body, crc = raw[:6], int.from_bytes(raw[6:8], "big")
        return cls.from_word(int.from_bytes(body, "big"), crc16(body) ^ crc)

    @classmethod
    def from_word(cls, word: int, syndrome: int) -> FrameHeader | None:
        """The header of a 48-bit word whose CRC-16 syndrome (computed CRC XOR received)
        is ``syndrome``; None unless the syndrome is one of the masks (0, analog,
        aggregate). The compiled receiver computes both in its header kernel."""
        if syndrome not in CRC_SYNDROMES:
            return None
        analog = syndrome == ANALOG_CRC_MASK
        m_bits = (word >> 30) & 0x3
        return cls(
            seq=(word >> 32) & 0xFFFF,
            mod=ANALOG_MOD if analog else INDEX_MOD[m_bits],
            power_q=(word >> 22) & 0xFF,
            s0_bytes=(word >> 13) & 0x1FF,
            s1_bytes=word & 0x1FFF,
            analog=analog,
            first=analog and bool(m_bits & 2),
            last=analog and bool(m_bits & 1),
            aggregate=syndrome == AGGREGATE_CRC_MASK,
        )


def quantize_power(f0: float) -> int:
    return int(round(float(np.clip(f0, 0.0, 1.0)) * 255))


@lru_cache(maxsize=16)
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
