"""Stream-0 packet: 32-bit ARQ session | 16-bit ARQ sequence number | payload | CRC-32.

The session is drawn at random by each transmitter run (``arq.StopAndWaitSender``), so a
receiver that outlives a transmitter tells a restarted one (whose sequence starts again)
from a duplicate: it de-duplicates per (session, seq). Both sit under the CRC.

The payload is the UTF-8 prompt, or, for the prompt of an image whose edge map follows on
stream 1, an *image prompt*: ``IMAGE_MARK`` (0x1E, ASCII record separator) | n_parts (8 bits)
| UTF-8 prompt. n_parts is the number of edge-map parts the receiver must wait for; 0 means
the edge map is not sent (planner M1 = 0), so a remote receiver can generate from the prompt
at once instead of waiting out its timeout. Plain prompts never start with 0x1E
(``encode_text`` refuses it), so both kinds share the packet. An image prompt that carries the
image's colour layout (``core.colour_layout``, a third semantic signal beyond the paper) is
``IMAGE_COLOUR_MARK`` (0x1D) | n_parts | layout length (8 bits) | layout | UTF-8 prompt: it
rides the same CRC and ARQ, and counts in |v0|.

The paper sends the prompt as one packet of L = |v0| bits (Table I); ``MAX_PROMPT_BYTES``
is the packet limit that fits one frame header length field.
"""

from __future__ import annotations

from gensem.dsp.crc import append_crc32, check_crc32
from gensem.dsp.frame_header import MAX_S0_BYTES

OVERHEAD = 4 + 2 + 4
MAX_PROMPT_BYTES = MAX_S0_BYTES - OVERHEAD  # 501 bytes of UTF-8
IMAGE_MARK = 0x1E
IMAGE_COLOUR_MARK = 0x1D  # an image prompt that also carries the image's colour layout
MAX_PARTS = 255
MAX_COLOUR_BYTES = 190  # a colour layout (core.colour_layout); base64 fits a bridge meta string


def encode_text(text: str) -> bytes:
    """UTF-8 bytes of a prompt, with the checks a user needs to hear about."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the prompt text is empty; pass a non-empty --text")
    data = text.encode("utf-8")
    if data[0] in (IMAGE_MARK, IMAGE_COLOUR_MARK):
        raise ValueError(f"the prompt text starts with the control character 0x{data[0]:02X}; remove it")
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


def image_payload(text: str, n_parts: int, colour: bytes | None = None) -> bytes:
    """The payload of an image prompt: mark | n_parts | UTF-8 text, or, with the image's colour
    layout, colour mark | n_parts | layout length | layout | UTF-8 text. The text may be empty
    when the image has edge parts or a colour layout (an image sent without a prompt). See the
    module docstring."""
    if not 0 <= int(n_parts) <= MAX_PARTS:
        raise ValueError(f"an image has 0..{MAX_PARTS} edge parts; got {n_parts}")
    if colour is None:
        head = bytes([IMAGE_MARK, int(n_parts)])
        body = encode_text(text) if text or not n_parts else b""  # edges only: no prompt text
    else:
        colour = bytes(colour)
        if not 0 < len(colour) <= MAX_COLOUR_BYTES:
            raise ValueError(f"a colour layout of {len(colour)} bytes is outside 1..{MAX_COLOUR_BYTES}")
        head = bytes([IMAGE_COLOUR_MARK, int(n_parts), len(colour)]) + colour
        body = encode_text(text) if text else b""
    data = head + body
    if len(data) > MAX_PROMPT_BYTES:
        raise ValueError(
            f"prompt is {len(body)} UTF-8 bytes, over the {MAX_PROMPT_BYTES - len(head)}-byte limit of "
            "this image prompt; shorten it"
        )
    return data


def prompt_payload(text: str, n_parts: int | None = None, colour: bytes | None = None) -> bytes:
    """The ARQ payload of a prompt: plain UTF-8, or an image prompt when ``n_parts`` is given
    (with its colour layout when ``colour`` is)."""
    if n_parts is None:
        if colour is not None:
            raise ValueError("a colour layout goes with an image prompt (give n_parts)")
        return encode_text(text)
    return image_payload(text, n_parts, colour)


def split_image(payload: bytes) -> tuple[bytes, int | None, bytes | None]:
    """(UTF-8 text bytes, n_parts, colour layout) of an image prompt; (payload, None, None)
    for a plain one. A colour image prompt whose layout length runs past the payload (it
    passed the CRC, so only a sender bug can do it) is a ValueError."""
    payload = bytes(payload)
    if len(payload) >= 2 and payload[0] == IMAGE_MARK:
        return payload[2:], payload[1], None
    if len(payload) >= 3 and payload[0] == IMAGE_COLOUR_MARK:
        n = payload[2]
        if 3 + n > len(payload) or n == 0:
            raise ValueError(f"image prompt announces a {n}-byte colour layout in a {len(payload)}-byte payload")
        return payload[3 + n :], payload[1], payload[3 : 3 + n]
    return payload, None, None


def split_payload(payload: bytes) -> tuple[bytes, int | None]:
    """(UTF-8 text bytes, n_parts) of an image prompt; (payload, None) for a plain one."""
    text, n_parts, _ = split_image(payload)
    return text, n_parts
