"""Edge-map bitstream <-> stream-1 payloads: one part per OFDM frame, each with a small
robust part header, so the receiver can place parts without a CRC on stream 1.

Part header: image_id (16 bits) | part (8) | n_parts (8) | CRC-16/CCITT-FALSE of those 4
bytes, every bit repeated 3 times (bitwise majority at the receiver: a header survives BER
1e-2 with probability 0.99; the CRC then rejects what the vote got wrong, and payloads that
are not edge parts at all, e.g. PRBS frames, pass it with probability 2^-16).
The image's parts are consecutive slices of the codec bitstream; ``reassemble`` fills a
missing part with zero bytes (the codec's decompress survives it); the bridge receiver's
``ImageAssembler`` does the same for an image whose parts are still missing at its timeout.
The image_id is the prompt's ARQ sequence number (one prompt per image).
"""

from __future__ import annotations

import binascii

import numpy as np

REPEAT = 3
HEADER_FIELDS_BITS = 48  # 32 bits of fields + CRC-16
HEADER_BYTES = HEADER_FIELDS_BITS * REPEAT // 8  # 18
MAX_PARTS = 255


def _header(image_id: int, part: int, n_parts: int) -> bytes:
    fields = bytes([image_id >> 8 & 0xFF, image_id & 0xFF, part, n_parts])
    raw = np.frombuffer(fields + binascii.crc_hqx(fields, 0xFFFF).to_bytes(2, "big"), np.uint8)
    return np.packbits(np.repeat(np.unpackbits(raw), REPEAT)).tobytes()


def packetize(data: bytes, image_id: int, max_payload: int) -> list[bytes]:
    """Split ``data`` into payloads of at most ``max_payload`` bytes (header included)."""
    body = int(max_payload) - HEADER_BYTES
    if body < 1:
        raise ValueError(
            f"stream-1 payload of {max_payload} bytes leaves no room after the {HEADER_BYTES}-byte part header"
        )
    n = max(1, -(-len(data) // body))
    if n > MAX_PARTS:
        raise ValueError(
            f"edge bitstream of {len(data)} bytes needs {n} parts; at most {MAX_PARTS}: raise the payload size"
        )
    return [_header(image_id & 0xFFFF, k, n) + data[k * body : (k + 1) * body] for k in range(n)]


def parse(payload: bytes) -> tuple[int, int, int, bytes] | None:
    """(image_id, part, n_parts, body) by majority vote, None if too short, the CRC fails, or
    inconsistent."""
    if len(payload) < HEADER_BYTES:
        return None
    bits = np.unpackbits(np.frombuffer(payload[:HEADER_BYTES], np.uint8))
    votes = (bits.reshape(HEADER_FIELDS_BITS, REPEAT).sum(axis=1) > REPEAT // 2).astype(np.uint8)
    b = np.packbits(votes).tobytes()
    if binascii.crc_hqx(b[:4], 0xFFFF) != int.from_bytes(b[4:6], "big"):
        return None
    image_id, part, n_parts = int(b[0]) << 8 | int(b[1]), int(b[2]), int(b[3])
    if n_parts < 1 or part >= n_parts:
        return None
    return image_id, part, n_parts, payload[HEADER_BYTES:]


def reassemble(parts: dict[int, bytes], n_parts: int, body_size: int) -> tuple[bytes, list[int]]:
    """Concatenate parts 0..n_parts-1; missing ones (except a missing last one, whose length
    is unknown) become ``body_size`` zero bytes. Returns (bytes, missing part indices)."""
    missing = [k for k in range(n_parts) if k not in parts]
    out = []
    for k in range(n_parts):
        if k in parts:
            out.append(parts[k])
        elif k < n_parts - 1:
            out.append(bytes(body_size))
    return b"".join(out), missing
