"""Pseudo-random test payloads for BER measurement (a software bit-error-rate tester).

Transmitter and receiver derive the payload of frame ``seq`` from ``(seed, seq)``, so the
receiver can count bit errors without any side channel.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from gensem.dsp import aggregation

_TABLE_BYTES = 1 << 20


@lru_cache(maxsize=8)
def _table(seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 0x6E5E])
    return rng.integers(0, 256, _TABLE_BYTES + (1 << 13), dtype=np.uint8)


def payload(seed: int, frame_seq: int, n_bytes: int, offset: int = 0) -> bytes:
    """Bytes of frame ``frame_seq``: a window of a seeded 1 MiB random table at an offset
    set by the frame number (distinct for every 16-bit frame number). ``offset``: an
    aggregated frame's packet, by its subframe's byte offset (dsp.aggregation)."""
    off = ((int(frame_seq) & 0xFFFF) * 8191 + 131 * int(offset)) % _TABLE_BYTES
    return _table(int(seed))[off : off + int(n_bytes)].tobytes()


def aggregated_payload(seed: int, frame_seq: int, n_bytes: int, count: int) -> bytes:
    """Frame ``frame_seq``'s aggregate of ``count`` PRBS packets of ``n_bytes`` each
    (``dsp.aggregation``), packet k taken at the offset of its subframe, which the receiver
    reports with it (``packet_offset``): the reference ``payload`` of each packet."""
    step = aggregation.subframe_bytes(n_bytes)
    return aggregation.pack([payload(seed, frame_seq, n_bytes, offset=k * step) for k in range(int(count))])


def count_bit_errors(a: bytes, b: bytes) -> int:
    x = np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)
    return int(np.unpackbits(x).sum())
