"""``gensem sweep``: BER (stream 1) or PER (stream 0) vs SNR over the real loopback
flowgraph, with the theoretical M-QAM curve overlaid; writes ``sweep.png`` and
``sweep.json``.

Each SNR point is one independent ``sweep_point(cfg)`` call: a fresh flowgraph whose noise,
fading and PRBS generators are seeded by ``cfg.seed`` (the same ``--seed`` at every SNR, as
before), with nothing shared between points. So with a Dask ``client``
(``gensem.dsp.prompt_per.dask_client``) the points run in worker processes, each of which
imports GNU Radio itself, and the rows are those of the serial run.
"""

from __future__ import annotations

import json
import os

from gensem.apps.link import run_link, stream_reports
from gensem.dsp.theory import ber_mqam_awgn, ber_mqam_rayleigh


def sweep_point(cfg) -> dict:
    """One SNR point: run the loopback for ``cfg`` and return its row (module level, so Dask
    workers can unpickle it)."""
    r = run_link(cfg)
    row = {"snr_db": cfg.snr_db}
    a, pr = stream_reports(cfg, r)
    if a is not None:
        es_n0 = cfg.stream_es_n0_db[1]  # theory at stream 1's Es/N0 (power split included)
        theory = (ber_mqam_rayleigh if cfg.channel == "rayleigh" else ber_mqam_awgn)(es_n0, cfg.mod)
        row.update(
            ber=a["ber"],
            bits=a["bits"],
            bit_errors=a["bit_errors"],
            ber_theory=float(theory[0] if hasattr(theory, "__len__") else theory),
            per=a["per"],
            snr_est_db=a["snr_est_db"],
        )
    if pr is not None:
        row.update(
            prompt_delivered=pr["delivered"],
            prompt_transmissions=pr["transmissions"],
            prompt_per=1 - 1 / pr["transmissions"] if pr["transmissions"] else None,
        )
    return row


def _worker_point(cfg) -> dict:
    """``sweep_point`` in a Dask worker process, with GNU Radio's log at ``warn`` as the
    ``gensem`` command sets it (its info lines would go to stdout, into ``--json``)."""
    from gnuradio import gr

    gr.logging().set_default_level(gr.log_levels.warn)
    return sweep_point(cfg)


def sweep_points(cfgs, progress: bool = False, client=None) -> list[dict]:
    """The rows of every config, in order: serially here, or on the Dask ``client``'s workers."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(cfgs), desc="gensem sweep", unit="SNR")
    try:
        if client is not None:  # all points submitted at once; rows collected in order
            rows = (f.result() for f in client.map(_worker_point, cfgs, pure=False))
        else:
            rows = (sweep_point(cfg) for cfg in cfgs)
        points = []
        for row in rows:
            points.append(row)
            if bar is not None:
                bar.update()
        return points
    finally:
        if bar is not None:
            bar.close()


def run_sweep(cfgs, out_dir: str, progress: bool = False, client=None) -> dict:
    """Every SNR point (``sweep_points``), then the plot and the JSON in ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    points = sweep_points(cfgs, progress, client)
    c0 = cfgs[0]
    result = {
        "stream": c0.stream,
        "mod": c0.mod,
        "channel": c0.channel,
        "frames": c0.frames,
        "seed": c0.seed,
        "points": points,
        "png": os.path.join(out_dir, "sweep.png"),
        "json": os.path.join(out_dir, "sweep.json"),
    }
    if not c0.impairments.is_ideal:  # the simulated radios (gensem link --radio-profile ...)
        result["impairments"] = c0.impairments.as_dict()
        result["radio"] = c0.impairments.describe()
    _plot(result)
    with open(result["json"], "w") as fh:
        json.dump(result, fh, indent=2)
    return result


def _plot(result):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    pts = result["points"]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    if "ber" in pts[0]:
        x = np.array([p["snr_db"] for p in pts])
        ber = np.array([p["ber"] if p["ber"] else np.nan for p in pts], dtype=float)
        ax.semilogy(x, np.where(ber > 0, ber, np.nan), "o-", label=f"gensem {result['mod']}-QAM (measured)")
        xt = np.linspace(x.min(), x.max(), 200)
        f = ber_mqam_rayleigh if result["channel"] == "rayleigh" else ber_mqam_awgn
        offset = [p["snr_db"] for p in pts]
        ax.semilogy(
            xt,
            f(xt, result["mod"])
            if result["stream"] != "both"
            else np.interp(xt, offset, [p["ber_theory"] for p in pts]),
            "k--",
            label="theory",
        )
        ax.set_ylabel("bit error rate")
    else:
        x = [p["snr_db"] for p in pts]
        ax.semilogy(
            x, [max(p["prompt_per"] or 0, 1e-4) for p in pts], "s-", label="prompt PER (1 - 1/transmissions)"
        )
        ax.set_ylabel("packet error rate")
    ax.set_xlabel("SNR (dB)")
    title = f"gensem sweep: {result['stream']}, {result['channel']}"
    if "radio" in result:
        import textwrap

        title += "\n" + textwrap.fill("radio: " + result["radio"], 80)
    ax.set_title(title, fontsize=8 if "radio" in result else None)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(result["png"], dpi=120)
    plt.close(fig)
