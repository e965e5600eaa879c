"""Side information of one CDM-JSCC image as bytes (what stream 0 carries, with CRC + ARQ).

Layout (big endian): magic ``CJ`` | version | H, W (uint16) | z_h, z_w (uint8) | unit,
max_len (uint8) | z-string length (uint32) | [version 2: colour-layout length (uint16), flags
(uint8; bit 0: the lengths are deflated)] | the hyper-latent z as the EntropyBottleneck string
(empty for a model whose f_d does not use it) | the per-vector lengths k_i as levels
k_i / unit - 1, two per byte (4 bits; 1 per byte when there are more than 16 levels), zlib-
deflated when that is shorter (they are far from uniform: 768 bytes -> ~270 for a 768 x 512
photo) | [version 2: the colour layout, ``gensem.core.colour_layout``] | CRC-32 of everything
before it.

``pack`` writes version 2; ``unpack`` also reads version 1 (no colour layout, lengths never
deflated). ``unpack`` checks every field and raises ``SideInfoError`` (a ``ValueError``) with
one line saying what is wrong.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

MAGIC, VERSION = b"CJ", 2
_HEAD = struct.Struct(">2sBHHBBBBI")
_V2 = struct.Struct(">HB")  # colour-layout length, flags
DEFLATED = 0x01
MAX_COLOUR_BYTES = (1 << 16) - 1


class SideInfoError(ValueError):
    """Corrupted or inconsistent side information."""


def pack(z_string: bytes, z_hw, image_hw, lengths, unit: int, max_len: int, colour: bytes = b"") -> bytes:
    """The side information (version 2), with the colour layout ``colour`` when given."""
    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
    levels = lengths // unit - 1
    if ((lengths % unit) != 0).any() or levels.min(initial=0) < 0 or lengths.max(initial=0) > max_len:
        raise ValueError(f"lengths must be multiples of {unit} in [{unit}, {max_len}]")
    colour = bytes(colour)
    if len(colour) > MAX_COLOUR_BYTES:
        raise ValueError(f"colour layout of {len(colour)} bytes exceeds {MAX_COLOUR_BYTES}")
    n_levels = max_len // unit
    if n_levels <= 16:
        padded = np.append(levels, 0) if len(levels) % 2 else levels
        body = (padded[0::2] << 4 | padded[1::2]).astype(np.uint8).tobytes()
    else:
        body = levels.astype(np.uint8).tobytes()
    flags = 0
    packed = zlib.compress(body, 9)
    if len(packed) < len(body):
        body, flags = packed, DEFLATED
    head = _HEAD.pack(MAGIC, VERSION, *image_hw, *z_hw, unit, max_len, len(z_string)) + _V2.pack(len(colour), flags)
    data = head + bytes(z_string) + body + colour
    return data + struct.pack(">I", zlib.crc32(data))


def unpack(data: bytes, stride: int) -> dict:
    """Parse side information for a model whose latent has ``stride`` (g_e downsampling).
    ``colour`` in the result is the colour layout's bytes (b"" in version 1)."""
    data = bytes(data)
    if len(data) < _HEAD.size + 4:
        raise SideInfoError(f"side information too short ({len(data)} bytes)")
    if struct.unpack(">I", data[-4:])[0] != zlib.crc32(data[:-4]):
        raise SideInfoError("side information CRC mismatch (corrupted on the way)")
    magic, version, h, w, zh, zw, unit, max_len, zlen = _HEAD.unpack(data[: _HEAD.size])
    if magic != MAGIC or version not in (1, 2):
        raise SideInfoError(f"not CDM-JSCC side information (magic {magic!r}, version {version})")
    start, n_colour, flags = _HEAD.size, 0, 0
    if version == 2:
        if len(data) < start + _V2.size + 4:
            raise SideInfoError(f"side information too short ({len(data)} bytes)")
        n_colour, flags = _V2.unpack_from(data, start)
        start += _V2.size
        if flags & ~DEFLATED:
            raise SideInfoError(f"side information has unknown flags 0x{flags:02x}")
    if h % (4 * stride) or w % (4 * stride) or (zh, zw) != (h // stride // 4, w // stride // 4):
        raise SideInfoError(f"side information for a {w}x{h} image does not fit this model (stride {stride})")
    if unit < 1 or max_len % unit:
        raise SideInfoError(f"bad length unit {unit} / max_len {max_len}")
    n = (h // stride) * (w // stride)
    n_levels = max_len // unit
    body = data[start + zlen : len(data) - 4 - n_colour]
    need = (n + 1) // 2 if n_levels <= 16 else n
    if flags & DEFLATED:
        d = zlib.decompressobj()
        try:
            body = d.decompress(body, need + 1)  # bounded: never more than the lengths can be
        except zlib.error:
            raise SideInfoError("side information lengths do not inflate (corrupted)") from None
        if not d.eof or d.unconsumed_tail or d.unused_data:
            raise SideInfoError("side information lengths inflate to more or less than the image needs")
    if len(body) != need:
        raise SideInfoError(f"side information has {len(body)} length bytes, expected {need}")
    raw = np.frombuffer(body, dtype=np.uint8).astype(np.int64)
    levels = np.stack([raw >> 4, raw & 15], axis=1).reshape(-1)[:n] if n_levels <= 16 else raw
    if levels.max(initial=0) >= n_levels:
        raise SideInfoError("side information holds a length beyond max_len")
    return {
        "image_hw": (h, w),
        "z_hw": (zh, zw),
        "z_string": data[start : start + zlen],
        "lengths": (levels + 1) * unit,
        "unit": unit,
        "max_len": max_len,
        "colour": data[len(data) - 4 - n_colour : len(data) - 4],
    }
