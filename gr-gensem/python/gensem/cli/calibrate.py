"""``gensem calibrate``: normalised quality vs edge-map BER with our receiver (Fig. 2).

    gensem calibrate --images skimage:immunohistochemistry skimage:gravel \
        --prompts "a microscope image of stained tissue" "a photo of gravel" --out DIR

Writes DIR/calibration.csv (the planner's ``--calibration``) and DIR/calibration.png.
``--modalities`` (default prompt,edges,colour, as ``gensem demo``) says what the receiver gets
besides the swept edge map, so the modality sets can be compared.

With ``--workers N`` / ``--scheduler ADDRESS`` the generations run on Dask: each (image,
seed) point is one ``calibration_point`` call on a worker process, which loads the backend
once and records the images the generator returns, in call order. The same
``run_calibration`` then runs here with a generator that replays them (checking that every
call has the recorded prompt, seed and edge map), so the metrics, CSV and PNG come from the
code of the serial run. Each point is seeded by its seed alone (the bit flips by
``default_rng(seed)``, the generation by ``seed``), as in the serial run, so the results
are identical to it where the backend is deterministic (on CPU; GPUs may differ in the
last bits). Paths (``--images`` files, ``--codec``, ``--model``) must be readable on the
workers; ``skimage:NAME`` images are resolved there.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

import numpy as np

from gensem.cli.demo import BACKENDS, resolve_image
from gensem.cli.sweep import add_dask_args, dask_client_from_args
from gensem.core.edge_codec import EDGE_POLICIES
from gensem.semantic.edge_budget import DEFAULT_MAX_BPP, check_max_bpp


def add_calibrate_parser(sub, user_error):
    p = sub.add_parser(
        "calibrate", help="semantic quality vs edge-map BER (Fig. 2) -> planner calibration CSV"
    )
    p.add_argument(
        "--images", nargs="+", default=["skimage:immunohistochemistry"], help="image files or skimage:NAME"
    )
    p.add_argument(
        "--prompts",
        nargs="+",
        default=["a microscope image of stained tissue"],
        help="one prompt per image, or one for all",
    )
    p.add_argument("--bers", nargs="+", type=float, default=[1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1])
    p.add_argument("--seeds", type=int, default=2, help="generation seeds per image")
    p.add_argument("--backend", choices=BACKENDS, default="edge-diffusion")
    p.add_argument("--model")
    p.add_argument("--controlnet")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--codec", help="edge-codec checkpoint (default: the shipped one)")
    p.add_argument(
        "--max-edge-bpp",
        type=float,
        default=DEFAULT_MAX_BPP,
        help="edge-map budget, as gensem demo (0: no limit)",
    )
    p.add_argument("--clip-model", help="local CLIP model: adds the normalised CLIP column")
    p.add_argument(
        "--edge-policy",
        choices=EDGE_POLICIES,
        default="drop-corrupt",
        help="receiver: drop maps decoded from detectably corrupted bits (default) or keep every map",
    )
    p.add_argument(
        "--modalities",
        default="prompt,edges,colour",
        help="what the receiver gets besides the swept edge map: prompt and/or colour (the colour layout); "
        "edges must be in the set",
    )
    p.add_argument(
        "--edges",
        choices=["auto", "hed", "canny"],
        default="auto",
        help="edge extractor, as gensem demo: auto (HED when its weights are there, else Canny), hed, canny",
    )
    p.add_argument("--out", default="out/calibration")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    add_dask_args(p, "(image, seed) generations")
    p.set_defaults(func=lambda a: cmd_calibrate(a, user_error))


def cmd_calibrate(args, user_error) -> int:
    from gensem.core.edge_codec import EdgeCodec, default_checkpoint
    from gensem.semantic.calibrate import check_modalities, reference_label, run_calibration

    try:
        args.modalities = check_modalities(args.modalities)  # before loading any model
        if len(args.prompts) not in (1, len(args.images)):
            raise ValueError("give one prompt per image, or one prompt for all")
        if any(not s.strip() for s in args.prompts):
            raise ValueError("prompts must not be empty")
        if any(not 0 < b < 0.5 for b in args.bers) or args.seeds < 1:
            raise ValueError("BERs must be in (0, 0.5) and --seeds >= 1")
        check_max_bpp(args.max_edge_bpp)
        prompts = args.prompts * (len(args.images) if len(args.prompts) == 1 else 1)
        images = [resolve_image(s, args.out) for s in args.images]
        codec = EdgeCodec.from_checkpoint(args.codec or default_checkpoint())
        client = dask_client_from_args(args, "calibrate")
        try:
            generate, backend = _generator(args, prompts, client)
            r = run_calibration(
                images,
                prompts,
                generate,
                codec,
                args.out,
                sorted(args.bers),
                seeds=tuple(range(args.seeds)),
                clip_model=args.clip_model,
                max_edge_bpp=args.max_edge_bpp,
                edge_policy=args.edge_policy,
                modalities=args.modalities,
                edges=args.edges,
            )
        finally:
            if client is not None:
                client.close()
    except ValueError as exc:
        raise user_error(f"gensem calibrate: {exc}") from None
    r["backend"] = backend
    with open(os.path.join(args.out, "calibration.json"), "w") as f:
        json.dump(r, f, indent=1)
    if args.json:
        print(json.dumps(r))
    else:
        print(
            f"gensem calibrate: backend {backend}, {len(images)} image(s) x {args.seeds} seed(s), "
            f"edge policy {args.edge_policy}"
        )
        for row in r["rows"]:
            print(
                "  BER %-8g " % row["ber"]
                + "  ".join(f"{n} {row[n + '_norm']:.4f}" for n in r["metrics"])
                + f"  (map dropped in {row['edge_dropped']:.0%})"
            )
        if r["prompt_only"][r["metrics"][0] + "_norm"] is not None:
            rest = reference_label(r["modalities"])
            print(f"  {rest} only (no edge map): " + "  ".join(f"{n} {r['prompt_only'][n + '_norm']:.4f}" for n in r["metrics"]))
        if r["monotone"]:
            print("  monotone: yes (non-increasing in BER, as Lemma 1 needs)")
        for v in r["violations"]:
            print(
                f"  NOT monotone: {v['metric']} rises by {v['rise']:.4f} from BER {v['ber_from']:g} to {v['ber_to']:g}"
            )
        print(f"  wrote {r['csv']} and {r['png']}")
    return 0


def _generator(args, prompts: list[str], client) -> tuple:
    """(generate, backend description): without a Dask ``client`` the backend loaded here;
    with one, a replay of the generations its workers ran (``dask_generator``)."""
    from gensem.cli.demo import load_generator

    if client is None:
        return load_generator(args)
    points = [(im, pr, seed) for im, pr in zip(args.images, prompts) for seed in range(args.seeds)]
    return dask_generator(
        client,
        _backend_options(args),
        args.codec,
        points,
        sorted(args.bers),
        args.max_edge_bpp,
        args.edge_policy,
        args.modalities,
    )


# ------------------------------------------------ Dask: the (image, seed) points on workers

_WORKER_CACHE: dict = {}  # in a worker process: the loaded backends and codecs, by their options


def _backend_options(args) -> dict:
    """``load_backend``'s keyword arguments, as ``gensem.cli.demo.load_generator(args)`` passes
    them (picklable, for the workers)."""
    return {
        "name": args.backend,
        "model": args.model,
        "controlnet": args.controlnet,
        "steps": args.steps,
        "seed": args.seed,
    }


def _cached(key, load):
    """``load()`` once per worker process and key."""
    if key not in _WORKER_CACHE:
        _WORKER_CACHE[key] = load()
    return _WORKER_CACHE[key]


def _call_key(prompt: str, edge_map, seed, colour=None) -> tuple:
    """What a generation depends on: prompt, seed, a digest of the edge map, the colour layout."""
    m = np.ascontiguousarray(edge_map)
    digest = hashlib.sha256(m.tobytes()).hexdigest()
    return str(prompt), seed, m.shape, str(m.dtype), digest, None if colour is None else bytes(colour).hex()


def calibration_point(
    options: dict,
    codec_path: str | None,
    image: str,
    prompt: str,
    seed: int,
    bers,
    max_edge_bpp: float,
    edge_policy: str,
    modalities=("prompt", "edges", "colour"),
) -> dict:
    """On a worker: the generations of one (image, seed) point of ``run_calibration``, in call
    order, as ``{"backend": description, "calls": [(_call_key, image), ...]}``. ``image`` is a
    file or ``skimage:NAME``; ``codec_path`` None is the worker's shipped checkpoint."""
    import warnings

    from gensem.core.edge_codec import EdgeCodec, default_checkpoint
    from gensem.cli.demo import load_backend
    from gensem.semantic.calibrate import run_calibration

    warnings.filterwarnings("ignore", category=FutureWarning)  # as gensem's main() does
    key = tuple(sorted(options.items()))
    generate, backend = _cached(("backend", key), lambda: load_backend(**options))
    path = codec_path or default_checkpoint()
    codec = _cached(("codec", path), lambda: EdgeCodec.from_checkpoint(path))
    calls = []

    def record(p, edge_map, seed=None, colour=None):
        out = generate(p, edge_map, seed=seed, colour=colour)
        calls.append((_call_key(p, edge_map, seed, colour), out))
        return out

    with tempfile.TemporaryDirectory() as tmp:
        run_calibration(
            [resolve_image(image, tmp)],
            [prompt],
            record,
            codec,
            tmp,
            bers,
            seeds=(seed,),
            max_edge_bpp=max_edge_bpp,
            edge_policy=edge_policy,
            modalities=modalities,
        )
    return {"backend": backend, "calls": calls}


def dask_generator(client, options: dict, codec_path, points, bers, max_edge_bpp, edge_policy,
                   modalities=("prompt", "edges", "colour")):  # fmt: skip
    """(generate, backend description): every ``(image, prompt, seed)`` point's generations
    run on the Dask ``client``'s workers (``calibration_point``); ``generate`` replays them in
    the serial run's order (image by image, seed by seed), and raises ValueError when a call's
    prompt, seed or edge map is not the recorded one."""
    args = (bers, max_edge_bpp, edge_policy, tuple(modalities))
    futures = [
        client.submit(calibration_point, options, codec_path, image, prompt, seed, *args, pure=False)
        for image, prompt, seed in points
    ]
    results = client.gather(futures)
    calls = iter([c for r in results for c in r["calls"]])

    def generate(prompt: str, edge_map, seed=None, colour=None):
        key, out = next(calls, (None, None))
        if key != _call_key(prompt, edge_map, seed, colour):
            raise ValueError(
                "a Dask worker generated from other inputs than this run's "
                "(different gensem or edge codec on the workers?)"
            )
        return out

    return generate, results[0]["backend"]
