"""Packet aggregation on stream 1: several packets behind one preamble and header.

A frame costs a preamble (STS + LTS, 240 samples), four header symbols (320) and a gap
(64) whatever it carries, so one 256-byte QPSK packet per frame spends 26 % of its air
time on them (docs/phy.md). An aggregated frame carries up to ``MAX_S1_BYTES`` of subframes,
each one packet that is checked and delivered on its own, as in IEEE 802.11n's A-MPDU:

    subframe = delimiter (4 bytes) | packet | CRC-32 of packet (4 bytes) | 0-3 pad bytes
    delimiter = length (16 bits, big-endian, 1..8191) | CRC-8 of length | 0x4E

The pad keeps every delimiter on a 4-byte boundary. A packet whose CRC-32 fails is still
handed on, flagged (a BER tester counts its bits; a consumer drops it); a delimiter
damaged by bit errors is found again by scanning the following 4-byte boundaries for a
valid one (signature and CRC-8: a false match has odds 2^-16 per boundary), so one bad
delimiter loses one packet, not the rest of the frame. The frame header marks an
aggregated frame by its CRC mask (``frame_header.AGGREGATE_CRC_MASK``); frames without it
are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from gensem.dsp.crc import crc32

SIGNATURE = 0x4E
DELIMITER_BYTES = 4
CRC_BYTES = 4
OVERHEAD_BYTES = DELIMITER_BYTES + CRC_BYTES  # per packet, before padding
MAX_PACKET_BYTES = (1 << 13) - 1


def _crc8(data: bytes) -> int:
    """CRC-8, polynomial x^8 + x^2 + x + 1 (0x07), initial value 0xFF, not reflected."""
    c = 0xFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = ((c << 1) ^ 0x07) & 0xFF if c & 0x80 else (c << 1) & 0xFF
    return c


@cache
def _crc8_table() -> bytes:
    """CRC-8 of every length field a frame can carry (computed once)."""
    return bytes(_crc8(n.to_bytes(2, "big")) for n in range(MAX_PACKET_BYTES + 1))


def subframe_bytes(packet_bytes: int) -> int:
    """Air bytes of one packet in an aggregate, delimiter, CRC and pad included."""
    n = DELIMITER_BYTES + int(packet_bytes) + CRC_BYTES
    return n + (-n) % 4


def delimiter(length: int) -> bytes:
    if not 0 < length <= MAX_PACKET_BYTES:
        raise ValueError(f"aggregated packet of {length} bytes outside 1..{MAX_PACKET_BYTES}")
    return length.to_bytes(2, "big") + bytes((_crc8_table()[length], SIGNATURE))


def pack(packets) -> bytes:
    """Subframes of ``packets`` (non-empty bytes objects), concatenated."""
    out = bytearray()
    for pk in packets:
        pk = bytes(pk)
        out += delimiter(len(pk))
        out += pk
        out += crc32(pk).to_bytes(4, "big")
        out += bytes((-len(out)) % 4)
    return bytes(out)


def valid_delimiter(buf: bytes, pos: int) -> int:
    """Length announced by a valid delimiter at ``pos``, else 0."""
    if pos + DELIMITER_BYTES > len(buf) or buf[pos + 3] != SIGNATURE:
        return 0
    length = (buf[pos] << 8) | buf[pos + 1]
    if not 0 < length <= MAX_PACKET_BYTES or buf[pos + 2] != _crc8_table()[length]:
        return 0
    return length


@dataclass
class Unpacked:
    packets: list  # [(offset, packet bytes, crc_ok)], offset = the subframe's first byte in the aggregate
    delimiter_errors: int = 0  # 4-byte boundaries skipped while resynchronising


def unpack(buf: bytes) -> Unpacked:
    """Split an aggregate back into packets. A subframe that runs past the end of ``buf``
    is not a packet (its delimiter was damaged into a wrong length): resynchronise. Each
    packet comes with its subframe's byte offset, which identifies it even after a lost
    delimiter (the BER tester derives its reference payload from it)."""
    buf = bytes(buf)
    out, errors, pos = [], 0, 0
    while pos + DELIMITER_BYTES <= len(buf):
        length = valid_delimiter(buf, pos)
        end = pos + DELIMITER_BYTES + length + CRC_BYTES
        if length == 0 or end > len(buf):
            errors += 1
            pos += 4
            continue
        body = buf[pos + DELIMITER_BYTES : pos + DELIMITER_BYTES + length]
        ok = crc32(body) == int.from_bytes(buf[end - CRC_BYTES : end], "big")
        out.append((pos, body, ok))
        pos = end + (-end) % 4
    return Unpacked(out, errors)
