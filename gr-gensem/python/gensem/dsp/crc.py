"""CRCs from crcmod's predefined catalogue.

* CRC-32 (IEEE 802.3, catalogue check value 0xCBF43926 for b"123456789") protects
  each prompt packet (Qiao et al. §II-B-1).
* CRC-16/CCITT-FALSE (check 0x29B1) protects the frame header.
"""

from __future__ import annotations

import crcmod.predefined

_crc32 = crcmod.predefined.mkCrcFun("crc-32")
_crc16 = crcmod.predefined.mkCrcFun("crc-ccitt-false")


def crc32(data: bytes) -> int:
    return _crc32(bytes(data))


def crc16(data: bytes) -> int:
    return _crc16(bytes(data))


def append_crc32(data: bytes) -> bytes:
    return bytes(data) + crc32(data).to_bytes(4, "big")


def check_crc32(packet: bytes) -> bool:
    """True when the last 4 bytes are the CRC-32 of the rest."""
    packet = bytes(packet)
    if len(packet) < 5:
        return False
    return crc32(packet[:-4]) == int.from_bytes(packet[-4:], "big")
