"""The whole prompt + edge-map chain with tiny random models: image -> prompt + edge codec
-> planner -> GNU Radio loopback -> ZeroMQ bridge -> receiver backend -> metrics."""

import json
import os

import pytest

pytest.importorskip("torch")
pytest.importorskip("compressai")
pytest.importorskip("diffusers")

KEYS = (
    "prompt_sent",
    "prompt_received",
    "prompt_transmissions",
    "edge_bits",
    "edge_ber",
    "modulation",
    "prompt_power_fraction",
    "latency_ms_model",
    "metrics",
    "backend",
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from gensem.cli.demo import resolve_image
    from gensem.core.edge_codec import EdgeCodec

    from receiver_ai.pipelines import load_backend

    d = tmp_path_factory.mktemp("demo")
    codec = EdgeCodec.from_config(N=8, M=8, seed=0)
    codec.save(str(d / "codec.pt"))
    gen, desc = load_backend("edge-diffusion", tiny=True, steps=2)
    return d, str(d / "codec.pt"), gen, desc, resolve_image("skimage:cat", str(d))


@pytest.mark.parametrize("snr_db, sent", [(22.0, True), (4.0, False)])
def test_demo_end_to_end(tiny, snr_db, sent):
    from gensem.apps.semantic_demo import run_demo

    d, codec, gen, desc, image = tiny
    out = d / f"out{snr_db}"
    r = run_demo(image, str(out), gen, desc, prompt="a cat on a sofa", codec_path=codec, snr_db=snr_db)
    json.dumps(r)
    for k in KEYS:
        assert k in r
    assert r["prompt_received"] == "a cat on a sofa" and r["prompt_transmissions"] >= 1
    assert os.path.getsize(r["report_png"]) > 10_000
    assert r["metrics"]["psnr_db"] > 0 and r["metrics"]["ms_ssim"] is not None
    if sent:  # planner picks M1 > 0 at 22 dB; AWGN at that SNR leaves the parts intact
        assert r["modulation"] in (4, 16, 64) and r["edge_parts"] >= 1
        assert r["edge_ber"] is not None and r["edge_ber"] < 1e-3
        assert r["edge_decode"]["ok"]
    else:  # 4 dB: the edge map is not sent (M1 = 0), the prompt still arrives
        assert r["modulation"] == 0 and r["edge_ber"] is None and r["prompt_power_fraction"] == 1.0
    # the image prompt announces its part count on air, so the bridge completes the image
    # (prompt-only at M1 = 0) without waiting for its assembly timeout
    images = r["bridge"]["images"]
    assert images["completed"] == 1 and images["timeouts"] == 0 and images["partial"] == 0
    assert 0 <= r["image_id"] < 1 << 16  # the prompt's ARQ number, drawn per run; its parts carry it


@pytest.mark.parametrize(
    "modalities",
    ["prompt", "edges", "colour", "prompt,edges", "prompt,colour", "edges,colour", "prompt,edges,colour"],
)
def test_demo_every_modality_combination(tiny, modalities):
    """--modalities: each non-empty subset of prompt, edges, colour goes over the link and the
    bridge and the receiver generates from what arrived; what is left out costs no bits."""
    from gensem.apps.semantic_demo import run_demo

    d, codec, gen, desc, image = tiny
    mods = modalities.split(",")
    out = d / f"mod_{modalities.replace(',', '_')}"
    r = run_demo(image, str(out), gen, desc, prompt="a cat on a sofa", codec_path=codec, snr_db=22.0,
                 modalities=modalities)  # fmt: skip
    assert r["modalities"] == mods
    assert (r["prompt_bits"] > 0) == ("prompt" in mods) and (r["edge_bits"] > 0) == ("edges" in mods)
    assert (r["colour_bits"] > 0) == ("colour" in mods) and r["colour_received"] == ("colour" in mods)
    assert r["total_bits"] == r["prompt_bits"] + r["edge_bits"] + r["colour_bits"]
    assert r["total_bits"] <= 0.025 * 768 * 512
    assert r["prompt_received"] == ("a cat on a sofa" if "prompt" in mods else "")
    assert r["metrics"]["psnr_db"] > 0  # generated from what arrived
    if "colour" in mods:  # the receiver takes the layout's coarse colours
        assert r["metrics"]["psnr_db"] > 12
    assert os.path.getsize(r["report_png"]) > 10_000


def test_demo_prompt_colours(tiny):
    """--prompt-colours: the image's colour words ride in the prompt, counted in its bits, and
    arrive with it; without the prompt modality nothing is added."""
    from gensem.apps.semantic_demo import run_demo
    from gensem.core.images import fit_image, load_image
    from gensem.semantic.colour_words import colour_words

    d, codec, gen, desc, image = tiny
    words = colour_words(fit_image(load_image(image)))
    r = run_demo(image, str(d / "pc"), gen, desc, prompt="a cat", codec_path=codec, snr_db=22.0,
                 prompt_colours=True, modalities="prompt,edges")  # fmt: skip
    assert r["prompt_received"].startswith("a cat, ") and all(w in r["prompt_received"] for w in words)
    assert r["prompt_bits"] == 8 * len(r["prompt_received"]) and "colour words" in r["prompt_source"]
    r = run_demo(image, str(d / "pc2"), gen, desc, prompt="a cat", codec_path=codec, snr_db=22.0,
                 prompt_colours=True, modalities="edges")  # fmt: skip
    assert r["prompt_bits"] == 0 and r["prompt_received"] == ""


def test_demo_auto_edges_fall_back_to_canny_on_bad_hed_weights(tiny, tmp_path):
    """--edges auto with a broken HED weights file: a one-line notice and Canny, the run goes
    on; --edges hed with the same file is a clear error."""
    from gensem.apps.semantic_demo import run_demo

    d, codec, gen, desc, image = tiny
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a weights file")
    r = run_demo(image, str(tmp_path / "auto"), gen, desc, prompt="a cat", codec_path=codec, snr_db=22.0,
                 edges="auto", hed_weights=str(bad))  # fmt: skip
    assert r["edges"] == "canny" and "edges by Canny" in r["edges_notice"] and "\n" not in r["edges_notice"]
    assert "broken.safetensors" in r["edges_notice"] and r["edge_bits"] > 0
    with pytest.raises(ValueError, match="HED weights"):
        run_demo(image, str(tmp_path / "hed"), gen, desc, prompt="a cat", codec_path=codec, snr_db=22.0,
                 edges="hed", hed_weights=str(bad))  # fmt: skip


def test_demo_with_hed_edges(tiny, tmp_path):
    """--edges hed: the controlnet_aux HED annotator from a local weights directory (random
    weights here) feeds the same chain."""
    torch = pytest.importorskip("torch")
    hed = pytest.importorskip("controlnet_aux.hed")
    from gensem.apps.semantic_demo import run_demo

    d, codec, gen, desc, image = tiny
    torch.manual_seed(0)
    torch.save(hed.ControlNetHED_Apache2().state_dict(), tmp_path / "ControlNetHED.pth")
    r = run_demo(
        image, str(tmp_path / "out"), gen, desc, prompt="a cat", codec_path=codec, snr_db=22.0,
        edges="hed", hed_weights=str(tmp_path),
    )  # fmt: skip
    assert r["edges"] == "hed" and r["edge_bits"] > 0 and r["prompt_received"] == "a cat"


def test_demo_cli_errors(tmp_path):
    from PIL import Image
    from test_cli import gensem

    Image.new("L", (3, 2)).save(tmp_path / "tiny.png")
    r = gensem("demo", "--image", str(tmp_path / "tiny.png"), "--prompt", "x")
    assert r.returncode == 2 and "need at least 32 px" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = gensem("demo", "--prompt", "  ")
    assert r.returncode == 2 and "--prompt is empty" in r.stderr, r.stderr

    r = gensem("demo", "--image", "/nonexistent.png", "--prompt", "x")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = gensem("demo", "--prompt", "x", "--codec", "/nonexistent.pt")
    assert r.returncode == 2 and "checkpoint not found" in r.stderr, r.stderr
    r = gensem("demo", "--prompt", "x", "--max-edge-bpp", "-0.1")
    assert r.returncode == 2 and "--max-edge-bpp must be >= 0" in r.stderr, r.stderr
    for bad in ("foo", ",", "prompt,sound"):
        r = gensem("demo", "--prompt", "x", "--modalities", bad)
        assert r.returncode == 2 and "--modalities takes" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_calibration_tiny(tiny):
    from gensem.core.edge_codec import EdgeCodec
    from gensem.planner import load_calibration
    from gensem.semantic.calibrate import run_calibration

    d, codec, gen, desc, image = tiny
    r = run_calibration(
        [image],
        ["a cat"],
        gen,
        EdgeCodec.from_checkpoint(codec),
        str(d / "cal"),
        bers=(1e-4, 1e-1),
        seeds=(0,),
    )
    assert os.path.getsize(r["png"]) > 5_000 and isinstance(r["monotone"], bool)
    cal = load_calibration(r["csv"])  # what gensem plan --calibration reads
    assert cal.names == ["ms_ssim_norm"] and list(cal.ber) == [1e-4, 1e-1]  # edge_dropped is no metric
    assert 0 < r["prompt_only"]["ms_ssim_norm"] < 10
    assert r["edge_policy"] == "drop-corrupt" and all(0 <= row["edge_dropped"] <= 1 for row in r["rows"])
    assert r["modalities"] == ["prompt", "edges", "colour"] and r["edges"] == "canny"


def test_calibration_with_hed_maps(tiny):
    """run_calibration(edges="hed") codes the HED map as gensem demo does (the converted
    weights from make setup; skipped without them)."""
    from gensem.core.edge_codec import EdgeCodec
    from gensem.semantic.calibrate import run_calibration
    from gensem.semantic.hed import default_weights

    if not os.path.isfile(default_weights()):
        pytest.skip("HED weights not converted (make setup)")
    d, codec, gen, desc, image = tiny
    seen = []
    r = run_calibration([image], ["a cat"], lambda p, e, **kw: seen.append(e.max()) or gen(p, e, **kw),
                        EdgeCodec.from_checkpoint(codec), str(d / "calhed"), bers=(1e-1,), seeds=(0,),
                        modalities=("prompt", "edges"), edges="hed")  # fmt: skip
    assert r["edges"] == "hed" and len(r["rows"]) == 1 and seen


def test_calibration_modalities(tiny):
    """--modalities: what each generation gets (the prompt or "", the colour layout or none);
    with edges alone there is no no-edge reference; a set without edges is refused."""
    from gensem.core.edge_codec import EdgeCodec
    from gensem.semantic.calibrate import run_calibration

    d, codec, gen, desc, image = tiny
    seen = []

    def spy(prompt, edge_map, seed=None, colour=None):
        seen.append((prompt, colour is not None))
        return gen(prompt, edge_map, seed=seed, colour=colour)

    kw = {"bers": (1e-1,), "seeds": (0,)}
    cdc = EdgeCodec.from_checkpoint(codec)
    for mods, want in [(("prompt", "edges", "colour"), {("a cat", True)}), (("prompt", "edges"), {("a cat", False)}),
                       (("edges", "colour"), {("", True)})]:  # fmt: skip
        seen.clear()
        r = run_calibration([image], ["a cat"], spy, cdc, str(d / "calm"), modalities=mods, **kw)
        assert set(seen) == want and len(seen) == 3 and r["prompt_only"]["ms_ssim_norm"] > 0, mods
    seen.clear()
    r = run_calibration([image], ["a cat"], spy, cdc, str(d / "calm"), modalities=("edges",), **kw)
    assert set(seen) == {("", False)} and r["prompt_only"]["ms_ssim_norm"] is None
    row = r["rows"][0]  # at BER 0.1 the map is always detectably corrupt: dropped, nothing to generate
    assert row["edge_dropped"] == 1.0 and row["ms_ssim_norm"] == 0.0 and len(seen) == 1
    with pytest.raises(ValueError, match="must include edges"):
        run_calibration([image], ["a cat"], spy, cdc, str(d / "calm"), modalities=("prompt", "colour"), **kw)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--images", "skimage:cat", "skimage:coffee", "--prompts", "a", "b", "c"], "one prompt per image"),
        (["--bers", "0.7"], "BERs must be in (0, 0.5)"),
        (["--prompts", " "], "must not be empty"),
        (["--codec", "/nonexistent.pt"], "checkpoint not found"),
        (["--max-edge-bpp", "-1"], "--max-edge-bpp must be >= 0"),
        (["--modalities", "prompt,colour"], "must include edges"),
        (["--modalities", "sound"], "--modalities takes"),
    ],
)
def test_calibrate_cli_errors(args, words):
    from test_cli import gensem

    r = gensem("calibrate", *args)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in r.stderr, r.stderr
