"""``gensem jscc eval``: CDM-JSCC-P/-D, DeepJSCC, HEVC+LDPC and HEVC+capacity on the same images,
same SNR and CBR, one row per method (the comparison of Fig. 3 of the CDM-JSCC paper).

Images are fitted to 768 x 512 (the Kodak size of the paper: resized to cover, centre-cropped),
or, with ``size=None`` (``--native``), kept at their own resolution and only centre-cropped to
multiples of 64 (the models' largest stride); the CDM-JSCC beta then makes the average of the
per-image CBRs the target. The AWGN channel is simulated
here (``gensem jscc send --over-link`` uses the OFDM flowgraph instead). CDM-JSCC picks one beta
for the whole image set so that the *average* CBR is the target ("average CBR = 1/48"), and each
image gets its own rate; DeepJSCC's CBR is fixed by its architecture; the HEVC baselines fill
their bit budget. ``decode_s`` is the receiver-side wall time per image (f_d + g_d, the
DeepJSCC decoder, LDPC + HEVC decoding). ``lpips`` is null when LPIPS weights are not on disk,
``fid`` when Inception weights are not (``lpips_note`` / ``fid_note`` say why).
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

METHODS = ("cdm-jscc-p", "cdm-jscc-d", "deepjscc", "hevc+ldpc", "hevc+capacity")
IMAGE_SIZE = (768, 512)  # (w, h)
COLOUR_LAYOUT = ("cdm", "all", "none")  # which learned methods send the colour layout (evaluate)
NATIVE_MULTIPLE = 64  # native-size evaluation: sides cropped to multiples of the largest stride
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def crop_to_multiple(img: np.ndarray, multiple: int = NATIVE_MULTIPLE) -> np.ndarray:
    """The centred crop of ``img`` whose sides are multiples of ``multiple``: native
    resolution, no resampling (a side shorter than ``multiple`` is a ValueError)."""
    from gensem.core.images import fit_image

    img = np.asarray(img)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    h, w = img.shape[:2]
    nh, nw = h - h % multiple, w - w % multiple
    if nh == 0 or nw == 0:
        raise ValueError(f"a {w}x{h} image is smaller than the models' {multiple}-pixel stride")
    y0, x0 = (h - nh) // 2, (w - nw) // 2
    return fit_image(img[y0 : y0 + nh, x0 : x0 + nw], (nw, nh))  # same size: only checks, RGB


def load_images(spec: str, split: str | None = "val", size=IMAGE_SIZE) -> list[tuple[str, np.ndarray]]:
    """A directory (its ``manifest.json`` ``split`` when present, else every image) or one file,
    fitted to ``size``; ``skimage:NAME`` for a scikit-image picture. ``size=None``: native
    resolution, each image centre-cropped to multiples of ``NATIVE_MULTIPLE`` (no resize)."""
    from gensem.core.images import fit_image as _fit, load_image, split_names

    def fit_image(img, size):
        return crop_to_multiple(img) if size is None else _fit(img, size)

    if spec.startswith("skimage:"):
        import skimage.data

        fn = getattr(skimage.data, spec.split(":", 1)[1], None)
        if fn is None:
            raise ValueError(f"no scikit-image image {spec!r}")
        img = np.asarray(fn())
        img = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]
        return [(spec.split(":", 1)[1], fit_image(img, size))]
    if os.path.isfile(spec):
        return [(os.path.splitext(os.path.basename(spec))[0], fit_image(load_image(spec), size))]
    if not os.path.isdir(spec):
        raise ValueError(f"{spec} is neither an image file nor a directory")
    if split and os.path.isfile(os.path.join(spec, "manifest.json")):
        names = [n + ".png" for n in split_names(spec, split)]
    else:
        names = sorted(n for n in os.listdir(spec) if n.lower().endswith(IMAGE_EXT))
    if not names:
        raise ValueError(f"no images in {spec}" + (f" (split {split!r})" if split else ""))
    return [(os.path.splitext(n)[0], fit_image(load_image(os.path.join(spec, n)), size)) for n in names]


def _metrics(ref: np.ndarray, rec: np.ndarray, want_lpips: bool) -> dict:
    from gensem.core.metrics import lpips_distance, mean_colour_error, ms_ssim, psnr

    out = {"psnr": psnr(ref, rec), "ms_ssim": ms_ssim(ref, rec)[0], "lpips": None, "lpips_note": "not requested"}
    out["colour_error"] = mean_colour_error(ref, rec)  # 8-bit levels: is the overall colour right
    if want_lpips:
        out["lpips"], out["lpips_note"] = lpips_distance(ref, rec)
    return out


def fid_note() -> str:
    """Why ``fid`` is null: FID needs Inception-v3 weights, which are not on disk here (no
    download is attempted), and a set of tens of images is far too small for a stable FID."""
    import torch

    path = os.path.join(torch.hub.get_dir(), "checkpoints", "pt_inception-2015-12-05-6726825d.pth")
    state = "on disk" if os.path.isfile(path) else "not on disk"
    return f"not computed: Inception-v3 weights {state} ({path}); FID over a few tens of images is not meaningful"


def _to_tensor(img: np.ndarray):
    import torch

    return torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0


def _to_uint8(x) -> np.ndarray:
    from gensem.core.cdm_jscc.receive import to_uint8  # torch: imported when first needed

    return to_uint8(x)


def side_info_blob(enc: dict, model, colour: bytes = b"") -> bytes:
    """The side information the decoder needs for one encoded image (hyper-latent string +
    per-vector lengths [+ colour layout] + header and CRC: ``side_info.pack``)."""
    from gensem.core.cdm_jscc import side_info

    c = model.config
    return side_info.pack(
        enc["z_strings"][0], enc["z_hw"], enc["image_hw"], enc["lengths"][0], c["unit"], c["max_len"], colour
    )


def side_info_bytes(enc: dict, model, colour: bytes = b"") -> int:
    """Bytes of ``side_info_blob``."""
    return len(side_info_blob(enc, model, colour))


def side_cbr_at_capacity(n_bytes: int, snr_db: float, image_hw) -> float:
    """Channel uses of ``n_bytes`` sent at the AWGN capacity log2(1 + SNR) bit per complex
    channel use, per source dimension (3 H W): the side information's share of the CBR."""
    h, w = image_hw
    return 8 * n_bytes / math.log2(1 + 10 ** (snr_db / 10)) / (3 * h * w)


def run_cdm(
    model,
    images,
    snr_db: float,
    cbr: float,
    steps: int,
    seed: int = 0,
    init_scale: float = 1.0,
    colour: bool = True,
) -> list[dict]:
    """Encode -> AWGN -> decode per image, at a total CBR of ``cbr`` counted honestly: the
    decoder needs the side information (hyper-latent + lengths [+ the colour layout when
    ``colour``]), charged at capacity at ``snr_db``; the JSCC symbols get what is left, one
    beta for the set. The colour layout sets the output's coarse colours (``cdm_jscc.colour``)."""
    import torch

    from gensem.core.cdm_jscc import awgn
    from gensem.core.cdm_jscc import colour as colour_mod
    from gensem.core.cdm_jscc.rate import find_beta, vector_bits

    for name, img in images:
        if img.shape[0] % model.multiple or img.shape[1] % model.multiple:
            raise ValueError(f"image {name} ({img.shape[1]}x{img.shape[0]}) is not a multiple of {model.multiple}")
    analyses = [model.analyse(_to_tensor(img)) for _, img in images]
    bits = [vector_bits(a["y_likelihoods"]) for a in analyses]  # per image: sizes may differ
    c = model.config
    # the side information does not depend on beta (z and the number of vectors are fixed)
    layouts = [colour_mod.layout(img) if colour else b"" for _, img in images]
    side = [side_info_bytes(model.encode_analysed(a, beta=1.0), model, lay) for a, lay in zip(analyses, layouts)]
    side_cbr = [side_cbr_at_capacity(n, snr_db, img.shape[:2]) for n, (_, img) in zip(side, images)]
    symbol_cbr = cbr - float(np.mean(side_cbr))
    if symbol_cbr <= 0:
        raise ValueError(
            f"the side information alone needs CBR {np.mean(side_cbr):.4f} at {snr_db:g} dB, over the "
            f"budget {cbr:.4f}: raise --cbr or the SNR"
        )
    try:
        beta = find_beta(bits, symbol_cbr, [img.shape[:2] for _, img in images], c["unit"], c["max_len"])
    except ValueError as exc:
        raise ValueError(
            f"the side information takes CBR {np.mean(side_cbr):.4f} of the {cbr:.4f} budget at {snr_db:g} dB "
            f"(at capacity), and the JSCC symbols cannot fit the rest: {exc}"
        ) from None
    rows = []
    for i, a in enumerate(analyses):
        g = torch.Generator().manual_seed(seed + i)
        enc = model.encode_analysed(a, beta=beta)
        rx = [awgn(s, snr_db, generator=g) for s in enc["symbols"]]
        t0 = time.perf_counter()
        out = model.decode(
            rx, enc["lengths"], enc["z_strings"], enc["z_hw"], enc["image_hw"], steps, g, init_scale=init_scale
        )
        recon, _ = colour_mod.apply(_to_uint8(out), layouts[i])
        sym = float(enc["cbr"][0])
        rows.append(
            {
                "recon": recon,
                "cbr": sym + side_cbr[i],
                "cbr_symbols": sym,
                "cbr_side": side_cbr[i],
                "side_info_bytes": side[i],
                "colour_layout_bytes": len(layouts[i]),
                "decode_s": time.perf_counter() - t0,
            }
        )
    return rows


def run_deepjscc(model, images, snr_db: float, seed: int = 0, colour: bool = False) -> list[dict]:
    """DeepJSCC as published (CBR fixed by its architecture); ``colour``: the colour layout on
    top, sent at capacity and counted in ``cbr`` (so above the architecture's CBR)."""
    import torch

    from gensem.core.cdm_jscc import awgn
    from gensem.core.cdm_jscc import colour as colour_mod

    rows = []
    with torch.no_grad():
        for i, (_, img) in enumerate(images):
            s = awgn(model.encode(_to_tensor(img)), snr_db, generator=torch.Generator().manual_seed(seed + i))
            lay = colour_mod.layout(img) if colour else b""  # transmitter work: not in decode_s
            t0 = time.perf_counter()
            out = model.decode(s)
            recon, _ = colour_mod.apply(_to_uint8(out), lay)
            row = {"recon": recon, "cbr": model.cbr, "decode_s": time.perf_counter() - t0}
            if colour:
                row["cbr_side"] = side_cbr_at_capacity(len(lay), snr_db, img.shape[:2])
                row.update(cbr=model.cbr + row["cbr_side"], cbr_symbols=model.cbr, colour_layout_bytes=len(lay))
            rows.append(row)
    return rows


def run_hevc(method: str, images, snr_db: float, cbr: float, seed: int = 0) -> list[dict]:
    from gensem.jscc.ldpc_qam import LdpcQamLink, select_link
    from gensem.jscc.separation_baselines import hevc_capacity, hevc_ldpc

    link = None
    if method == "hevc+ldpc":  # one (code, M) for the SNR, chosen once
        choice = select_link(float(snr_db))
        link = LdpcQamLink(choice["code"], choice["M"])
    rows = []
    for i, (_, img) in enumerate(images):
        if method == "hevc+ldpc":
            r = hevc_ldpc(img, snr_db, cbr, np.random.default_rng(seed + i), link=link)
        else:
            r = hevc_capacity(img, snr_db, cbr)
        rows.append(
            {"recon": r["recon"], "cbr": r["cbr"], "decode_s": r["decode_s"], "decoded": r["decoded"]}
        )
    return rows


def load_model(method: str, weights_dir: str | None = None):
    """(model, recipe) of a learned method from ``weights_dir`` or the shipped weights."""
    from gensem.core.cdm_jscc import checkpoint

    name = os.path.basename(checkpoint.SHIPPED[method])
    path = os.path.join(weights_dir, name) if weights_dir else checkpoint.SHIPPED[method]
    model, ckpt = checkpoint.load(path)
    return model, ckpt.get("recipe", {})


def evaluate(
    images,
    snr_db: float,
    cbr: float,
    methods=METHODS,
    steps: int | None = None,
    weights_dir: str | None = None,
    want_lpips: bool = True,
    seed: int = 0,
    keep_recon: bool = False,
    progress=None,
    models: dict | None = None,
    init_scale: float | None = None,
    colour_layout: str = "cdm",
) -> dict:
    """{"results": [one row per method], ...}; a method that cannot run gets ``error``, not an exception.

    ``models``: a dict that keeps the loaded checkpoints between calls (one load for an SNR sweep).
    ``colour_layout``: which learned methods send the colour layout (``cdm_jscc.colour``):
    "cdm" (CDM-JSCC, within its CBR budget), "all" (DeepJSCC too, on top of its fixed CBR),
    "none" (the paper's methods as published).
    """
    if colour_layout not in COLOUR_LAYOUT:
        raise ValueError(f"colour_layout must be one of {', '.join(COLOUR_LAYOUT)}, got {colour_layout!r}")
    import torch

    torch.manual_seed(seed)
    models = {} if models is None else models
    results = []
    for method in methods:
        if progress:
            progress(method)
        row: dict = {"method": method}
        try:
            if method in ("hevc+ldpc", "hevc+capacity"):
                per = run_hevc(method, images, snr_db, cbr, seed)
            else:
                if method not in models:
                    models[method] = load_model(method, weights_dir)
                model, recipe = models[method]
                row["trained_snr_db"] = recipe.get("snr_db")
                if method == "deepjscc":
                    per = run_deepjscc(model, images, snr_db, seed, colour=colour_layout == "all")
                else:
                    n = int(steps or recipe.get("sample_steps") or 1)
                    scale = float(init_scale or recipe.get("init_scale") or 1.0)
                    row["steps"], row["init_scale"] = n, scale
                    per = run_cdm(model, images, snr_db, cbr, n, seed, scale, colour=colour_layout != "none")
        except (ValueError, ImportError, RuntimeError) as exc:
            row.update(psnr=None, ms_ssim=None, lpips=None, fid=None, cbr=None, decode_s=None)
            from gensem.core.errors import first_line

            row["error"] = first_line(exc, 300, with_type=False)
            results.append(row)
            continue
        scores = [_metrics(img, r["recon"], want_lpips) for (_, img), r in zip(images, per)]
        for key in ("psnr", "ms_ssim"):
            vals = [s[key] for s in scores]
            row[key] = float(np.mean(vals)) if all(math.isfinite(v) for v in vals) else None
        row["colour_error"] = float(np.mean([s["colour_error"] for s in scores]))
        row["colour_error_max"] = float(np.max([s["colour_error"] for s in scores]))
        lp = [s["lpips"] for s in scores]
        row["lpips"] = float(np.mean(lp)) if all(v is not None for v in lp) else None
        if row["lpips"] is None:
            row["lpips_note"] = next(s["lpips_note"] for s in scores if s["lpips"] is None)
        row["fid"], row["fid_note"] = None, fid_note()
        row["cbr"] = float(np.mean([r["cbr"] for r in per]))
        if "cbr_side" in per[0]:  # symbols + the side information at capacity
            for key in ("cbr_symbols", "cbr_side", "side_info_bytes", "colour_layout_bytes"):
                if key in per[0]:
                    row[key] = float(np.mean([r[key] for r in per]))
        row["decode_s"] = float(np.mean([r["decode_s"] for r in per]))
        if "decoded" in per[0]:
            row["decoded"] = int(sum(bool(r["decoded"]) for r in per))
        row["per_image"] = [
            {"name": name, **{k: s[k] for k in ("psnr", "ms_ssim", "lpips", "colour_error")}, "cbr": r["cbr"]}
            for (name, _), s, r in zip(images, scores, per)
        ]
        if keep_recon:
            row["recon"] = [r["recon"] for r in per]
        results.append(row)
    sizes = sorted({(int(img.shape[1]), int(img.shape[0])) for _, img in images})
    return {
        "snr_db": snr_db,
        "cbr": cbr,
        "images": [n for n, _ in images],
        "image_sizes": [f"{w}x{h}" for w, h in sizes],
        "results": results,
    }
