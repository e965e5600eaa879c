"""The prompt + edge-map system end to end (Qiao et al.), one image:

image -> prompt (``--prompt`` or BLIP) + edge map (Canny or HED) -> learned edge codec ->
planner (Lemma 1: M1 and the power split at the average SNR) -> the two-stream GNU Radio
loopback (prompt with CRC + conv code + ARQ on stream 0, edge-map parts on stream 1 at M1)
-> ZeroMQ bridge (PUSH -> PULL) -> receiver: assemble, decode the edge map, generate ->
metrics -> ``DIR/report.png`` and a JSON report.

The generator is passed in (``generate(prompt, edge_map) -> RGB uint8``) so the same run
drives any receiver backend; ``cli_demo`` picks it.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from gensem.core import colour_layout
from gensem.core.images import WORK_SIZE, fit_image, load_image
from gensem.semantic.edge_budget import DEFAULT_MAX_BPP
from gensem.semantic.modalities import MODALITIES, check_modalities

PAYLOAD_BYTES = 256  # stream-1 bytes per frame, part header included
MIN_PROMPT_SNR_DB = 3.0  # prompt Es/N0 floor for the plan (K=7 r=1/2 QPSK, one packet)


def run_demo(
    image_path: str,
    out_dir: str,
    generate,
    backend_name: str,
    prompt: str | None = None,
    captioner: str | None = None,
    prompt_colours: bool = False,
    edges: str = "canny",
    hed_weights: str | None = None,
    codec_path: str | None = None,
    snr_db: float = 15.0,
    channel: str = "awgn",
    targets=(0.997, 0.982),
    calibration: str | None = None,
    per_model: str = "paper",
    max_edge_bpp: float = DEFAULT_MAX_BPP,
    seed: int = 1,
    clip_model: str | None = None,
    edge_policy: str = "drop-corrupt",
    impairments=None,
    modalities=MODALITIES,
) -> dict:
    """One image through the prompt + edge-map system (plus the colour layout, beyond the paper):
    ``modalities`` is any non-empty subset of ``MODALITIES``; what is left out is not sent."""
    from gensem.apps.link import LinkConfig, run_link
    from gensem.core.edge_codec import EdgeCodec, conditioning_map, default_checkpoint, received_conditioning
    from gensem.core.edge_packets import HEADER_BYTES, packetize
    from gensem.dsp.radio_impairments import RadioImpairments
    from gensem.planner import TABLE_I, get_calibration, plan
    from gensem.semantic.edge_budget import edge_detail, fit_edge_budget
    from gensem.semantic.edges import edge_f1, resolve_method

    modalities = check_modalities(modalities)
    requested_edges, edges_notice = edges, None
    # "auto": HED when its weights are there (given, or the converted default), else Canny
    edges = "hed" if edges == "auto" and hed_weights else resolve_method(edges)
    if requested_edges == "auto" and edges == "canny" and "edges" in modalities:
        edges_notice = "HED weights not found (make setup converts them); edges by Canny"
    t_start = time.monotonic()
    os.makedirs(out_dir, exist_ok=True)
    img = fit_image(load_image(image_path), WORK_SIZE)
    if "prompt" not in modalities:
        prompt, prompt_source = "", "not sent (--modalities)"
    elif prompt is not None:
        if not prompt.strip():
            raise ValueError("--prompt is empty; give the text or leave it out to use the captioner")
        prompt_source = "given (--prompt)"
    else:
        from gensem.semantic.captioner import DEFAULT_MODEL, Captioner

        prompt = Captioner.load(captioner or DEFAULT_MODEL)(img)
        prompt_source = f"BLIP captioner ({captioner or DEFAULT_MODEL})"
    if prompt_colours and "prompt" in modalities:  # colour in text: "..., green and blue"
        from gensem.semantic.colour_words import colour_words, with_colours

        prompt = with_colours(prompt, colour_words(img))
        prompt_source += " + colour words"
    codec = EdgeCodec.from_checkpoint(codec_path or default_checkpoint())
    if "edges" in modalities:
        try:
            detail = edge_detail(img, edges, hed_weights)
        except ValueError as exc:  # a broken weights file: "auto" falls back, "hed" is an error
            if requested_edges != "auto":
                raise
            from gensem.core.errors import first_line

            edges, edges_notice = "canny", f"{first_line(exc, 160)}; edges by Canny"
            detail = edge_detail(img, edges)
        fitted = fit_edge_budget(detail, codec, max_edge_bpp)
    else:  # no edge map: nothing to extract or fit
        fitted = {"edges": np.zeros(img.shape[:2], np.uint8), "bits": b"", "scale": None, "within_budget": True}
    e, bits = fitted["edges"], fitted["bits"]
    colour = colour_layout.encode(img) if "colour" in modalities else None
    prompt_bits, colour_bits = 8 * len(prompt.encode("utf-8")), colour_layout.bits_of(colour) if colour else 0
    v0 = max(prompt_bits + colour_bits, 16)  # |v0|: what stream 0 carries (at least the image prompt head)
    v1 = 8 * len(bits)
    cal = get_calibration(calibration)
    target_ber, cal_source = cal.ber_for_targets(targets), cal.source
    # eq. (2)'s PER model: the paper's k, b with a prompt Es/N0 floor (their model would let a
    # short prompt run at -3 dB, where our K=7 r=1/2 QPSK packet never decodes,
    # docs/semantic.md), or our PHY's measured fit, which needs no floor
    from gensem.planner.per_fit import system_params

    params = system_params(per_model, base=TABLE_I, paper_floor_db=MIN_PROMPT_SNR_DB)
    pl = plan(snr_db, v0, max(v1, 1), target_ber, params)
    d = pl["discrete"]
    m1 = int(d["modulation"]) if v1 else 0  # no edge map to send: stream 0 alone
    # the image id is the prompt's ARQ sequence number, drawn at random for this run (a
    # receiver that outlives this transmitter must not take it for an earlier image)
    import secrets

    image_id = secrets.randbelow(1 << 16)
    parts = packetize(bits, image_id=image_id, max_payload=PAYLOAD_BYTES) if m1 else []

    from gensem.core.bridge_client import BridgeClient

    client = BridgeClient("tcp://127.0.0.1:*", pattern="pull", bind=True, timeout_s=60.0)
    try:
        if parts:
            f0 = min(max(d["prompt_power_fraction"], 1 / 255), 254 / 255)
            cfg = LinkConfig(
                stream="both",
                text=prompt,
                mod=m1,
                prompt_power=f0,
                snr_db=snr_db,
                channel=channel,
                adaptive_payloads=tuple(parts),
                n_parts=len(parts),
                colour_layout=colour,
                bridge_endpoint=client.endpoint,
                bridge_pattern="push",
                seed=seed,
                impairments=impairments or RadioImpairments(),
                first_prompt_seq=image_id,
            )
        else:  # M1 = 0: the edge map is not sent; the prompt gets all the power (half the band: +3 dB)
            f0 = 1.0
            cfg = LinkConfig(
                stream="prompt",
                text=prompt,
                snr_db=snr_db + 10 * math.log10(2),
                channel=channel,
                n_parts=0,  # the prompt tells the receiver not to wait for an edge map
                colour_layout=colour,
                bridge_endpoint=client.endpoint,
                bridge_pattern="push",
                seed=seed,
                impairments=impairments or RadioImpairments(),
                first_prompt_seq=image_id,
            )
        link = run_link(cfg)
        pr = link["prompt"] if parts else link
        # the bridge completes a prompt-only image (n_parts 0 on air) as soon as its prompt is in
        got = client.get(timeout_s=20.0) if parts or pr.get("delivered") else None
        stats = client.stats()
    finally:
        client.close()
    received_prompt = got.prompt if got is not None else None
    rx_colour = got.colour_layout if got is not None else None
    if parts and got is not None:
        rx_edges, info = codec.receive(got.edge_bytes, edge_policy)
    else:
        rx_edges, info = (
            np.zeros(e.shape, np.float32),
            {
                "ok": False,
                "reason": "edge map not sent (M1 = 0)" if not parts else "image incomplete at the receiver",
                "used": False,
            },
        )
    adaptive = link.get("adaptive") if parts else None
    cond = received_conditioning(rx_edges, info)  # prompt only when the policy dropped the map
    t_gen = time.monotonic()
    generated = None
    if got is not None:  # the image prompt arrived (its text may be empty: --modalities)
        kw = {"colour": rx_colour} if rx_colour is not None else {}
        generated = generate(received_prompt, cond, seed=seed, **kw)
    gen_s = time.monotonic() - t_gen
    metrics = None
    if generated is not None:
        from gensem.core.metrics import evaluate

        metrics = evaluate(img, generated, clip_model=clip_model)
    report = {
        "image": os.path.abspath(image_path),
        "prompt_sent": prompt,
        "prompt_source": prompt_source,
        "prompt_received": received_prompt,
        "prompt_transmissions": pr.get("transmissions"),
        "prompt_crc_failures": pr.get("crc_failures"),
        "modalities": list(modalities),
        "prompt_bits": prompt_bits,
        "colour_bits": colour_bits,
        "colour_received": rx_colour is not None,
        "total_bits": prompt_bits + colour_bits + v1,
        "total_bpp": (prompt_bits + colour_bits + v1) / (WORK_SIZE[0] * WORK_SIZE[1]),
        "edges": edges,
        "edges_notice": edges_notice,
        "edge_bits": v1,
        "edge_bpp": v1 / (WORK_SIZE[0] * WORK_SIZE[1]),
        "edge_budget_bpp": max_edge_bpp or None,
        "edge_detail_scale": fitted["scale"],
        "edge_within_budget": fitted["within_budget"],
        "edge_parts": len(parts),
        "image_id": image_id,
        "edge_ber": None if adaptive is None else adaptive["ber"],
        "edge_bits_on_air": None if adaptive is None else adaptive["bits"],
        "edge_part_header_bytes": HEADER_BYTES,
        "edge_decode": info,
        "edge_f1_sent_vs_received": edge_f1(e, conditioning_map(rx_edges)) if parts else None,
        "modulation": m1,
        "prompt_power_fraction": f0,
        "snr_db": snr_db,
        "channel": channel,
        "target_ber": target_ber,
        "calibration": cal_source,
        "latency_ms_model": d["latency_ms"],
        "per_model": per_model,
        "min_prompt_snr_db": MIN_PROMPT_SNR_DB if per_model == "paper" else None,
        "latency_ms_model_continuous": pl["latency_ms"],
        "baseline_latency_ms_model": pl["baseline_latency_ms"],
        "bridge": stats,
        "metrics": metrics,
        "backend": backend_name,
        "generate_s": round(gen_s, 3),
        "total_s": round(time.monotonic() - t_start, 3),
    }
    layout = colour_layout.render(rx_colour, WORK_SIZE) if rx_colour is not None else None
    report["report_png"] = write_report_png(
        os.path.join(out_dir, "report.png"), img, e, rx_edges, generated, report, layout
    )
    return report


def write_report_png(path, img, edges_sent, edges_rx, generated, r, layout=None) -> str:
    """original | edges sent | edges received | colour layout received | generated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 5, figsize=(20, 3.6))
    if layout is not None:
        ax[3].imshow(layout)
        ax[3].set_title(f"colour layout received: {r['colour_bits']} bits", fontsize=9)
    else:
        ax[3].set_title("no colour layout" if "colour" not in r["modalities"] else "colour layout lost", fontsize=9)
    ax = [ax[0], ax[1], ax[2], ax[4], ax[3]]  # the generated image goes last
    ax[0].imshow(img)
    ax[0].set_title("original (768x512)")
    ax[1].imshow(edges_sent, cmap="gray")
    ax[1].set_title(f"edges sent: {r['edge_bits']} bits, {r['edge_bpp']:.4f} bpp")
    ax[2].imshow(edges_rx, cmap="gray", vmin=0, vmax=1)
    ber = "not sent" if r["edge_ber"] is None else f"BER {r['edge_ber']:.2e}, {r['modulation']}-QAM"
    if r["edge_parts"] and not r["edge_decode"].get("used", True):
        ber += "; DROPPED: corrupted bits"
    ax[2].set_title(f"edges received\n({ber})", fontsize=9)
    if generated is not None:
        import textwrap

        ax[3].imshow(generated)
        m = r["metrics"] or {}
        backend = textwrap.shorten(str(r["backend"]), width=70, placeholder=" ...")
        ax[3].set_title(
            f"generated: PSNR {m.get('psnr_db', float('nan')):.2f} dB, "
            f"MS-SSIM {m.get('ms_ssim', float('nan')):.3f}\n{backend}",
            fontsize=8,
        )
    else:
        ax[3].set_title("nothing generated (image prompt lost)")
    for a in ax:
        a.axis("off")
    fig.suptitle(
        f"prompt sent: {r['prompt_sent']!r}  |  received: {r['prompt_received']!r}  "
        f"({r['prompt_transmissions']} tx)  |  {r['snr_db']} dB {r['channel']}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
