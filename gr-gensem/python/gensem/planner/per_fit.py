"""Eq. (2)'s PER model fitted to our own prompt PHY (``gensem plan --fit-per``; the Monte
Carlo is ``gensem.dsp.prompt_per``, this module the model, the fit and the stored result).

Eq. (2) models the prompt packet error rate as PER = 1 - L^(-k/gamma0) exp(-b/gamma0), i.e.
-gamma0 ln(1 - PER) = c(L) = k ln L + b, with L the packet length in bits; the paper's
k = 0.374, b = -0.31 come from another system. Here the PER is measured by Monte Carlo over
our stream-0 chain, with the same functions the link runs: ``prompt_packet.build`` (session,
sequence number, payload, CRC-32), ``frame_builder.encode_prompt_packet`` (scrambler, K=7
rate-1/2 convolutional code from gr-fec, interleaver), QPSK, AWGN at Es/N0 = gamma0, or
Rayleigh block fading (one CN(0, 1) gain per packet, equalised with the known gain), the
receiver's soft QPSK demapper, deinterleaver, Viterbi decoder, descrambler and CRC check.
Each point with 0 < PER < 1 gives one c = -gamma0 ln(1 - PER); k and b are the least-squares
line of c against ln L (weighted by the packets behind each point).

Eq. (2) has the shape of a Rayleigh outage, and fits the fading channel; on AWGN the coded
PER falls like a waterfall and the fit is rougher (its residual is reported). The planner's
``--per-model measured`` uses the Rayleigh fit (``MEASURED_JSON``).
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

MEASURED_JSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "per_measured.json")
CHANNELS = ("awgn", "rayleigh")


def fit(points: list[dict]) -> dict:
    """k, b of c = k ln L + b from the points with 0 < PER < 1 (least squares, weighted)."""
    rows = []
    for p in points:
        per = p["errors"] / p["packets"]
        if 0 < per < 1:
            g = 10 ** (p["snr_db"] / 10)
            rows.append((math.log(p["packet_bits"]), -g * math.log1p(-per), p["packets"]))
    if len(rows) < 2 or len({r[0] for r in rows}) < 2:
        raise ValueError("too few points with 0 < PER < 1 to fit k and b: widen the SNR range or add packets")
    x, c, w = (np.array(v, float) for v in zip(*rows))
    A = np.stack([x, np.ones_like(x)], axis=1) * np.sqrt(w)[:, None]
    (k, b), *_ = np.linalg.lstsq(A, c * np.sqrt(w), rcond=None)
    resid = c - (k * x + b)
    rms = float(np.sqrt(np.mean(resid**2)))
    return {"k": float(k), "b": float(b), "points": len(rows), "rms_residual_c": rms}


def model_per(snr_db, packet_bits: float, k: float, b: float):
    g = 10 ** (np.asarray(snr_db, float) / 10)
    return np.clip(1 - np.exp(-max(k * math.log(packet_bits) + b, 0.0) / g), 0, 1)


PER_MODELS = ("paper", "measured")


def system_params(per_model: str = "paper", base=None, paper_floor_db: float | None = None):
    """The planner's ``SystemParams`` with eq. (2)'s k, b of ``per_model``: "paper" (Qiao et
    al.'s, with the prompt SNR floor ``paper_floor_db`` if given: their model lets a short
    prompt run where our code never decodes) or "measured" (our PHY's fit, no floor: the
    fitted model already knows where our packet fails). A one-line ValueError otherwise."""
    from gensem.planner.params import TABLE_I

    base = TABLE_I if base is None else base
    if per_model == "paper":
        return base.with_(min_prompt_snr_db=paper_floor_db)
    if per_model == "measured":
        m = measured_params()
        return base.with_(k=m["k"], b=m["b"], min_prompt_snr_db=None)
    raise ValueError(f"unknown PER model {per_model!r}; choose one of {', '.join(PER_MODELS)}")


def measured_params() -> dict:
    """The stored fit (``MEASURED_JSON``): {"k", "b", ...} of the Rayleigh channel."""
    if not os.path.isfile(MEASURED_JSON):
        raise ValueError(f"no measured PER model at {MEASURED_JSON}: run `gensem plan --fit-per`")
    with open(MEASURED_JSON) as f:
        return json.load(f)["fits"]["rayleigh"]
