"""SigMF files of gensem recordings: metadata writer and reader (``sigmf`` package).

A recording is ``<base>.sigmf-data`` (cf32_le samples at the RX input) plus
``<base>.sigmf-meta``: core sample rate, frequency, datetime, the ``gensem`` extension
(gain_db, snr_db and the link parameters needed to decode and score it: prbs_seed,
prbs_bytes, n_prompt_carriers, text, ...) and one annotation per transmitted frame.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

EXT = "gensem"
EXT_VERSION = "0.1.0"
DATA_SUFFIX = ".sigmf-data"
META_SUFFIX = ".sigmf-meta"


def base_path(path) -> Path:
    """Strip a .sigmf-data / .sigmf-meta / .sigmf suffix."""
    p = Path(path)
    for suf in (DATA_SUFFIX, META_SUFFIX, ".sigmf"):
        if p.name.endswith(suf):
            return p.with_name(p.name[: -len(suf)])
    return p


def data_path(path) -> Path:
    b = base_path(path)
    return b.with_name(b.name + DATA_SUFFIX)


def meta_path(path) -> Path:
    b = base_path(path)
    return b.with_name(b.name + META_SUFFIX)


def _clean(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    return v


def write_meta(
    base,
    samp_rate,
    center_freq=0.0,
    gain_db=None,
    snr_db=None,
    description="",
    extra=None,
    annotations=(),
) -> Path:
    from sigmf import SigMFFile

    g = {
        "core:datatype": "cf32_le",
        "core:sample_rate": float(samp_rate),
        "core:version": _sigmf_version(),
        "core:description": description or "gensem two-stream OFDM recording (RX input)",
        "core:recorder": "gensem",
        "core:extensions": [{"name": EXT, "version": EXT_VERSION, "optional": True}],
    }
    if gain_db is not None:
        g[f"{EXT}:gain_db"] = float(gain_db)
    if snr_db is not None:
        g[f"{EXT}:snr_db"] = float(snr_db)
    for k, v in (extra or {}).items():
        g[f"{EXT}:{k}"] = _clean(v)
    meta = SigMFFile(global_info=g, skip_checksum=True)
    meta.add_capture(
        0,
        metadata={
            "core:frequency": float(center_freq),
            "core:datetime": datetime.datetime.now(datetime.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        },
    )
    for a in annotations:
        a = dict(a)
        start, count = int(a.pop("sample_start")), int(a.pop("sample_count"))
        md = {"core:label": str(a.pop("label", ""))}
        md.update({(k if ":" in k else f"{EXT}:{k}"): _clean(v) for k, v in a.items()})
        meta.add_annotation(start, count, metadata=md)
    out = meta_path(base)
    meta.tofile(str(out), overwrite=True, skip_validate=False)
    return out


def _sigmf_version() -> str:
    import sigmf

    return getattr(sigmf, "__specification__", "1.2.0")


def read_recording(path) -> tuple[dict, dict, Path]:
    """(global dict, first capture dict, data path) of a recording; ValueError with the
    fix when it is missing, malformed or not cf32_le."""
    mp, dp = meta_path(path), data_path(path)
    if not mp.is_file():
        raise ValueError(f"no SigMF metadata at {mp}; give the .sigmf-meta/.sigmf-data base name")
    if not dp.is_file():
        raise ValueError(f"no SigMF data file at {dp}")
    import warnings

    from sigmf import sigmffile

    try:
        with warnings.catch_warnings():  # e.g. "data ends before the final annotation": we check below
            warnings.simplefilter("ignore")
            rec = sigmffile.fromfile(str(mp), skip_checksum=True)
    except Exception as exc:  # sigmf raises several error types for bad files
        raise ValueError(f"{mp} is not valid SigMF: {type(exc).__name__}: {exc}") from None
    g = rec.get_global_info()
    if g.get("core:datatype") != "cf32_le":
        raise ValueError(f"{mp}: datatype {g.get('core:datatype')!r} not supported; gensem replays cf32_le")
    if dp.stat().st_size % 8:
        raise ValueError(f"{dp}: size {dp.stat().st_size} is not a whole number of cf32 samples")
    caps = rec.get_captures()
    return g, (caps[0] if caps else {}), dp
