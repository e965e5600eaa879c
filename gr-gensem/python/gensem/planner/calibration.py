"""Semantic-quality calibration Phi_j(BER_1) and its generalised inverse (Lemma 1).

A calibration is a table of edge-map BER against normalised quality metrics (Fig. 2 of
Qiao et al.: CLIP/CLIP_0 and MS-SSIM/MS-SSIM_0). The default is the issue's reading of
Fig. 2, whose curves are not in the text: the targets (CLIP, MS-SSIM) = (0.999, 0.991),
(0.997, 0.982), (0.978, 0.918) are met at BER 1e-6, 1e-5, 1e-4. ``gensem calibrate``
(measured by our own receiver) writes a CSV that replaces it: a header ``ber,<metric>...``
then one row per BER; columns ending in ``_std`` or named ``n``/``images`` are ignored.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field

import numpy as np

IGNORED_COLUMNS = ("n", "images", "samples", "edge_dropped")


@dataclass
class Calibration:
    ber: np.ndarray  # ascending, > 0
    metrics: dict[str, np.ndarray]  # name -> normalised quality at each BER
    source: str = "default (Qiao et al. Fig. 2 targets)"
    monotone: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self):
        self.ber = np.asarray(self.ber, dtype=float)
        if self.ber.ndim != 1 or self.ber.size < 1:
            raise ValueError("calibration needs at least one BER row")
        if np.any(~np.isfinite(self.ber)) or np.any(self.ber <= 0) or np.any(self.ber >= 1):
            raise ValueError("calibration BER values must be in (0, 1)")
        order = np.argsort(self.ber)
        if np.any(np.diff(self.ber[order]) == 0):
            raise ValueError("calibration has duplicate BER rows")
        self.ber = self.ber[order]
        if not self.metrics:
            raise ValueError("calibration has no metric columns")
        for name, vals in list(self.metrics.items()):
            v = np.asarray(vals, dtype=float)[order]
            if v.shape != self.ber.shape or np.any(~np.isfinite(v)):
                raise ValueError(f"calibration column {name!r} has missing or non-numeric values")
            self.metrics[name] = v
            # Lemma 1 needs Phi_j non-increasing in BER; record where a measurement breaks it
            self.monotone[name] = bool(np.all(np.diff(v) <= 1e-12))

    @property
    def names(self) -> list[str]:
        return list(self.metrics)

    def quality(self, name: str, ber: float) -> float:
        """Phi_j(BER): linear interpolation in log10(BER), clamped at the table ends."""
        return float(np.interp(math.log10(ber), np.log10(self.ber), self.metrics[name]))

    def inverse(self, name: str, target: float) -> float:
        """Generalised inverse Phi_j^-1(eps): the largest BER such that Phi_j >= eps at every
        BER up to it (conservative where a measured curve is not monotone). Raises ValueError
        when even the lowest calibrated BER misses the target."""
        v = self.metrics[name]
        if v[0] < target:
            raise ValueError(
                f"target {name} = {target:g} is not reachable: the best calibrated value is "
                f"{v[0]:g} at BER {self.ber[0]:g} (add lower-BER rows to the calibration)"
            )
        lb = np.log10(self.ber)
        for i in range(1, v.size):
            if v[i] < target:
                t = (v[i - 1] - target) / (v[i - 1] - v[i])
                return float(10 ** (lb[i - 1] + t * (lb[i] - lb[i - 1])))
        return float(self.ber[-1])  # never below target inside the table: do not extrapolate

    def ber_for_targets(self, targets) -> float:
        """Lemma 1: BER_1 = min_j Phi_j^-1(eps_j); targets map to the metric columns in order."""
        targets = [float(t) for t in targets]
        if not 1 <= len(targets) <= len(self.names):
            raise ValueError(
                f"give 1..{len(self.names)} targets, in the order {','.join(self.names)}; got {len(targets)}"
            )
        for t in targets:
            if not math.isfinite(t) or not 0 < t <= 1:
                raise ValueError(f"normalised quality targets must be in (0, 1]; got {t:g}")
        return min(self.inverse(n, t) for n, t in zip(self.names, targets))


def default_calibration() -> Calibration:
    return Calibration(
        ber=np.array([1e-6, 1e-5, 1e-4]),
        metrics={
            "clip_norm": np.array([0.999, 0.997, 0.978]),
            "ms_ssim_norm": np.array([0.991, 0.982, 0.918]),
        },
    )


def get_calibration(path: str | None = None) -> Calibration:
    """The calibration at ``path`` (a CSV from ``gensem calibrate``), or the default one."""
    return load_calibration(path) if path else default_calibration()


def load_calibration(path: str) -> Calibration:
    """Read a calibration CSV (see the module docstring); ValueError with the reason if bad."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise ValueError(f"cannot read calibration {path}: {exc.strerror or exc}") from None
    if not rows or "ber" not in rows[0]:
        raise ValueError(f"calibration {path} needs a header with a 'ber' column and at least one row")
    cols = [c for c in rows[0] if c and c != "ber" and not c.endswith("_std") and c not in IGNORED_COLUMNS]
    try:
        ber = [float(r["ber"]) for r in rows]
        metrics = {c: [float(r[c]) for r in rows] for c in cols}
    except (TypeError, ValueError):
        raise ValueError(f"calibration {path} has a missing or non-numeric value") from None
    # a BER-0 row is the reference (normalised quality 1 by definition): not usable in log-BER
    keep = [i for i, b in enumerate(ber) if b > 0]
    return Calibration(
        ber=np.array([ber[i] for i in keep]),
        metrics={c: np.array([v[i] for i in keep]) for c, v in metrics.items()},
        source=str(path),
    )
