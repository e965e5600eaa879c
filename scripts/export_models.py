#!/usr/bin/env python3
"""Convert the shipped ``.pt`` checkpoints into model directories (config.json + safetensors).

    .venv/bin/python scripts/export_models.py OUT [--only edge-codec cdm-jscc-d ...]

writes ``OUT/edge_codec``, ``OUT/cdm_jscc_d``, ``OUT/cdm_jscc_p``, ``OUT/deepjscc`` and
``OUT/edge_diffusion`` (diffusers layout for its UNet and scheduler; docs/receiver.md, "Model
files"), loads each back and checks that its weights equal the ``.pt`` file's. The loaders
(``EdgeCodec.from_checkpoint``, ``cdm_jscc.checkpoint.load``,
``EdgeDiffusionPipeline.from_checkpoint``, so every ``--model`` / ``--codec`` option) take
either form. The shipped fp16 weights stay fp16 (lossless); the edge codec is fp32.
"""

from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "gr-gensem", "python"), os.path.join(HERE, "..")]

NAMES = ("edge-codec", "cdm-jscc-d", "cdm-jscc-p", "deepjscc", "edge-diffusion")


def _same(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].dtype == sb[k].dtype and (sa[k] == sb[k]).all() for k in sa)


def export(name: str, out: str) -> tuple[str, bool]:
    """(directory written, whether its weights reload equal to the shipped file's)."""
    directory = os.path.join(out, name.replace("-", "_"))
    if name == "edge-codec":
        from gensem.core.edge_codec import EdgeCodec, default_checkpoint

        codec = EdgeCodec.from_checkpoint(default_checkpoint())
        codec.save_pretrained(directory, recipe=codec.meta.get("recipe"))
        return directory, _same(codec.model, EdgeCodec.from_checkpoint(directory).model)
    if name == "edge-diffusion":
        from receiver_ai.pipelines import DEFAULT_EDGE_DIFFUSION
        from receiver_ai.pipelines.edge_diffusion import EdgeDiffusionPipeline

        pipe = EdgeDiffusionPipeline.from_checkpoint(DEFAULT_EDGE_DIFFUSION, device="cpu")
        pipe.save_pretrained(directory, step=pipe.meta["step"], recipe=pipe.meta["recipe"], half=True)
        return directory, _same(pipe.model, EdgeDiffusionPipeline.from_checkpoint(directory, "cpu").model)
    from gensem.core.cdm_jscc import checkpoint

    model, ckpt = checkpoint.load(checkpoint.SHIPPED[name])
    checkpoint.save_pretrained(directory, model, ckpt.get("recipe"), ckpt.get("figures"), half=True)
    return directory, _same(model, checkpoint.load(directory)[0])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="output folder (one sub-directory per model)")
    ap.add_argument("--only", nargs="+", choices=NAMES, default=list(NAMES), help="models to export")
    args = ap.parse_args(argv)
    bad = 0
    for name in args.only:
        directory, ok = export(name, args.out)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(directory) for f in fs)
        print(f"{name:15s} -> {directory} ({size / 1e6:.1f} MB){'' if ok else '  MISMATCH'}")
        bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
