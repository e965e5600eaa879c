"""Monte Carlo prompt packet error rate of our stream-0 chain, for eq. (2)'s fit
(``gensem.planner.per_fit``; ``gensem plan --fit-per``). It runs the link's own functions:
``prompt_packet.build``, ``frame_builder.encode_prompt_packet`` (scrambler, gr-fec K=7 rate-1/2
code, interleaver), QPSK, AWGN or Rayleigh block fading (one CN(0, 1) gain per packet,
equalised with the known gain), the receiver's soft QPSK demapper, deinterleaver, Viterbi
decoder, descrambler and CRC check.
"""

from __future__ import annotations

import math

import numpy as np

from gensem.planner.per_fit import CHANNELS, fit, model_per

PAYLOADS = (16, 64, 256)  # prompt bytes: a short, a typical and a long prompt
SNRS_DB = tuple(np.arange(-4.0, 14.01, 1.0))


def simulate_per(payload_bytes: int, snr_db: float, channel: str, n_packets: int, seed: int = 0) -> dict:
    """Packet errors of ``n_packets`` stream-0 packets of ``payload_bytes`` at Es/N0 ``snr_db``."""
    from gensem.dsp import prompt_packet, qam, scrambler
    from gensem.dsp.conv_code import ConvCode
    from gensem.dsp.frame_builder import encode_prompt_packet, interleaver

    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {CHANNELS}, got {channel!r}")
    rng = np.random.default_rng(seed)
    code = ConvCode()
    n0 = 10 ** (-snr_db / 10)
    errors = 0
    for i in range(int(n_packets)):
        payload = rng.integers(0, 256, payload_bytes, dtype=np.uint8).tobytes()
        packet = prompt_packet.build(i & 0xFFFF, payload, session=int(rng.integers(1, 1 << 32)))
        coded = encode_prompt_packet(packet, code)
        x = qam.modulate(coded, 4)
        h = 1.0
        if channel == "rayleigh":
            h = (rng.standard_normal() + 1j * rng.standard_normal()) / math.sqrt(2)
        noise = (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size)) * math.sqrt(n0 / 2)
        z = (h * x + noise) / h
        soft = qam.qpsk_soft(z, abs(h) ** 2)
        deint = np.empty_like(soft)
        deint[interleaver(soft.size)] = soft
        bits = code.decode(deint, 8 * len(packet))
        got = np.packbits(scrambler.descramble(bits)).tobytes()
        errors += prompt_packet.parse(got) is None
    return {
        "payload_bytes": payload_bytes,
        "packet_bits": 8 * len(packet),
        "snr_db": float(snr_db),
        "channel": channel,
        "packets": int(n_packets),
        "errors": int(errors),
    }


def run_fit(
    n_packets: int = 2000, payloads=PAYLOADS, snrs_db=SNRS_DB, seed: int = 0, progress=None, client=None
):
    """Every (channel, length, SNR) point, then the fits. Each point is independent and seeded
    by its index, so with a Dask ``client`` (``dask_client``) the points run in parallel and
    the result is the same as the serial run."""
    jobs = [(nb, s, ch, n_packets, seed + i) for i, (ch, nb, s) in enumerate(
        (ch, nb, s) for ch in CHANNELS for nb in payloads for s in snrs_db
    )]
    if client is not None:
        futures = client.map(lambda job: simulate_per(*job), jobs, pure=False)
        points = client.gather(futures)
    else:
        points = []
        for job in jobs:
            if progress:
                progress(job[2], job[0], job[1])
            points.append(simulate_per(*job))
    fits = {ch: fit([p for p in points if p["channel"] == ch]) for ch in CHANNELS}
    return {
        "model": "eq. (2): -gamma0 ln(1 - PER) = k ln L + b",
        "fits": fits,
        "points": points,
        "paper": {"k": 0.374, "b": -0.31},
        "packets_per_point": n_packets,
    }


def write_png(report: dict, path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, ch in zip(axes, CHANNELS):
        pts = [p for p in report["points"] if p["channel"] == ch]
        for bits in sorted({p["packet_bits"] for p in pts}):
            ps = [p for p in pts if p["packet_bits"] == bits]
            s = np.array([p["snr_db"] for p in ps])
            per = np.array([max(p["errors"], 0.5) / p["packets"] for p in ps])  # 0 errors: drawn at 0.5
            (line,) = ax.semilogy(s, per, "o", ms=4, label=f"measured, L = {bits} bits")
            grid = np.linspace(s.min(), s.max(), 200)
            f = report["fits"][ch]
            ax.semilogy(grid, model_per(grid, bits, f["k"], f["b"]), "-", color=line.get_color(), lw=1)
            ax.semilogy(grid, model_per(grid, bits, 0.374, -0.31), ":", color=line.get_color(), lw=1)
        f = report["fits"][ch]
        ax.set_title(f"{ch}: fit k = {f['k']:.3f}, b = {f['b']:.3f} (dotted: paper)", fontsize=9)
        ax.set_xlabel("prompt Es/N0 (dB)")
        ax.set_ylim(1e-4, 1.2)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("packet error rate")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path




def dask_client(workers: int | None = None, scheduler: str | None = None):
    """A Dask client: ``scheduler`` (an address, e.g. tcp://head:8786) uses an existing
    cluster; ``workers`` N starts a local cluster of N single-threaded processes."""
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("--workers/--scheduler need Dask: pip install 'dask[distributed]'") from None
    if scheduler:
        try:
            return Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    if not workers or workers < 1:
        raise ValueError("--workers must be >= 1")
    # a client that starts its own local cluster also shuts it down on close()
    return Client(n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=None)
