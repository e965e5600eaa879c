"""Stream-0 packet: 16-bit ARQ sequence number | UTF-8 prompt bytes | CRC-32.

The paper sends the prompt as one packet of L = |v0| bits (Table I); ``MAX_PROMPT_BYTES``
is the packet limit that fits one frame header length field.
"""

from __future__ import annotations

from .crc import append_crc32, check_crc32
from .frame_header import MAX_S0_BYTES

OVERHEAD = 2 + 4
MAX_PROMPT_BYTES = MAX_S0_BYTES - OVERHEAD  # 505 bytes of UTF-8


def encode_text(text: str) -> bytes:
    """UTF-8 bytes of a prompt, with the checks a user needs to hear about."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the prompt text is empty; pass a non-empty --text")
    data = text.encode("utf-8")
    if len(data) > MAX_PROMPT_BYTES:
        raise ValueError(
            f"prompt is {len(data)} UTF-8 bytes, over the {MAX_PROMPT_BYTES}-byte packet limit; shorten it"
        )
    return data


def build(seq: int, payload: bytes) -> bytes:
    return append_crc32((seq & 0xFFFF).to_bytes(2, "big") + bytes(payload))


def parse(packet: bytes) -> tuple[int, bytes] | None:
    """(seq, payload) or None when the CRC fails."""
    if not check_crc32(packet) or len(packet) < OVERHEAD:
        return None
    return int.from_bytes(packet[:2], "big"), bytes(packet[2:-4])
