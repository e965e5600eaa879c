"""PNG figures of ``gensem jscc eval``: metrics vs SNR (Fig. 3 style) and a reconstruction grid."""

from __future__ import annotations

import numpy as np


def metrics_vs_snr_png(curves: dict, cbr: float, path: str) -> str:
    """``curves`` = {snr_db: [result rows]} -> PSNR and MS-SSIM vs SNR, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    snrs = sorted(curves)
    methods = [r["method"] for r in curves[snrs[0]]]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((axes[0], "psnr", "PSNR (dB)"), (axes[1], "ms_ssim", "MS-SSIM")):
        for m in methods:
            ys = [next((r.get(key) for r in curves[s] if r["method"] == m), None) for s in snrs]
            ys = [np.nan if y is None else y for y in ys]
            ax.plot(snrs, ys, marker="o", label=m)
        ax.set_xlabel("SNR (dB), AWGN")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"CBR {cbr:.4f} (learned models trained at one SNR)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def reconstruction_grid_png(images, report: dict, path: str, max_rows: int = 4, scale: int = 3) -> str:
    """Rows: images; columns: the original then each method's reconstruction (downscaled)."""
    from PIL import Image, ImageDraw

    rows = [r for r in report["results"] if r.get("recon")]
    n = min(len(images), max_rows)
    h, w = images[0][1].shape[:2]
    th, tw = h // scale, w // scale  # tile size: the first image's; others keep their aspect
    canvas = Image.new("RGB", (tw * (len(rows) + 1), (th + 14) * n), "white")
    draw = ImageDraw.Draw(canvas)
    for i in range(n):
        cols = [("original", images[i][1])] + [(r["method"], r["recon"][i]) for r in rows]
        for j, (label, img) in enumerate(cols):
            tile = Image.fromarray(img)
            tile.thumbnail((tw, th), Image.LANCZOS)  # letterboxed, never stretched (native sizes)
            x0, y0 = j * tw + (tw - tile.width) // 2, i * (th + 14) + 14 + (th - tile.height) // 2
            canvas.paste(tile, (x0, y0))
            draw.text((j * tw + 3, i * (th + 14) + 1), label, fill="black")
    canvas.save(path)
    return path
