"""``gensem-receiver``: the GPU receiver. Subscribe to the radio's ZeroMQ bridge, and for each
complete image (prompt + edge-map bitstream) decode the edge map with the learned edge codec,
generate the image with a backend, save PNGs and report reference-free figures (timings).
With ``--backend cdm-jscc`` the images are CDM-JSCC ones instead (side information + analog
JSCC symbols, bridge schema v2), decoded by the conditional diffusion decoder.

    gensem-receiver --connect tcp://radio-host:5555 --backend edge-diffusion --out rx/ --json
    gensem-receiver --connect tcp://radio-host:5555 --pattern pull --backend cdm-jscc --out rx/

Writes ``DIR/image_<id>_edges.png`` (received edge map), ``DIR/image_<id>_generated.png`` and
``DIR/receiver.jsonl`` as it goes (one JSON line per image, and one per change of the drop
counters: nothing is lost if the process dies), and ``DIR/receiver.json`` at the end (the
latest records + all counters; also on SIGTERM / SIGINT, which stop it with exit status 0);
``--timeout 0`` waits for images forever (a service); ``--json`` prints that object;
``--publish tcp://*:5556`` also sends each record as JSON on a PUB socket (topic
``gensem-receiver/image``). User errors (missing weights, bad endpoint, dead bridge) are one
line on stderr and exit status 2. No GNU Radio needed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections import deque

from gensem.core.edge_codec import EDGE_POLICIES
from gensem.core.errors import first_line

from receiver_ai.pipelines import BACKENDS, DEFAULT_CONTROLNET, DEFAULT_EDGE_DIFFUSION, DEFAULT_SD

PROG = "gensem-receiver"
JSCC_BACKEND = "cdm-jscc"
MAX_RECORDS = 1000  # image records kept for receiver.json (all of them are in receiver.jsonl)
DROP_KEYS = ("timeouts", "evicted", "duplicates", "inconsistent", "late", "untagged_edge", "bad_prompt",
             "session_dropped")


class _Stop(Exception):
    """SIGTERM: stop like Ctrl-C, write the record, exit 0."""


def _on_sigterm(signum, frame):
    raise _Stop()


def _drops(stats: dict) -> dict:
    """The drop counters of the bridge client's stats (bad messages and incomplete images)."""
    out = {"bad_total": stats.get("bad_total", 0), "queue_dropped": stats.get("queue_dropped", 0)}
    out.update({k: v for k, v in stats.get("images", {}).items() if k in DROP_KEYS})
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--connect", required=True, help="bridge endpoint, e.g. tcp://radio-host:5555")
    p.add_argument("--bind", action="store_true", help="bind the endpoint instead of connecting")
    p.add_argument("--pattern", choices=("sub", "pull"), default="sub")
    p.add_argument("--shard", help="I/K: keep images with image_id %% K == I (several receivers, one PUB)")
    p.add_argument("--backend", choices=(*BACKENDS, JSCC_BACKEND), default="edge-diffusion")
    p.add_argument(
        "--model",
        help=f"edge-diffusion checkpoint (default {os.path.relpath(DEFAULT_EDGE_DIFFUSION)}), "
        f"SD1.5 directory/hub id for controlnet (default {DEFAULT_SD}) "
        "or CDM-JSCC checkpoint for cdm-jscc (default gr-gensem/python/gensem/core/weights/cdm_jscc_d.pt)",
    )
    p.add_argument("--controlnet", help=f"ControlNet directory/hub id (default {DEFAULT_CONTROLNET})")
    p.add_argument(
        "--allow-download", action="store_true", help="controlnet: let diffusers fetch from the hub"
    )
    p.add_argument(
        "--edge-codec", help="edge-codec checkpoint (default: gensem/core/weights/edge_codec.pt)"
    )
    p.add_argument(
        "--edge-policy",
        choices=EDGE_POLICIES,
        default="drop-corrupt",
        help="drop an edge map decoded from detectably corrupted bits and generate from the "
        "prompt only (default), or keep every map",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--max-images", type=int, default=None, help="stop after N images (default: run on)")
    p.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the next image (0: forever)"
    )
    p.add_argument("--assembly-timeout", type=float, default=10.0, help="drop images incomplete after S")
    p.add_argument(
        "--steps", type=int, default=None, help="diffusion steps (default 50 / 20 / the checkpoint's)"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    p.add_argument("--publish", help="PUB endpoint for per-image JSON records, e.g. tcp://*:5556")
    p.add_argument(
        "--curve-keys",
        default="",
        help="directory from `gensem keys`: CURVE-authenticated, encrypted bridge (same DIR on the radio)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout at the end")
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # tests: tiny random model
    return p


def _save_png(path: str, arr) -> str:
    import numpy as np
    from PIL import Image

    a = np.asarray(arr)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    Image.fromarray(a).save(path)
    return path


def process(msg, codec, generate, out_dir: str, seed: int, policy: str = "drop-corrupt") -> dict:
    """Decode, generate and save one image; returns its JSON record. ``policy``: what to do
    with a map decoded from detectably corrupted bits (``EdgeCodec.receive``)."""
    import numpy as np

    t0 = time.monotonic()
    if msg.edge_bytes:
        edges, info = codec.receive(msg.edge_bytes, policy)
    else:  # prompt-only image (M1 = 0): the backend gets an empty edge map
        w, h = codec.size
        edges = np.zeros((h, w), np.float32)
        info = {"ok": False, "reason": "prompt only: no edge map sent", "used": False}
    t1 = time.monotonic()
    rec = {
        "image_id": msg.image_id,
        "prompt": msg.prompt,
        "edge_bits": msg.edge_bits,
        "missing_parts": list(msg.missing_parts),
        "n_parts": msg.n_parts,
        "ber_est": msg.ber_est,
        "prompt_snr_db": msg.prompt_snr_db,
        "edge_snr_db": [p.snr_db for p in msg.parts],
        "modulation": sorted({p.mod for p in msg.parts if p.mod is not None}),
        "edge_decode_ok": bool(info["ok"]),
        "edge_decode_reason": info["reason"],
        "edge_map_used": bool(info["used"]),
        "files": {"edges": _save_png(os.path.join(out_dir, f"image_{msg.image_id}_edges.png"), edges)},
        "error": None,
    }
    colour = msg.colour_layout
    rec["colour_bits"] = 8 * len(colour) if colour else 0
    rec["colour_error"] = None
    if colour is not None:
        from gensem.core.colour_layout import decode_cells

        try:
            decode_cells(colour)  # a wrong size or version: generate from the rest, say why
        except ValueError as exc:
            rec["colour_error"], colour = first_line(exc, 200), None
    try:
        from gensem.core.edge_codec import received_conditioning

        cond = received_conditioning(edges, info)
        img = generate(msg.prompt, cond, seed=seed, colour=colour) if colour else generate(msg.prompt, cond, seed=seed)
        rec["files"]["generated"] = _save_png(
            os.path.join(out_dir, f"image_{msg.image_id}_generated.png"), img
        )
        rec["size"] = [int(img.shape[1]), int(img.shape[0])]
    except Exception as exc:  # keep receiving: one bad image must not stop the receiver
        rec["error"] = first_line(exc, 300)
    t2 = time.monotonic()
    rec["timings_s"] = {
        "assembly": round(msg.assembly_s, 4),
        "edge_decode": round(t1 - t0, 4),
        "generate": round(t2 - t1, 4),
        "complete_to_saved": round(t2 - msg.completed, 4),
    }
    return rec


def process_jscc(img, model, steps: int, out_dir: str, seed: int) -> dict:
    """Decode and save one CDM-JSCC image (``jscc_assembler.JsccImage``); returns its record."""
    from gensem.core.cdm_jscc.receive import decode_received

    t0 = time.monotonic()
    rec = {
        "image_id": img.image_id,
        "side_info_bytes": len(img.side_info),
        "side_packets": img.side_packets,
        "symbols": int(img.symbols.size),
        "lost_symbols": img.lost_symbols,
        "lost_ranges": img.lost_ranges[:16],
        "frames": img.frames,
        "snr_est_db": img.snr_db,
        "partial": img.partial,
        "files": {},
        "error": None,
    }
    try:
        rgb, facts = decode_received(model, img.side_info, img.symbols, steps, seed)
        rec["files"]["generated"] = _save_png(
            os.path.join(out_dir, f"image_{img.image_id}_cdm_jscc.png"), rgb
        )
        rec["size"] = facts["size"]
        rec["colour_layout_bytes"] = facts["colour_layout_bytes"]
        rec["colour_layout_error"] = facts["colour_layout_error"]
    except Exception as exc:  # corrupted side information etc.: report it and keep receiving
        rec["error"] = first_line(exc, 300)
    t1 = time.monotonic()
    rec["timings_s"] = {
        "assembly": round(img.assembly_s, 4),
        "decode": round(t1 - t0, 4),
        "complete_to_saved": round(t1 - img.completed, 4),
    }
    return rec


def _load_jscc(args):
    """(processor, description, counters) of the cdm-jscc backend."""
    import torch
    from gensem.core.cdm_jscc import checkpoint
    from gensem.core.cdm_jscc.model import CDMJSCC

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    path = args.model or checkpoint.SHIPPED["cdm-jscc-d"]
    try:
        model, ckpt = checkpoint.load(path, device=device)
    except (RuntimeError, AssertionError) as exc:  # e.g. a CUDA device that is not there
        raise ValueError(f"cannot load {path} on {device}: {first_line(exc, 200, with_type=False)}") from None
    if not isinstance(model, CDMJSCC):
        raise ValueError(f"{path} is a {ckpt['kind']} checkpoint; --backend cdm-jscc needs a CDM-JSCC one")
    steps = int(args.steps or ckpt.get("recipe", {}).get("sample_steps") or 1)
    if steps < 1:
        raise ValueError(f"--steps must be >= 1; got {steps}")
    desc = f"cdm-jscc ({os.path.basename(path)}), {steps} step(s) on {device}"

    def processor(img):
        return process_jscc(img, model, steps, args.out, args.seed)

    return processor, desc, dict


def _load_semantic(args):
    """(processor, description, counters) of the prompt + edge-map backends."""
    from gensem.core.edge_codec import EdgeCodec, default_checkpoint

    from receiver_ai.pipelines import load_backend

    codec = EdgeCodec.from_checkpoint(args.edge_codec or default_checkpoint())
    generate, desc = load_backend(
        args.backend,
        model=args.model,
        controlnet=args.controlnet,
        steps=args.steps,
        seed=args.seed,
        device=args.device,
        tiny=args.tiny,
        allow_download=args.allow_download,
    )

    colour = {"used": 0, "bad": 0}

    def processor(msg):
        rec = process(msg, codec, generate, args.out, args.seed, args.edge_policy)
        colour["used"] += bool(rec.get("colour_bits")) and rec.get("colour_error") is None
        colour["bad"] += rec.get("colour_error") is not None
        return rec

    def counters():
        return {
            "edge_codec_corrupt_decodes": codec.corrupt_decodes,
            "edge_codec_clamped_decodes": codec.clamped_decodes,
            "edge_maps_dropped": codec.dropped_maps,
            "colour_layouts_used": colour["used"],
            "colour_layouts_bad": colour["bad"],
        }

    return processor, desc, counters


def _describe(rec: dict) -> str:
    if "edge_bits" in rec:
        t = rec["timings_s"]
        return (
            f"image {rec['image_id']}: {rec['prompt']!r}, {rec['edge_bits']} edge bits "
            f"(decode {'ok' if rec['edge_decode_ok'] else 'FAILED'}"
            f"{'' if rec['edge_map_used'] or not rec['edge_bits'] else ', map dropped: corrupted bits'}), "
            f"generate {t['generate']:.2f} s"
        )
    return (
        f"image {rec['image_id']}: CDM-JSCC, {rec['symbols']} symbols ({rec['lost_symbols']} lost), "
        f"decode {rec['timings_s']['decode']:.2f} s"
    )


def run(args) -> int:
    if args.max_images is not None and args.max_images < 1:
        raise ValueError("--max-images must be >= 1")
    if args.timeout < 0 or args.assembly_timeout <= 0:
        raise ValueError("--timeout must be >= 0 (0: wait forever) and --assembly-timeout > 0")
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError("--threads must be >= 1")
        import torch

        torch.set_num_threads(args.threads)
    shard = None
    if args.shard:
        try:
            shard = tuple(int(v) for v in args.shard.split("/"))
        except ValueError:
            raise ValueError(f"--shard must be I/K, e.g. 0/2; got {args.shard!r}") from None
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create output directory {args.out!r}: {exc.strerror}") from None

    from gensem.core.bridge_client import BridgeClient

    jscc = args.backend == JSCC_BACKEND
    assembler = None
    if jscc:
        from receiver_ai.jscc_assembler import JsccAssembler

        if shard:
            raise ValueError("--shard applies to prompt + edge-map images; CDM-JSCC images carry no image_id")
        assembler = JsccAssembler(timeout_s=args.assembly_timeout)
    # the socket first: what the radio sends while the models load waits in its queue
    client = BridgeClient(
        args.connect,
        pattern=args.pattern,
        bind=args.bind,
        timeout_s=args.assembly_timeout,
        shard=shard,
        assembler=assembler,
        curve_keys=args.curve_keys,
    )
    from gensem.core.zmq_security import warn_if_exposed

    if args.bind and (warning := warn_if_exposed(args.connect, args.curve_keys, PROG)):
        print(warning, file=sys.stderr)
    pub = None
    try:
        processor, desc, counters = (_load_jscc if jscc else _load_semantic)(args)
        if args.publish:
            import zmq

            pub = zmq.Context.instance().socket(zmq.PUB)
            pub.setsockopt(zmq.LINGER, 500)
            try:
                pub.bind(args.publish)
            except zmq.ZMQError as exc:
                pub.close(0)
                raise ValueError(f"cannot bind --publish {args.publish!r}: {exc}") from None
    except BaseException:
        client.close()
        raise
    if not args.json:
        print(f"{PROG}: {desc}; listening on {client.endpoint} ({args.pattern})", file=sys.stderr)
    records, status, stop = deque(maxlen=MAX_RECORDS), 0, None
    n_images = n_errors = 0
    journal = open(os.path.join(args.out, "receiver.jsonl"), "a", buffering=1)  # line-buffered
    last_drops = _drops(client.stats())
    import threading

    main_thread = threading.current_thread() is threading.main_thread()  # signals: main thread only
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        while args.max_images is None or n_images < args.max_images:
            msg = client.get(timeout_s=args.timeout or 1.0)
            drops = _drops(client.stats())
            if drops != last_drops:  # an image dropped, a bad message: on record at once
                journal.write(json.dumps({"event": "drops", "t": time.time(), **drops}) + "\n")
                last_drops = drops
            if msg is None:
                if not args.timeout:
                    continue
                stop = f"no complete image within {args.timeout:g} s"
                break
            rec = processor(msg)
            records.append(rec)
            n_images += 1
            n_errors += rec["error"] is not None
            journal.write(json.dumps({"event": "image", "t": time.time(), **rec}) + "\n")
            if pub is not None:
                pub.send_multipart([b"gensem-receiver/image", json.dumps(rec).encode()])
            if not args.json:
                print(_describe(rec) + (f", ERROR {rec['error']}" if rec["error"] else ""), file=sys.stderr)
    except KeyboardInterrupt:
        stop = "interrupted (SIGINT)"
    except _Stop:
        stop = "terminated (SIGTERM)"
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
        stats = client.stats()
        client.close()
        if pub is not None:
            pub.close()
        journal.close()
    summary = {
        "backend": desc,
        "endpoint": client.endpoint,
        "images": list(records),
        "n_images": n_images,
        "n_errors": n_errors,
        "stopped": stop or "max images reached",
        **counters(),
        "bridge": stats,
    }
    with open(os.path.join(args.out, "receiver.json"), "w") as f:
        json.dump(summary, f, indent=1)
    if args.json:
        print(json.dumps(summary))
    if not n_images and not (stop or "").startswith(("interrupted", "terminated")):
        print(
            f"{PROG}: no image from {client.endpoint} within {args.timeout:g} s "
            f"({stats['received']} messages, {stats['bad_total']} bad, {stats['images']['timeouts']} incomplete): "
            "is the radio's bridge sink running and the endpoint right?",
            file=sys.stderr,
        )
        return 2
    return status


def main(argv=None) -> int:
    import warnings

    # library deprecation chatter (torch.jit in CompressAI, transformers) is not for users
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="huggingface_hub")
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
