"""Stream-0 packet: 32-bit ARQ session | 16-bit ARQ sequence number | payload | CRC-32.

The session is drawn at random by each transmitter run (``arq.StopAndWaitSender``), so a
receiver that outlives a transmitter tells a restarted one (whose sequence starts again)
from a duplicate: it de-duplicates per (session, seq). Both sit under the CRC.

The payload is the UTF-8 prompt, or, for the prompt of an image whose edge map follows on
stream 1, an *image prompt*: ``IMAGE_MARK`` (0x1E, ASCII record separator) | n_parts (8 bits)
| UTF-8 prompt. n_parts is the number of edge-map parts the receiver must wait for; 0 means
the edge map is not sent (planner M1 = 0), so a remote receiver can generate from the prompt
at once instead of waiting out its timeout. Plain prompts never start with 0x1E
(``encode_text`` refuses it), so both kinds share the packet.

The paper sends the prompt as one packet of L = |v0| bits (Table I); ``MAX_PROMPT_BYTES``
is the packet limit that fits one frame header length field.
"""

from __future__ import annotations

from gensem.dsp.crc import append_crc32, check_crc32
from gensem.dsp.frame_header import MAX_S0_BYTES

OVERHEAD = 4 + 2 + 4
MAX_PROMPT_BYTES = MAX_S0_BYTES - OVERHEAD  # 501 bytes of UTF-8
IMAGE_MARK = 0x1E
MAX_PARTS = 255


def encode_text(text: str) -> bytes:
    """UTF-8 bytes of a prompt, with the checks a user needs to hear about."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the prompt text is empty; pass a non-empty --text")
    data = text.encode("utf-8")
    if data[0] == IMAGE_MARK:
        raise ValueError("the prompt text starts with the control character 0x1E; remove it")
    if len(data) > MAX_PROMPT_BYTES:
        raise ValueError(
            f"prompt is {len(data)} UTF-8 bytes, over the {MAX_PROMPT_BYTES}-byte packet limit; shorten it"
        )
    return data


def build(seq: int, payload: bytes, session: int = 0) -> bytes:
    head = (int(session) & 0xFFFFFFFF).to_bytes(4, "big") + (int(seq) & 0xFFFF).to_bytes(2, "big")
    return append_crc32(head + bytes(payload))


def parse(packet: bytes) -> tuple[int, int, bytes] | None:
    """(session, seq, payload) or None when the CRC fails."""
    if len(packet) < OVERHEAD or not check_crc32(packet):
        return None
    return int.from_bytes(packet[:4], "big"), int.from_bytes(packet[4:6], "big"), bytes(packet[6:-4])


def image_payload(text: str, n_parts: int) -> bytes:
    """The payload of an image prompt: mark | n_parts | UTF-8 text (see the module docstring)."""
    if not 0 <= int(n_parts) <= MAX_PARTS:
        raise ValueError(f"an image has 0..{MAX_PARTS} edge parts; got {n_parts}")
    data = bytes([IMAGE_MARK, int(n_parts)]) + encode_text(text)
    if len(data) > MAX_PROMPT_BYTES:
        raise ValueError(
            f"prompt is {len(data) - 2} UTF-8 bytes, over the {MAX_PROMPT_BYTES - 2}-byte limit of an "
            "image prompt; shorten it"
        )
    return data


def prompt_payload(text: str, n_parts: int | None = None) -> bytes:
    """The ARQ payload of a prompt: plain UTF-8, or an image prompt when ``n_parts`` is given."""
    return encode_text(text) if n_parts is None else image_payload(text, n_parts)


def split_payload(payload: bytes) -> tuple[bytes, int | None]:
    """(UTF-8 text bytes, n_parts) of an image prompt; (payload, None) for a plain one."""
    payload = bytes(payload)
    if len(payload) >= 2 and payload[0] == IMAGE_MARK:
        return payload[2:], payload[1]
    return payload, None
