"""``gensem calibrate``: Fig. 2 of Qiao et al. measured with our own receiver.

For each image and each edge-map BER: flip random bits of the *coded* edge map (the
learned codec's bitstream, as stream 1 would), decode it, generate with the receiver
backend from the prompt and the damaged map, and score the result against the original
(MS-SSIM always; CLIP when a local CLIP model is given). Each metric is normalised by
its value at BER 0 for the same image and seed (CLIP/CLIP_0, MS-SSIM/MS-SSIM_0, §III-C),
then averaged. A prompt-only reference (empty edge map) is measured as well. The CSV
(``ber,<metric>_norm,...``) is what ``gensem plan --calibration`` reads; the PNG plots it.
Monotonicity (Lemma 1 needs non-increasing curves) is checked and every violation listed.
"""

from __future__ import annotations

import csv
import os

import numpy as np

from gensem.semantic.edge_budget import DEFAULT_MAX_BPP

DEFAULT_BERS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


def flip_bits(data: bytes, ber: float, rng) -> bytes:
    bits = np.unpackbits(np.frombuffer(data, np.uint8))
    bits ^= (rng.random(bits.size) < ber).astype(np.uint8)
    return np.packbits(bits).tobytes()


def check_modalities(modalities) -> tuple:
    """``gensem demo``'s modality check, plus the edge map, whose BER calibration sweeps;
    ValueError (one line) otherwise."""
    from gensem.semantic.modalities import check_modalities as check_demo_modalities

    modalities = check_demo_modalities(modalities)
    if "edges" not in modalities:
        raise ValueError("calibration sweeps the edge map's BER: --modalities must include edges")
    return modalities


def reference_label(modalities) -> str:
    """What the no-edge-map reference is generated from: the modalities other than edges."""
    return "+".join(m for m in modalities if m != "edges")


def run_calibration(
    images,
    prompts,
    generate,
    codec,
    out_dir,
    bers=DEFAULT_BERS,
    seeds=(0, 1),
    clip_model=None,
    max_edge_bpp=DEFAULT_MAX_BPP,
    edge_policy="drop-corrupt",
    modalities=("prompt", "edges", "colour"),
    edges="canny",
):
    """Fig. 2: normalised metrics vs edge-map BER. Each image's edge map is coded as the demo
    codes it (``edges``: canny, hed or auto, as ``gensem demo --edges``; detail lowered to fit
    ``max_edge_bpp``; 0 = no limit), and received as
    the receiver receives it (``EdgeCodec.receive`` with ``edge_policy``: with
    ``drop-corrupt`` a map decoded from detectably corrupted bits is replaced by no map; the
    ``edge_dropped`` column is the fraction of such draws). ``modalities`` (must include
    ``edges``, the map whose BER is swept): without ``prompt`` the prompt is empty; with
    ``colour`` every generation also gets the image's colour layout (it rides the ARQ-protected
    stream 0, so it arrives intact). The ``prompt_only`` reference is the generation without the
    edge map (from what else was sent; None when edges are all that was sent). With edges
    alone a dropped map leaves nothing to generate from: that draw scores 0."""
    from gensem.core import colour_layout
    from gensem.core.edge_codec import conditioning_map, received_conditioning
    from gensem.core.images import fit_image, load_image
    from gensem.core.metrics import evaluate
    from gensem.semantic.edge_budget import edge_detail, fit_edge_budget
    from gensem.semantic.edges import resolve_method

    edges = resolve_method(edges)

    os.makedirs(out_dir, exist_ok=True)
    names = ["ms_ssim"] + (["clip"] if clip_model else [])
    acc = {b: {n: [] for n in names} for b in bers}
    dropped = {b: [] for b in bers}
    prompt_only = {n: [] for n in names}
    modalities = check_modalities(modalities)
    with_prompt, with_colour = "prompt" in modalities, "colour" in modalities
    for path, prompt in zip(images, prompts):
        img = fit_image(load_image(path), codec.size)
        prompt = prompt if with_prompt else ""
        kw = {"colour": colour_layout.encode(img)} if with_colour else {}
        data = fit_edge_budget(edge_detail(img, edges), codec, max_edge_bpp)["bits"]
        ref_edges = conditioning_map(codec.decompress(data)[0])
        for seed in seeds:
            ref = evaluate(img, generate(prompt, ref_edges, seed=seed, **kw), clip_model=clip_model, lpips=False)
            if with_prompt or with_colour:
                po = evaluate(
                    img, generate(prompt, np.zeros_like(ref_edges), seed=seed, **kw), clip_model=clip_model,
                    lpips=False,
                )  # fmt: skip
                for n in names:
                    prompt_only[n].append(po[n] / ref[n])
            rng = np.random.default_rng(seed)
            for b in bers:
                x, info = codec.receive(flip_bits(data, b, rng), edge_policy)
                dropped[b].append(not info["used"])
                rx = received_conditioning(x, info)
                if not (with_prompt or with_colour or info["used"]):  # edges alone, and dropped: no image
                    for n in names:
                        acc[b][n].append(0.0)
                    continue
                m = evaluate(img, generate(prompt, rx, seed=seed, **kw), clip_model=clip_model, lpips=False)
                for n in names:
                    acc[b][n].append(m[n] / ref[n])
    rows = [
        {
            "ber": b,
            **{f"{n}_norm": float(np.mean(acc[b][n])) for n in names},
            **{f"{n}_norm_std": float(np.std(acc[b][n])) for n in names},
            "n": len(acc[b][names[0]]),
            "edge_dropped": float(np.mean(dropped[b])),
        }
        for b in bers
    ]
    ref_row = {f"{n}_norm": float(np.mean(prompt_only[n])) if prompt_only[n] else None for n in names}
    csv_path = os.path.join(out_dir, "calibration.csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    violations = []
    for n in names:
        v = [r[f"{n}_norm"] for r in rows]
        for i in range(1, len(v)):
            if v[i] > v[i - 1] + 1e-12:
                violations.append(
                    {
                        "metric": n,
                        "ber_from": rows[i - 1]["ber"],
                        "ber_to": rows[i]["ber"],
                        "rise": v[i] - v[i - 1],
                    }
                )
    png = _plot(rows, ref_row, names, os.path.join(out_dir, "calibration.png"), modalities)
    return {
        "csv": csv_path,
        "png": png,
        "rows": rows,
        "prompt_only": ref_row,
        "edges": edges,
        "metrics": names,
        "monotone": not violations,
        "violations": violations,
        "images": list(images),
        "seeds": list(seeds),
        "edge_policy": edge_policy,
        "modalities": list(modalities),
    }


def _plot(rows, ref_row, names, path, modalities=("prompt", "edges")):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    sent, rest = "+".join(modalities), reference_label(modalities)
    for n in names:
        ax.semilogx([r["ber"] for r in rows], [r[f"{n}_norm"] for r in rows], "o-", label=f"{n}, {sent}")
        if ref_row[f"{n}_norm"] is not None:
            ax.axhline(ref_row[f"{n}_norm"], ls="--", lw=1, label=f"{n}, {rest} only (no edge map)")
    ax.set_xlabel("edge-map BER")
    ax.set_ylabel("normalised metric")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
