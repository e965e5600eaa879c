"""Equations (1)-(4) of Qiao et al., section II-B, and the average SNR of section III-E.

Each function is one equation, in linear units unless its name says ``_db``. Powers in W,
bandwidths in Hz, N0 in W/Hz, latencies in s.
"""

from __future__ import annotations

import math

import numpy as np

from gensem.planner.params import TABLE_I, SystemParams, db_to_lin


def channel_gain(distance_m: float, h_tilde: complex = 1.0, p: SystemParams = TABLE_I) -> complex:
    """Eq. (1): h = sqrt(eps0) d^(-phi) h~ (d0 = 1 m; h~ CSCG with unit variance)."""
    if distance_m <= 0:
        raise ValueError("distance must be > 0 m")
    return math.sqrt(db_to_lin(p.eps0_db)) * distance_m ** (-p.phi) * h_tilde


def mean_channel_power(distance_m: float, p: SystemParams = TABLE_I) -> float:
    """E|h|^2 of eq. (1) with E|h~|^2 = 1: eps0 d^(-2 phi)."""
    return abs(channel_gain(distance_m, 1.0, p)) ** 2


def received_snr(p_w: float, h_power: float, bandwidth_hz: float, p: SystemParams = TABLE_I) -> float:
    """gamma_i = p_i |h_i|^2 / (B_i N0)."""
    return p_w * h_power / (bandwidth_hz * p.N0_w_hz)


def average_snr(h_power_mean: float, p: SystemParams = TABLE_I) -> float:
    """Section III-E: gamma_bar = P_T E|h0|^2 / ((B0 + B1) N0)."""
    return p.P_T_w * h_power_mean / ((p.B0_hz + p.B1_hz) * p.N0_w_hz)


def average_snr_db_at_distance(distance_m: float, p: SystemParams = TABLE_I) -> float:
    return 10 * math.log10(average_snr(mean_channel_power(distance_m, p), p))


def stream_snr(power_fraction: float, avg_snr: float, bandwidth_hz: float, p: SystemParams = TABLE_I):
    """gamma_i for p_i = power_fraction * P_T at average SNR gamma_bar (same E|h|^2):
    gamma_i = (p_i / P_T) (B0 + B1) / B_i * gamma_bar."""
    return power_fraction * (p.B0_hz + p.B1_hz) / bandwidth_hz * avg_snr


def _per_exponent(L_bits: float, p: SystemParams) -> float:
    """c = k ln L + b, so that eq. (2) reads PER = 1 - exp(-c / gamma0) (clipped at c >= 0)."""
    return max(p.k * math.log(L_bits) + p.b, 0.0)


def prompt_per(gamma0, L_bits: float, p: SystemParams = TABLE_I):
    """Eq. (2): PER(p0) ~= 1 - L^(-k/gamma0) exp(-b/gamma0), clipped to [0, 1]."""
    g = np.asarray(gamma0, dtype=float)
    with np.errstate(divide="ignore", over="ignore"):
        per = 1.0 - np.exp(-_per_exponent(L_bits, p) / g)
    return np.clip(per, 0.0, 1.0)[()]


def log_retransmissions(gamma0, L_bits: float, p: SystemParams = TABLE_I):
    """ln eta_R = ln 1/(1 - PER) = c / gamma0 (kept in logs: eta_R overflows near gamma0 = 0)."""
    g = np.asarray(gamma0, dtype=float)
    with np.errstate(divide="ignore"):
        return (_per_exponent(L_bits, p) / g)[()]


def retransmissions(gamma0, L_bits: float, p: SystemParams = TABLE_I):
    """eta_R = 1 / (1 - PER(p0)): expected transmissions per packet, eq. (3)."""
    with np.errstate(over="ignore"):
        return np.exp(log_retransmissions(gamma0, L_bits, p))


def prompt_latency_terms(v0_bits: float, p: SystemParams = TABLE_I) -> tuple[float, float]:
    """(eta_P, eta_T) of eq. (3): packets |v0|/(r L) and seconds per packet L/(log2(M0) B0)."""
    L = p.packet_bits(v0_bits)
    return v0_bits / (p.code_rate * L), L / (math.log2(p.M0) * p.B0_hz)


def prompt_latency(gamma0, v0_bits: float, p: SystemParams = TABLE_I):
    """Eq. (3): T0(p0) = eta_P * eta_R * eta_T."""
    eta_p, eta_t = prompt_latency_terms(v0_bits, p)
    return eta_p * eta_t * retransmissions(gamma0, p.packet_bits(v0_bits), p)


def snr_gap(ber: float, p: SystemParams = TABLE_I) -> float:
    """alpha / (-ln(beta BER)), the factor in front of gamma_i in eq. (4)."""
    if not 0 < ber < 1 / p.beta:
        raise ValueError(f"target BER must be in (0, {1 / p.beta:g}); got {ber:g}")
    return p.alpha / -math.log(p.beta * ber)


def adaptive_rate(gamma1, ber: float, bandwidth_hz: float, p: SystemParams = TABLE_I):
    """Eq. (4): R_i = B_i log2(1 + alpha gamma_i / (-ln(beta BER_i))) in bit/s."""
    return bandwidth_hz * (np.log1p(snr_gap(ber, p) * np.asarray(gamma1, dtype=float)) / math.log(2))[()]


def adaptive_latency(gamma1, v1_bits: float, ber: float, bandwidth_hz: float, p: SystemParams = TABLE_I):
    """T_i = |v_i| / R_i(p_i, BER_i)."""
    with np.errstate(divide="ignore"):
        return v1_bits / adaptive_rate(gamma1, ber, bandwidth_hz, p)


def mqam_required_snr(M: int, ber: float, p: SystemParams = TABLE_I) -> float:
    """gamma_i at which eq. (4) gives exactly log2(M) bit/symbol: (M - 1)(-ln(beta BER))/alpha,
    i.e. the M-QAM bound BER = (1/beta) exp(-alpha gamma / (M - 1))."""
    return (M - 1) / snr_gap(ber, p)
