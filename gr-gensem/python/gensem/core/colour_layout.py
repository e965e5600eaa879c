"""Colour layout: a few hundred bits that tell the receiver the image's colours (issue 18 ★).

The paper's framework conditions the generator on any number of semantic signals; the prompt
and the edge map carry no colour, and a generator that guesses colours loses to a flat image
of the right mean colour. The colour layout is the image's area-mean colours on a coarse grid
(``cols`` x ``rows`` cells), in full-range BT.601 YCbCr, quantised (Y to ``y_bits``, Cb and Cr
to ``c_bits``), predicted from the cells already coded (the mean of the left and upper
neighbours, the left or upper one on the first row or column, mid-level for the first cell)
and the prediction residuals entropy-coded with signed Exp-Golomb codes of order k (the k of
each plane chosen by the encoder for the fewest bits). Smooth layouts give small residuals and
short codes: a 12 x 8 layout of a photo takes about half its raw 96 x 13 bits (measured,
docs/semantic.md).

Bytes (version 1)::

    0x01 | cols | rows | y_bits << 4 | c_bits | kY << 4 | kCb << 2 | kCr | bitstream (MSB first)

(mode byte 0xFF instead of the code orders: the levels as fixed-length fields, which the
encoder picks when they are shorter than the codes, as for a busy, unpredictable layout).

It rides with the prompt on stream 0 (CRC-32 + ARQ), so it arrives intact or not at all; a
payload of another version, size or length is a one-line ``ValueError``.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np

VERSION = 1
HEADER_BYTES = 5
DEFAULT_GRID = (12, 8)  # cols, rows (3:2, the demo's 768 x 512); chosen by measurement (docs/semantic.md)
DEFAULT_BITS = (6, 5)  # Y, Cb/Cr: 5/4 leaves a mean-colour error of ~4.5 (8-bit), 6/5 ~2
MAX_CELLS = 64 * 64
MAX_K = 3
RAW = 0xFF  # mode byte: fixed-length levels, no prediction (when they are shorter)

# full-range BT.601 (JPEG) RGB <-> YCbCr
_RGB2YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_YCC2RGB = np.linalg.inv(_RGB2YCC)


def _cell_means(img: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """(rows, cols, 3) area means of an RGB uint8 image (cells split as evenly as the size allows)."""
    h, w = img.shape[:2]
    ys = np.linspace(0, h, rows + 1).round().astype(int)
    xs = np.linspace(0, w, cols + 1).round().astype(int)
    x = img.astype(np.float64)
    out = np.empty((rows, cols, 3))
    for r in range(rows):
        for c in range(cols):
            out[r, c] = x[ys[r] : ys[r + 1], xs[c] : xs[c + 1]].reshape(-1, 3).mean(axis=0)
    return out


def _quantise(ycc: np.ndarray, bits: tuple[int, int, int]) -> np.ndarray:
    """YCbCr in [0, 255] (Cb, Cr offset by 128) -> integer levels 0 .. 2^b - 1 per plane."""
    levels = np.array([(1 << b) - 1 for b in bits], float)
    return np.clip(np.round(ycc / 255.0 * levels), 0, levels).astype(np.int64)


def _dequantise(q: np.ndarray, bits: tuple[int, int, int]) -> np.ndarray:
    levels = np.array([(1 << b) - 1 for b in bits], float)
    return q / levels * 255.0


def _predict(plane: np.ndarray, r: int, c: int, mid: int) -> int:
    if r == 0 and c == 0:
        return mid
    if r == 0:
        return int(plane[r, c - 1])
    if c == 0:
        return int(plane[r - 1, c])
    return (int(plane[r, c - 1]) + int(plane[r - 1, c]) + 1) // 2


def _residuals(plane: np.ndarray, mid: int) -> list[int]:
    rows, cols = plane.shape
    return [int(plane[r, c]) - _predict(plane, r, c, mid) for r in range(rows) for c in range(cols)]


def _zigzag(v: int) -> int:
    return 2 * v if v >= 0 else -2 * v - 1


def _expgolomb(n: int, k: int) -> str:
    """Exp-Golomb code of order k of n >= 0, as a '0'/'1' string."""
    v = n + (1 << k)
    return "0" * (v.bit_length() - 1 - k) + format(v, "b")


def _code_len(n: int, k: int) -> int:
    return 2 * (n + (1 << k)).bit_length() - 1 - k


class _Bits:
    def __init__(self, data: bytes):
        self.bits = "".join(format(b, "08b") for b in data)
        self.pos = 0

    def read_expgolomb(self, k: int) -> int:
        zeros = 0
        while self._bit() == "0":
            zeros += 1
            if zeros > 32:
                raise ValueError("colour layout bitstream is corrupt (an over-long code)")
        self.pos -= 1
        n = zeros + 1 + k
        chunk = self.bits[self.pos : self.pos + n]
        if len(chunk) < n:
            raise ValueError("colour layout bitstream ends early")
        self.pos += n
        return int(chunk, 2) - (1 << k)

    def read_fixed(self, n: int) -> int:
        chunk = self.bits[self.pos : self.pos + n]
        if len(chunk) < n:
            raise ValueError("colour layout bitstream ends early")
        self.pos += n
        return int(chunk, 2)

    def _bit(self) -> str:
        if self.pos >= len(self.bits):
            raise ValueError("colour layout bitstream ends early")
        self.pos += 1
        return self.bits[self.pos - 1]


def encode(img: np.ndarray, grid: tuple[int, int] = DEFAULT_GRID, bits: tuple[int, int] = DEFAULT_BITS) -> bytes:
    """The colour layout of an RGB uint8 image (H, W, 3)."""
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"colour layout needs an RGB uint8 image (H, W, 3); got {img.dtype} {img.shape}")
    cols, rows = (int(v) for v in grid)
    y_bits, c_bits = (int(v) for v in bits)
    if not (1 <= cols <= 64 and 1 <= rows <= 64 and cols <= img.shape[1] and rows <= img.shape[0]):
        raise ValueError(f"colour layout grid {cols}x{rows} must be 1..64 per side and fit the image")
    if not (1 <= y_bits <= 8 and 1 <= c_bits <= 8):
        raise ValueError("colour layout bits must be 1..8 per plane")
    ycc = _cell_means(img, cols, rows) @ _RGB2YCC.T + np.array([0.0, 128.0, 128.0])
    planes_bits = (y_bits, c_bits, c_bits)
    q = _quantise(ycc, planes_bits)
    out, ks = [], []
    for p, b in enumerate(planes_bits):
        z = [_zigzag(v) for v in _residuals(q[..., p], 1 << (b - 1))]
        k = min(range(MAX_K + 1), key=lambda k: sum(_code_len(n, k) for n in z))
        ks.append(k)
        out.append("".join(_expgolomb(n, k) for n in z))
    stream, mode = "".join(out), (ks[0] << 4) | (ks[1] << 2) | ks[2]
    raw = "".join(format(int(v), f"0{b}b") for p, b in enumerate(planes_bits) for v in q[..., p].reshape(-1))
    if len(raw) <= len(stream):  # busy layouts: fixed-length levels are shorter than the codes
        stream, mode = raw, RAW
    stream += "0" * (-len(stream) % 8)
    body = int(stream, 2).to_bytes(len(stream) // 8, "big") if stream else b""
    return bytes([VERSION, cols, rows, (y_bits << 4) | c_bits, mode]) + body


def decode_cells(data: bytes) -> np.ndarray:
    """(rows, cols, 3) RGB cell colours (float, 0..255) of a colour layout."""
    data = bytes(data)
    if len(data) < HEADER_BYTES:
        raise ValueError(f"colour layout of {len(data)} bytes is shorter than its {HEADER_BYTES}-byte header")
    if data[0] != VERSION:
        raise ValueError(f"colour layout version {data[0]}; this gensem reads version {VERSION}")
    cols, rows = data[1], data[2]
    y_bits, c_bits = data[3] >> 4, data[3] & 0xF
    ks = (data[4] >> 4, (data[4] >> 2) & 0x3, data[4] & 0x3)
    raw = data[4] == RAW
    if not (1 <= cols <= 64 and 1 <= rows <= 64 and 1 <= y_bits <= 8 and 1 <= c_bits <= 8):
        raise ValueError(f"colour layout header is invalid (grid {cols}x{rows}, bits {y_bits}/{c_bits})")
    if not raw and ks[0] > MAX_K:
        raise ValueError(f"colour layout header is invalid (code order {ks[0]})")
    reader = _Bits(data[HEADER_BYTES:])
    planes_bits = (y_bits, c_bits, c_bits)
    q = np.zeros((rows, cols, 3), np.int64)
    for p, (b, k) in enumerate(zip(planes_bits, ks)):
        plane, mid, top = q[..., p], 1 << (b - 1), (1 << b) - 1
        for r in range(rows):
            for c in range(cols):
                if raw:
                    plane[r, c] = reader.read_fixed(b)
                    continue
                n = reader.read_expgolomb(k)
                v = _predict(plane, r, c, mid) + (n // 2 if n % 2 == 0 else -(n + 1) // 2)
                if not 0 <= v <= top:
                    raise ValueError("colour layout bitstream is corrupt (a level out of range)")
                plane[r, c] = v
    if len(data) - HEADER_BYTES != -(-reader.pos // 8):
        raise ValueError("colour layout has trailing bytes after its cells")
    ycc = _dequantise(q, planes_bits) - np.array([0.0, 128.0, 128.0])
    return np.clip(ycc @ _YCC2RGB.T, 0, 255)


def _upsample(cells: np.ndarray, w: int, h: int) -> np.ndarray:
    """(rows, cols, 3) cell colours -> (h, w, 3) float32, bicubic."""
    import cv2

    return cv2.resize(np.asarray(cells, np.float32), (int(w), int(h)), interpolation=cv2.INTER_CUBIC)


def render(data: bytes, size: tuple[int, int]) -> np.ndarray:
    """The colour layout upsampled (bicubic) to ``size`` (width, height): RGB uint8."""
    up = _upsample(decode_cells(data), *size)
    return np.clip(np.round(up), 0, 255).astype(np.uint8)


def grid_of(data: bytes) -> tuple[int, int]:
    """(cols, rows) of a colour layout (header checked by ``decode_cells``)."""
    data = bytes(data)
    if len(data) < HEADER_BYTES:
        raise ValueError(f"colour layout of {len(data)} bytes is shorter than its {HEADER_BYTES}-byte header")
    return int(data[1]), int(data[2])


def coarse(img: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """An image's own coarse colours as the layout would carry them, unquantised: its cell
    means on ``grid``, upsampled (bicubic) back to its size, float RGB."""
    img = np.asarray(img)
    return _upsample(_cell_means(img, int(grid[0]), int(grid[1])), img.shape[1], img.shape[0])


def impose(img: np.ndarray, data: bytes) -> np.ndarray:
    """``img`` with its coarse colours replaced by the colour layout's: img - coarse(img) +
    render(layout). The detail (everything finer than a cell) stays the image's own, the
    colours at the cell scale become the transmitted ones: how a receiver whose generator
    does not take colour as an input is conditioned on it."""
    img = np.asarray(img)
    h, w = img.shape[:2]
    out = img.astype(np.float32) - coarse(img, grid_of(data)) + render(data, (w, h)).astype(np.float32)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def to_meta(data: bytes) -> str:
    """A colour layout as PDU / bridge metadata: base64 text (a scalar the bridge carries)."""
    return base64.b64encode(bytes(data)).decode("ascii")


def from_meta(text) -> bytes:
    """The colour layout of ``to_meta`` text; a one-line ValueError when it is not base64."""
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("colour_layout metadata is not base64") from None


def bits_of(data: bytes) -> int:
    """Channel bits of a colour layout (header included)."""
    return 8 * len(bytes(data))
