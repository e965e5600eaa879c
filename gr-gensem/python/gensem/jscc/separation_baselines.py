"""Separation-based baselines of the CDM-JSCC paper (IV.A.2): "BPG+LDPC" and "BPG+capacity",
with HEVC intra (x265 via pillow-heif) standing in for BPG.

A budget of k = round(cbr * 3HW) complex channel uses at Es/N0 = ``snr_db`` sets the HEVC
file size: whole LDPC blocks that fit k symbols (``hevc+ldpc``) or floor(k log2(1+SNR) / 8)
bytes (``hevc+capacity``, an ideal error-free code). The receiver knows the file length.

Cliff effect, the usual convention: when the image does not fit even at HEVC quality 0, or
any LDPC block is decoded wrongly (a genie CRC; the HEVC stream is then unusable), the
receiver outputs the mean-grey image (128) and ``decoded`` is False. No exception is raised
for those; bad arguments raise ``ValueError``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from gensem.jscc.hevc_codec import check_image, encode_to_budget, hevc_decode

GREY = 128


def _number(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _check(img, snr_db, cbr) -> tuple[np.ndarray, int]:
    img = check_image(img)
    if not (math.isfinite(_number(cbr)) and _number(cbr) > 0):
        raise ValueError(f"channel bandwidth ratio cbr={cbr!r} must be a finite number > 0")
    if not math.isfinite(_number(snr_db)):
        raise ValueError(f"SNR {snr_db!r} dB must be a finite number")
    return img, int(round(float(cbr) * img.size))


def capacity_bytes(n_symbols: int, snr_db: float) -> int:
    """Bytes an ideal code carries in ``n_symbols`` complex uses: floor(k log2(1+SNR) / 8)."""
    return int(math.floor(n_symbols * math.log2(1.0 + 10.0 ** (snr_db / 10.0)) / 8.0))


def _receive(img, data: bytes | None, ok: bool) -> tuple[np.ndarray, bool]:
    if data is not None and ok:
        try:
            recon = hevc_decode(data)
            if recon.shape == img.shape:
                return recon, True
        except Exception:  # a corrupt stream is a failed transmission, not a crash
            pass
    return np.full_like(img, GREY), False


def _result(method, img, recon, decoded, symbols, bits, quality, block_errors, decode_s):
    return {
        "method": method,
        "recon": recon,
        "cbr": symbols / img.size,
        "bits": bits,
        "quality": quality,
        "block_errors": block_errors,
        "decoded": decoded,
        "decode_s": decode_s,
    }


def hevc_capacity(img: np.ndarray, snr_db: float, cbr: float) -> dict:
    """HEVC coded to the capacity budget of k = cbr * 3HW channel uses; no channel errors."""
    img, k = _check(img, snr_db, cbr)
    snr_db = float(snr_db)
    fit = encode_to_budget(img, capacity_bytes(k, snr_db))
    data, quality = fit if fit else (None, None)
    t0 = time.perf_counter()
    recon, decoded = _receive(img, data, True)
    decode_s = time.perf_counter() - t0
    bits = 8 * len(data) if data else 0
    symbols = math.ceil(bits / math.log2(1.0 + 10.0 ** (snr_db / 10.0)))
    return _result("hevc+capacity", img, recon, decoded, symbols, bits, quality, 0, decode_s)


def hevc_ldpc(img: np.ndarray, snr_db: float, cbr: float, rng: np.random.Generator, link=None) -> dict:
    """HEVC + GNU Radio LDPC + Gray M-QAM over AWGN at Es/N0 = ``snr_db``.

    ``link`` (an :class:`~gensem.jscc.ldpc_qam.LdpcQamLink`) defaults to the configuration
    :func:`~gensem.jscc.ldpc_qam.select_link` picks for ``snr_db`` (BLER <= 1e-3 over 1000 blocks).
    """
    from gensem.jscc.ldpc_qam import LdpcQamLink, select_link

    img, k = _check(img, snr_db, cbr)
    if link is None:
        choice = select_link(float(snr_db))
        link = LdpcQamLink(choice["code"], choice["M"])
    fit = encode_to_budget(img, link.max_info_bits(k) // 8)
    if fit is None:
        return _result("hevc+ldpc", img, np.full_like(img, GREY), False, 0, 0, None, None, 0.0)
    data, quality = fit
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    rx_bits, block_errors, n_blocks = link.transmit(bits, float(snr_db), rng)
    t0 = time.perf_counter()
    recon, decoded = _receive(img, np.packbits(rx_bits).tobytes(), block_errors == 0)
    decode_s = link.last_receive_s + time.perf_counter() - t0  # demap + LDPC + HEVC decode
    res = _result(
        "hevc+ldpc", img, recon, decoded, link.n_symbols(n_blocks), bits.size, quality, block_errors, decode_s
    )
    res.update(code=link.path.name, M=link.M)
    return res
