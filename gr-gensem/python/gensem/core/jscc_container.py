"""The stream-0 container of one CDM-JSCC image (what the ARQ carries), numpy-free and GNU
Radio-free: the radio side cuts it into ARQ packets, the remote receiver (``receiver_ai``)
and the loopback put it back together.

Layout (big endian): ``GJ`` | version 1 | side-information bytes (u16) | JSCC symbol count
(u32) | side information (``gensem.core.cdm_jscc.side_info``, with its own CRC-32).
"""

from __future__ import annotations

import struct

HEAD = struct.Struct(">2sBHI")
MAGIC, VERSION = b"GJ", 1
PREFIX = MAGIC + bytes([VERSION])  # how the first packet of a container starts
MAX_SIDE_INFO_BYTES = (1 << 16) - 1
MAX_SYMBOLS = 1 << 22


class ContainerError(ValueError):
    """A stream-0 blob that is not a CDM-JSCC container."""


def pack(side_info: bytes, n_symbols: int) -> bytes:
    if len(side_info) > MAX_SIDE_INFO_BYTES:
        raise ValueError(
            f"side_info of {len(side_info)} bytes exceeds {MAX_SIDE_INFO_BYTES}; split the image"
        )
    if not 0 < n_symbols <= MAX_SYMBOLS:
        raise ValueError(f"symbol count must be in 1..{MAX_SYMBOLS}, got {n_symbols}")
    return HEAD.pack(MAGIC, VERSION, len(side_info), n_symbols) + bytes(side_info)


def fragment(side_info: bytes, n_symbols: int, max_packet: int) -> list[bytes]:
    """The container cut into ARQ packet payloads of at most ``max_packet`` bytes."""
    blob = pack(side_info, n_symbols)
    return [blob[i : i + max_packet] for i in range(0, len(blob), max_packet)]


def header(blob: bytes) -> tuple[int, int] | None:
    """(side-info bytes, symbol count) from the start of a container; None if too short yet.
    Raises ContainerError when the start is not a container."""
    if len(blob) < HEAD.size:
        return None
    magic, ver, n_side, n_sym = HEAD.unpack_from(blob)
    if magic != MAGIC or ver != VERSION:
        raise ContainerError(f"not a CDM-JSCC container (starts {bytes(blob[:3])!r})")
    if not 0 < n_sym <= MAX_SYMBOLS:
        raise ContainerError(f"container announces {n_sym} symbols; at most {MAX_SYMBOLS}")
    return n_side, n_sym


def unpack(blob: bytes) -> tuple[bytes, int]:
    """(side information, symbol count) of a whole container; ContainerError otherwise."""
    head = header(blob)
    if head is None:
        raise ContainerError(f"container of {len(blob)} bytes is shorter than its header")
    if len(blob) != HEAD.size + head[0]:
        raise ContainerError(f"container is {len(blob)} bytes, its header says {HEAD.size + head[0]}")
    return bytes(blob[HEAD.size :]), head[1]
