"""System parameters of the latency-aware planner: Table I of Qiao et al.

All quantities in SI units (W, Hz, W/Hz). ``L_bits=None`` means L = |v0| (one packet).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


def db_to_lin(db: float) -> float:
    return 10.0 ** (db / 10.0)


def dbm_to_w(dbm: float) -> float:
    return 10.0 ** ((dbm - 30.0) / 10.0)


@dataclass(frozen=True)
class SystemParams:
    """Table I defaults. ``max_transmissions`` bounds the prompt's expected transmissions
    eta_R that a plan may rely on (the ARQ gives up after 1 + 32 retries by default)."""

    L_bits: int | None = None  # prompt packet length L; None -> |v0|
    code_rate: float = 0.5  # r
    M0: int = 4  # prompt modulation order (QPSK)
    k: float = 0.374  # PER fit of eq. (2)
    b: float = -0.31
    alpha: float = 1.5  # adaptive-rate fit of eq. (4)
    beta: float = 5.0
    P_T_w: float = 10e-3  # 10 mW
    eps0_db: float = -30.0  # path loss at d0 = 1 m
    phi: float = 3.4  # path-loss exponent
    N0_dbm_hz: float = -174.0
    B0_hz: float = 1e6
    B1_hz: float = 1e6
    max_transmissions: float = 33.0
    baseline_ber: float = 1e-7  # semantic-unaware single stream (section III-E)
    # not in the paper: the discrete plan keeps the prompt's Es/N0 at least this high (dB);
    # eq. (2) expects PER 0.95 at -3 dB where a real K=7 r=1/2 QPSK packet never gets through
    min_prompt_snr_db: float | None = None

    @property
    def N0_w_hz(self) -> float:
        return dbm_to_w(self.N0_dbm_hz)

    def packet_bits(self, v0_bits: float) -> float:
        return float(v0_bits if self.L_bits is None else self.L_bits)

    def validate(self) -> "SystemParams":
        checks = [
            (self.P_T_w > 0, "the power budget P_T must be > 0 W"),
            (self.B0_hz > 0 and self.B1_hz > 0, "bandwidths B0 and B1 must be > 0 Hz"),
            (0 < self.code_rate <= 1, "the prompt code rate r must be in (0, 1]"),
            (self.M0 >= 2, "the prompt modulation order M0 must be >= 2"),
            (self.alpha > 0 and self.beta > 0, "alpha and beta of eq. (4) must be > 0"),
            (self.phi > 0, "the path-loss exponent must be > 0"),
            (self.L_bits is None or self.L_bits > 0, "the packet length L must be > 0 bits"),
            (self.max_transmissions >= 1, "max_transmissions must be >= 1"),
            (0 < self.baseline_ber < 1 / self.beta, f"baseline BER must be in (0, {1 / self.beta:g})"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)
        return self

    def with_(self, **kw) -> "SystemParams":
        return replace(self, **kw).validate()


TABLE_I = SystemParams()
