"""Lemma 1 of Qiao et al.: the power split and edge-map rate that minimise max(T0, T1).

Everything is expressed through the average SNR gamma_bar (section III-E) and the power
fraction x = p0/P_T, so gamma_0 = x (B0+B1)/B0 gamma_bar and gamma_1 = (1-x) (B0+B1)/B1
gamma_bar. Three answers:

* ``solve_continuous``: the Lemma-1 optimum with the rate of eq. (4) (Fig. 4):
  p0 + p1 = P_T and T0(p0) = T1(p1, BER_1), found by Brent's method on ln T0 - ln T1,
  which is strictly decreasing in x (T0 falls and T1 rises as power moves to the prompt).
* ``solve_discrete``: the modulation-adaptation choice M1 in {4, 16, 64} (Table II), as the
  paper reads its table: M1 needs gamma_1 >= (M1 - 1)(-ln(beta BER_1))/alpha (eq. (4) at
  log2 M1 bit/symbol), so T1 = |v1|/(log2(M1) B1), and the prompt must finish within that
  T1: it gets the power that brings T0 down to T1, any rest goes to the edge map (lower BER
  at the same latency). M1 is available from ``edge_snr_db(M1)`` up, the gamma_bar at which
  p0 + p1 = P_T, T0(p0) = T1(M1) and gamma_1(p1) is the requirement; the choice is the
  largest available M1 (latency T1(M1)). M1 = 0 (edge map not sent) below the lowest edge.
  ``reading="at-edge"`` keeps the earlier reading: an M1 is available as soon as stream 1
  meets its BER with it, and the prompt then takes the rest of the power, T = max(T0, T1).
* ``baseline``: the semantic-unaware single stream over B0 + B1 at full power, adaptive
  M-QAM at BER 1e-7 (section III-E).
"""

from __future__ import annotations

import math

from scipy.optimize import brentq

from gensem.planner import equations as eq
from gensem.planner.params import TABLE_I, SystemParams

MODULATIONS = (4, 16, 64)


def _check(avg_snr: float, v0_bits: float, v1_bits: float):
    if not (math.isfinite(avg_snr) and avg_snr > 0):
        raise ValueError("average SNR must be a finite number of dB")
    if not (v0_bits > 0 and v1_bits > 0):
        raise ValueError("|v0| and |v1| must be > 0 bits")


def _split(t: float) -> tuple[float, float]:
    """(x0, x1) = (p0/P_T, p1/P_T) = logistic(t), logistic(-t): both accurate near 0 and 1."""
    if t >= 0:
        e = math.exp(-t)
        return 1.0 / (1.0 + e), e / (1.0 + e)
    e = math.exp(t)
    return e / (1.0 + e), 1.0 / (1.0 + e)


def _log_t0(x0, avg_snr, v0_bits, p):
    eta_p, eta_t = eq.prompt_latency_terms(v0_bits, p)
    g0 = eq.stream_snr(x0, avg_snr, p.B0_hz, p)
    return math.log(eta_p * eta_t) + eq.log_retransmissions(g0, p.packet_bits(v0_bits), p)


def _log_t1(x1, avg_snr, v1_bits, ber, p):
    g1 = eq.stream_snr(x1, avg_snr, p.B1_hz, p)
    rate = eq.adaptive_rate(g1, ber, p.B1_hz, p)
    return math.log(v1_bits) - math.log(rate) if rate > 0 else math.inf


def _point(x, avg_snr, v0_bits, v1_bits, ber, p, T1, x1=None):
    x1 = 1.0 - x if x1 is None else x1
    g0 = eq.stream_snr(x, avg_snr, p.B0_hz, p)
    g1 = eq.stream_snr(x1, avg_snr, p.B1_hz, p)
    eta_r = float(eq.retransmissions(g0, p.packet_bits(v0_bits), p))
    T0 = float(eq.prompt_latency(g0, v0_bits, p))
    return {
        "p0_w": x * p.P_T_w,
        "p1_w": x1 * p.P_T_w,
        "prompt_power_fraction": x,
        "prompt_snr_db": 10 * math.log10(g0) if g0 > 0 else -math.inf,
        "stream_snr_db": 10 * math.log10(g1) if g1 > 0 else None,
        "T0_s": T0,
        "T1_s": T1,
        "latency_s": max(T0, T1),
        "retransmissions": eta_r,
        "per": float(eq.prompt_per(g0, p.packet_bits(v0_bits), p)),
    }


def solve_continuous(avg_snr: float, v0_bits: float, v1_bits: float, ber: float, p: SystemParams = TABLE_I):
    """Lemma 1 with the continuous rate of eq. (4): returns the optimum as a dict."""
    _check(avg_snr, v0_bits, v1_bits)
    eq.snr_gap(ber, p)  # validates the BER target

    def g(t):  # ln T0 - ln T1, strictly decreasing in t (power moves to the prompt)
        x0, x1 = _split(t)
        return _log_t0(x0, avg_snr, v0_bits, p) - _log_t1(x1, avg_snr, v1_bits, ber, p)

    lo, hi = -700.0, 700.0
    if g(lo) <= 0:
        # eq. (2) gives PER = 0 whatever p0 (k ln L + b <= 0): T0 is constant, so give the
        # edge map (almost) everything; T0 = T1 cannot hold.
        t = lo
    elif g(hi) >= 0:
        raise ValueError(
            f"infeasible: no power split balances T0 and T1 at {10 * math.log10(avg_snr):.2f} dB "
            "(the prompt PER of eq. (2) is ~1 there)"
        )
    else:
        t = brentq(g, lo, hi, xtol=1e-13, rtol=1e-14, maxiter=500)
    x, x1 = _split(t)
    g1 = eq.stream_snr(x1, avg_snr, p.B1_hz, p)
    T1 = float(eq.adaptive_latency(g1, v1_bits, ber, p.B1_hz, p))
    out = _point(x, avg_snr, v0_bits, v1_bits, ber, p, T1, x1)
    out["bits_per_symbol"] = float(math.log1p(eq.snr_gap(ber, p) * g1) / math.log(2))
    out["lemma1_equal"] = bool(abs(out["T0_s"] - T1) <= 1e-9 * T1)
    return out


def edge_snr_db(M, v0_bits, v1_bits, ber, p: SystemParams = TABLE_I) -> float | None:
    """The lower edge of M1 = M in the paper's reading (None: never available): the gamma_bar
    at which p0 + p1 = P_T, T0(p0) = T1(M) and gamma_1(p1) = the M-QAM requirement of eq. (4).
    Both fractions scale as 1/gamma_bar, so gamma_bar = (g1_req B1 + g0_T1 B0) / (B0 + B1)."""
    T1 = v1_bits / (math.log2(M) * p.B1_hz)
    eta_p, eta_t = eq.prompt_latency_terms(v0_bits, p)
    t0_floor = eta_p * eta_t  # T0 with no retransmission
    c = eq._per_exponent(p.packet_bits(v0_bits), p)
    if c == 0.0:
        if t0_floor > T1:
            return None
        g0 = 0.0
    else:
        if T1 <= t0_floor or T1 / t0_floor > p.max_transmissions:
            return None  # T0 = T1 needs eta_R = T1 / t0_floor transmissions: < 1, or too many
        g0 = c / math.log(T1 / t0_floor)
    if p.min_prompt_snr_db is not None:
        g0 = max(g0, 10 ** (p.min_prompt_snr_db / 10))
    g1 = eq.mqam_required_snr(M, ber, p)
    return 10 * math.log10((g1 * p.B1_hz + g0 * p.B0_hz) / (p.B0_hz + p.B1_hz))


def _discrete_for(M, avg_snr, v0_bits, v1_bits, ber, p, reading="paper"):
    """The plan with edge-map modulation M (None if it does not fit the power budget, or, in
    the paper's reading, if the prompt cannot finish within T1(M))."""
    x1_min = eq.mqam_required_snr(M, ber, p) * p.B1_hz / ((p.B0_hz + p.B1_hz) * avg_snr)
    if x1_min >= 1.0:
        return None
    T1 = v1_bits / (math.log2(M) * p.B1_hz)
    eta_p, eta_t = eq.prompt_latency_terms(v0_bits, p)
    c = eq._per_exponent(p.packet_bits(v0_bits), p)
    t0_floor = eta_p * eta_t  # T0 with no retransmission
    x0_max = 1.0 - x1_min
    if c == 0.0:
        x0 = x0_max if t0_floor > T1 else 1e-12
    elif T1 > t0_floor:
        # T0(x0) = T1  <=>  c / gamma0 = ln(T1 / t0_floor)
        g0 = c / math.log(T1 / t0_floor)
        x0 = min(g0 * p.B0_hz / ((p.B0_hz + p.B1_hz) * avg_snr), x0_max)
    else:
        x0 = x0_max
    if p.min_prompt_snr_db is not None:  # a floor on the prompt's SNR (see SystemParams)
        x0_floor = 10 ** (p.min_prompt_snr_db / 10) * p.B0_hz / ((p.B0_hz + p.B1_hz) * avg_snr)
        if x0_floor > x0_max:
            return None
        x0 = max(x0, x0_floor)
    pt = _point(x0, avg_snr, v0_bits, v1_bits, ber, p, T1)
    if pt["retransmissions"] > p.max_transmissions:
        return None
    if reading == "paper" and pt["T0_s"] > T1 * (1 + 1e-9):
        return None  # the prompt cannot finish within T1(M): below M's edge
    pt["modulation"] = M
    pt["required_stream_snr_db"] = 10 * math.log10(eq.mqam_required_snr(M, ber, p))
    pt["edge_map_sent"] = True
    return pt


def solve_discrete(
    avg_snr: float,
    v0_bits: float,
    v1_bits: float,
    ber: float,
    p: SystemParams = TABLE_I,
    modulations=MODULATIONS,
    reading: str = "paper",
):
    """The Table-II choice of M1 (lowest latency; ties go to the larger M) and its power split
    (``reading``: "paper" or "at-edge", see the module docstring)."""
    if reading not in ("paper", "at-edge"):
        raise ValueError(f"reading must be 'paper' or 'at-edge', got {reading!r}")
    _check(avg_snr, v0_bits, v1_bits)
    best = None
    for M in sorted(modulations):
        pt = _discrete_for(M, avg_snr, v0_bits, v1_bits, ber, p, reading)
        if pt is not None and (best is None or pt["latency_s"] <= best["latency_s"] * (1 + 1e-12)):
            best = pt
    if best is not None:
        return best
    pt = _point(1.0, avg_snr, v0_bits, v1_bits, ber, p, 0.0)  # prompt only, all the power
    pt.update(modulation=0, required_stream_snr_db=None, edge_map_sent=False, stream_snr_db=None)
    pt["prompt_reliable"] = pt["retransmissions"] <= p.max_transmissions
    return pt


def baseline(avg_snr: float, v0_bits: float, v1_bits: float, p: SystemParams = TABLE_I) -> dict:
    """Semantic-unaware benchmark: v0 + v1 as one stream over B0 + B1 with all of P_T,
    rate of eq. (4) at BER 1e-7 (gamma = gamma_bar: full power over the full band)."""
    _check(avg_snr, v0_bits, v1_bits)
    B = p.B0_hz + p.B1_hz
    rate = float(eq.adaptive_rate(avg_snr, p.baseline_ber, B, p))
    return {
        "latency_s": (v0_bits + v1_bits) / rate,
        "bits_per_symbol": rate / B,
        "ber": p.baseline_ber,
    }


def plan(
    avg_snr_db: float,
    v0_bits: float,
    v1_bits: float,
    ber: float,
    p: SystemParams = TABLE_I,
    modulations=MODULATIONS,
) -> dict:
    """Everything ``gensem plan --snr-db`` reports, latencies in ms."""
    if not math.isfinite(avg_snr_db):
        raise ValueError("average SNR must be a finite number of dB")
    avg = 10 ** (avg_snr_db / 10)
    cont = solve_continuous(avg, v0_bits, v1_bits, ber, p)
    disc = solve_discrete(avg, v0_bits, v1_bits, ber, p, modulations)
    base = baseline(avg, v0_bits, v1_bits, p)
    ms = 1e3
    return {
        "snr_db": avg_snr_db,
        "feasible": True,
        "target_ber": ber,
        "p0_w": cont["p0_w"],
        "p1_w": cont["p1_w"],
        "prompt_power_fraction": cont["prompt_power_fraction"],
        "T0_ms": cont["T0_s"] * ms,
        "T1_ms": cont["T1_s"] * ms,
        "latency_ms": max(cont["T0_s"], cont["T1_s"]) * ms,
        "bits_per_symbol": cont["bits_per_symbol"],
        "retransmissions": cont["retransmissions"],
        "stream_snr_db": cont["stream_snr_db"],
        "modulation": disc["modulation"],
        "discrete": {
            "modulation": disc["modulation"],
            "edge_map_sent": disc["edge_map_sent"],
            "p0_w": disc["p0_w"],
            "p1_w": disc["p1_w"],
            "prompt_power_fraction": disc["prompt_power_fraction"],
            "T0_ms": disc["T0_s"] * ms,
            "T1_ms": disc["T1_s"] * ms,
            "latency_ms": disc["latency_s"] * ms,
            "retransmissions": disc["retransmissions"],
            "stream_snr_db": disc["stream_snr_db"],
            "required_stream_snr_db": disc["required_stream_snr_db"],
        },
        "baseline_latency_ms": base["latency_s"] * ms,
        "baseline_bits_per_symbol": base["bits_per_symbol"],
    }
