#!/usr/bin/env python3
"""Cross-device check of the learned edge-map codec's entropy decoding (CompressAI #279, #309).

The rANS decoder needs the same probability tables as the encoder: the Gaussian scales come
from the hyper-synthesis h_s(z_hat), quantised to a table index. A float difference between
the transmitter's CPU and the receiver's GPU can move a scale across a table boundary, and
then every later symbol decodes wrongly. ``encode`` (transmitter: CPU) compresses edge maps
and keeps what the encoder quantised (y_hat, z_hat, the scale indexes); ``decode`` (receiver)
decompresses them on each ``--devices`` entry with the receiver's ``EdgeCodec.decompress``
and compares the decoded latents symbol for symbol, plus the maps.

    .venv/bin/python scripts/check_codec_devices.py encode --out codec_check    # here, CPU
    python3 scripts/check_codec_devices.py decode --dir codec_check --devices cpu cuda --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "gr-gensem", "python"), os.path.join(HERE, "..")]

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "cat", "hubble_deep_field", "immunohistochemistry")


def _photos(n):
    import skimage.data

    for name in PHOTOS[:n]:
        yield name, np.asarray(getattr(skimage.data, name)())


def _latents(codec, data, device):
    """(y_hat, z_hat, indexes) as the receiver decodes them on ``device``."""
    import torch
    from gensem.core.edge_codec import HEADER_BYTES, _decode_header

    m = codec.model
    body = data[HEADER_BYTES:]
    z_len = _decode_header(data)
    z, y = body[:z_len], body[z_len:]
    with torch.no_grad():
        z_hat = m.entropy_bottleneck.decompress([z], codec._latent_shape())
        idx = m.gaussian_conditional.build_indexes(m.h_s(z_hat.to(device)))
        y_hat = m.gaussian_conditional.decompress([y], idx, z_hat.dtype)
    return y_hat.cpu().numpy(), z_hat.cpu().numpy(), idx.cpu().numpy()


def encode(args) -> int:
    import torch
    from gensem.core.edge_codec import EdgeCodec, default_checkpoint
    from gensem.core.images import fit_image
    from gensem.semantic.edges import canny_edges

    codec = EdgeCodec.from_checkpoint(args.checkpoint or default_checkpoint())
    os.makedirs(args.out, exist_ok=True)
    arrays = {}
    for name, img in _photos(args.images):
        edges = canny_edges(fit_image(img, codec.size))
        data = codec.compress(edges)
        with torch.no_grad():  # what the encoder quantised, straight from the analysis transform
            y = codec.model.g_a(codec._to_tensor(edges))
            z = codec.model.h_a(torch.abs(y))
            z_hat = torch.round(z - codec.model.entropy_bottleneck._get_medians()) + (
                codec.model.entropy_bottleneck._get_medians()
            )
            idx = codec.model.gaussian_conditional.build_indexes(codec.model.h_s(z_hat))
            means = torch.zeros_like(y)
            y_hat = torch.round(y - means) + means
        arrays[f"{name}.bits"] = np.frombuffer(data, np.uint8)
        arrays[f"{name}.y_hat"] = y_hat.numpy()
        arrays[f"{name}.z_hat"] = z_hat.numpy()
        arrays[f"{name}.indexes"] = idx.numpy()
        arrays[f"{name}.map"] = codec.decompress(data)[0]
        print(f"{name}: {len(data)} bytes", file=sys.stderr)
    np.savez_compressed(os.path.join(args.out, "codec_check.npz"), **arrays)
    with open(os.path.join(args.out, "encoder.json"), "w") as f:
        json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(),
                   "checkpoint": os.path.basename(args.checkpoint or default_checkpoint()),
                   "images": list(PHOTOS[: args.images])}, f)
    return 0


def decode(args) -> int:
    import torch
    from gensem.core.edge_codec import EdgeCodec, default_checkpoint

    ref = np.load(os.path.join(args.dir, "codec_check.npz"))
    names = sorted({k.split(".")[0] for k in ref.files})
    report = {"torch": torch.__version__, "devices": {}}
    for dev in args.devices:
        if dev.startswith("cuda") and not torch.cuda.is_available():
            print(f"check_codec_devices: --devices {dev} but no CUDA GPU is visible", file=sys.stderr)
            return 2
        codec = EdgeCodec.from_checkpoint(args.checkpoint or default_checkpoint())
        codec.model.to(dev)
        rows = []
        for name in names:
            data = ref[f"{name}.bits"].tobytes()
            y_hat, z_hat, idx = _latents(codec, data, dev)
            x, info = codec.decompress(data)
            rows.append({
                "image": name,
                "z_identical": bool(np.array_equal(z_hat, ref[f"{name}.z_hat"])),
                "indexes_identical": bool(np.array_equal(idx, ref[f"{name}.indexes"])),
                "indexes_differing": int((idx != ref[f"{name}.indexes"]).sum()),
                "y_identical": bool(np.array_equal(y_hat, ref[f"{name}.y_hat"])),
                "y_symbols_differing": int((y_hat != ref[f"{name}.y_hat"]).sum()),
                "map_max_abs_diff": float(np.abs(x - ref[f"{name}.map"]).max()),
                "decode_ok": bool(info["ok"] and not info.get("clamped")),
            })
        ok = all(r["y_identical"] and r["z_identical"] for r in rows)
        report["devices"][dev] = {"latents_identical_all": ok, "rows": rows}
        print(f"{dev}: latents identical on all {len(rows)} maps: {ok}; max map diff "
              f"{max(r['map_max_abs_diff'] for r in rows):.2e}", file=sys.stderr)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    if args.json:
        print(json.dumps(report))
    return 0 if all(d["latents_identical_all"] for d in report["devices"].values()) else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("encode", help="compress edge maps (the transmitter's side)")
    e.add_argument("--out", required=True)
    e.add_argument("--images", type=int, default=len(PHOTOS))
    d = sub.add_parser("decode", help="decompress on each device and compare")
    d.add_argument("--dir", required=True)
    d.add_argument("--devices", nargs="+", default=["cpu"])
    d.add_argument("--json", action="store_true")
    d.add_argument("--out")
    for p in (e, d):
        p.add_argument("--checkpoint", help="edge-codec checkpoint (default: the shipped one)")
    args = ap.parse_args(argv)
    return encode(args) if args.cmd == "encode" else decode(args)


if __name__ == "__main__":
    sys.exit(main())
