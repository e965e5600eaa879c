"""Receiver backends with tiny randomly initialised components (no weights, no hub)."""

import numpy as np
import pytest

from receiver_ai.pipelines.edge_diffusion import EdgeDiffusionPipeline

diffusers = pytest.importorskip("diffusers")


def edges_a(h=64, w=64):
    e = np.zeros((h, w), np.float32)
    e[h // 4 : h // 4 + 3, :] = 1.0
    e[:, w // 2 : w // 2 + 3] = 1.0
    return e


def edges_b(h=64, w=64):
    e = np.zeros((h, w), np.float32)
    e[h // 8 :: 8, :] = 1.0
    return e


# ------------------------------------------------------------------ edge-diffusion
def test_edge_diffusion_shape_determinism_and_conditioning(tmp_path):
    p = EdgeDiffusionPipeline.from_config(tiny=True, device="cpu")
    a = p("a red car", edges_a(), steps=3, seed=7, out_size=(48, 32))
    assert a.shape == (32, 48, 3) and a.dtype == np.uint8
    assert np.array_equal(a, p("a red car", edges_a(), steps=3, seed=7, out_size=(48, 32)))
    assert not np.array_equal(a, p("a red car", edges_b(), steps=3, seed=7, out_size=(48, 32)))
    assert not np.array_equal(a, p("a blue boat", edges_a(), steps=3, seed=7, out_size=(48, 32)))
    assert not np.array_equal(a, p("a red car", edges_a(), steps=3, seed=8, out_size=(48, 32)))
    # checkpoint round trip (fp16 weights): same model, near-identical images
    path = str(tmp_path / "m.pt")
    p.save(path, step=3, recipe={"test": True})
    q = EdgeDiffusionPipeline.from_checkpoint(path, device="cpu")
    assert q.meta["step"] == 3 and q.model.config == p.model.config
    b = q("a red car", edges_a(), steps=3, seed=7, out_size=(48, 32))
    assert np.abs(a.astype(int) - b).mean() < 8


def test_edge_diffusion_bad_inputs_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        EdgeDiffusionPipeline.from_checkpoint(str(tmp_path / "nope.pt"))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad edge-diffusion checkpoint"):
        EdgeDiffusionPipeline.from_checkpoint(str(bad))
    p = EdgeDiffusionPipeline.from_config(tiny=True, device="cpu")
    with pytest.raises(ValueError, match="2-D"):
        p("x", np.zeros(5), steps=1)
    with pytest.raises(ValueError, match="steps"):
        p("x", edges_a(), steps=0)


# ------------------------------------------------------------------ controlnet
def write_tokenizer(d):
    from receiver_ai.pipelines.random_init import byte_level_clip_tokenizer

    tok = byte_level_clip_tokenizer(str(d), max_length=16)
    assert len(tok("a red car").input_ids) == 2 + len("a red car") - 2  # bos + chars - spaces + eos
    return tok


def tiny_controlnet_pipe(tmp_path):
    from receiver_ai.pipelines.random_init import random_controlnet_pipeline

    return random_controlnet_pipeline(
        write_tokenizer(tmp_path),
        unet=dict(
            block_out_channels=(8, 16),
            layers_per_block=1,
            sample_size=16,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=16,
            attention_head_dim=4,
            norm_num_groups=4,
        ),
        controlnet=dict(conditioning_embedding_out_channels=(8, 16)),
        vae=dict(
            block_out_channels=(8, 16),
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2,
            latent_channels=4,
            norm_num_groups=4,
        ),
        text=dict(
            hidden_size=16,
            intermediate_size=32,
            num_attention_heads=2,
            num_hidden_layers=2,
            max_position_embeddings=16,
        ),
        randomize_zero_convs=True,
    )


def test_controlnet_backend_with_tiny_components(tmp_path):
    from receiver_ai.pipelines.controlnet import ControlNetBackend

    b = ControlNetBackend(tiny_controlnet_pipe(tmp_path), device="cpu")
    kw = {"steps": 2, "out_size": (32, 32)}
    a = b("a red car", edges_a(), seed=3, **kw)
    assert a.shape == (32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b("a red car", edges_a(), seed=3, **kw))
    assert not np.array_equal(a, b("a red car", edges_b(), seed=3, **kw))  # the edge map is used
    assert not np.array_equal(a, b("a red car", edges_a(), seed=4, **kw))
    # the same components saved in diffusers format load back through from_pretrained
    base, cn = tmp_path / "sd", tmp_path / "cn"
    b.pipe.save_pretrained(str(base))
    b.pipe.controlnet.save_pretrained(str(cn))
    c = ControlNetBackend.from_pretrained(str(base), str(cn), device="cpu")
    assert np.array_equal(a, c("a red car", edges_a(), seed=3, **kw))


def test_controlnet_missing_model_is_one_line_value_error(tmp_path):
    from receiver_ai.pipelines.controlnet import ControlNetBackend

    with pytest.raises(ValueError) as e:
        ControlNetBackend.from_pretrained(str(tmp_path / "sd"), "nobody/no-such-controlnet", device="cpu")
    msg = str(e.value)
    assert "nobody/no-such-controlnet" in msg and "\n" not in msg and "local" in msg


def test_controlnet_end_skips_the_controlnet_and_changes_nothing_else(tmp_path, monkeypatch):
    """control_end=0.5: diffusers scales the late steps' ControlNet residuals by 0; the skip
    returns those zeros without running the network: the same image from half the runs."""
    from diffusers import ControlNetModel

    from receiver_ai.pipelines.controlnet import ControlNetBackend

    runs = []
    real = ControlNetModel.forward
    monkeypatch.setattr(ControlNetModel, "forward", lambda self, *a, **k: (runs.append(1), real(self, *a, **k))[1])
    b = ControlNetBackend(tiny_controlnet_pipe(tmp_path), device="cpu")
    kw = {"steps": 4, "out_size": (32, 32), "seed": 5}
    skipped = b("a red car", edges_a(), control_end=0.5, **kw)
    assert len(runs) == 2
    del b.pipe.controlnet.forward  # diffusers alone: the ControlNet runs on every step
    runs.clear()
    plain = b("a red car", edges_a(), control_end=0.5, **kw)
    assert len(runs) == 4 and np.array_equal(skipped, plain)
    assert not np.array_equal(skipped, b("a red car", edges_a(), control_end=1.0, **kw))


def test_controlnet_scheduler_switch_and_channels_last(tmp_path):
    from receiver_ai.pipelines.controlnet import ControlNetBackend

    b = ControlNetBackend(tiny_controlnet_pipe(tmp_path), device="cpu")
    kw = {"steps": 3, "out_size": (32, 32), "seed": 1}
    ddim = b("a red car", edges_a(), **kw)
    b.optimize(channels_last=True)
    assert np.abs(ddim.astype(int) - b("a red car", edges_a(), **kw)).max() <= 2  # layout only
    for name in ("dpm++", "unipc", "lcm"):
        out = b.set_scheduler(name)("a red car", edges_a(), **kw)
        assert out.shape == (32, 32, 3) and b.meta["scheduler"] == name
    with pytest.raises(ValueError, match="scheduler must be one of"):
        b.set_scheduler("euler-magic")


def test_controlnet_starts_from_the_colour_layout(tmp_path):
    """colour=layout: img2img from the upsampled layout (StableDiffusionControlNetImg2ImgPipeline
    on the same components): deterministic, and the layout changes the image."""
    from gensem.core import colour_layout

    from receiver_ai.pipelines.controlnet import ControlNetBackend

    b = ControlNetBackend(tiny_controlnet_pipe(tmp_path), device="cpu")
    kw = {"steps": 4, "out_size": (32, 32), "seed": 3}
    red = colour_layout.encode(np.full((32, 32, 3), (220, 20, 20), np.uint8), grid=(4, 4))
    blue = colour_layout.encode(np.full((32, 32, 3), (20, 20, 220), np.uint8), grid=(4, 4))
    a = b("a red car", edges_a(), colour=red, **kw)
    assert a.shape == (32, 32, 3) and np.array_equal(a, b("a red car", edges_a(), colour=red, **kw))
    assert not np.array_equal(a, b("a red car", edges_a(), colour=blue, **kw))
    assert not np.array_equal(a, b("a red car", edges_a(), **kw))


def test_edge_diffusion_takes_the_layout_colours():
    from gensem.core import colour_layout

    from receiver_ai.pipelines import load_backend

    gen, _ = load_backend("edge-diffusion", tiny=True, steps=1, out_size=(96, 64))
    truth = np.zeros((64, 96, 3), np.uint8)
    truth[:, :48] = (200, 40, 40)
    truth[:, 48:] = (40, 40, 200)
    layout = colour_layout.encode(truth, grid=(12, 8))
    img = gen("a flag", np.zeros((64, 96), np.float32), seed=1, colour=layout)
    left, right = img[:, :40].reshape(-1, 3).mean(0), img[:, 56:].reshape(-1, 3).mean(0)
    assert left[0] > left[2] + 60 and right[2] > right[0] + 60  # red left, blue right
    with pytest.raises(ValueError, match="nothing to generate from"):
        gen("", np.zeros((64, 96), np.float32))


def _colour_input_pipe(zero_output: bool = False):
    """A tiny colour-input model with X-prediction (1 trailing DDIM step = its x0 estimate)."""
    import torch
    from receiver_ai.models.edge_unet import TINY_CONFIG, EdgeUNet

    torch.manual_seed(0)
    model = EdgeUNet(dict(TINY_CONFIG, colour_input=True))
    if zero_output:  # a model that predicts a zero residual everywhere
        torch.nn.init.zeros_(model.unet.conv_out.weight)
        torch.nn.init.zeros_(model.unet.conv_out.bias)
    sched = {"prediction_type": "sample", "timestep_spacing": "trailing"}
    return EdgeDiffusionPipeline(model, sched, device="cpu")


def test_colour_input_model_returns_the_layout_plus_its_residual():
    """Known answer: a colour-input model whose residual is zero returns exactly the rendered
    layout (the colour-only reconstruction); its input has 8 channels; load_backend hands it
    the layout instead of imposing it."""
    from gensem.core import colour_layout

    truth = np.zeros((64, 96, 3), np.uint8)
    truth[:, :48] = (200, 40, 40)
    truth[:, 48:] = (40, 160, 60)
    layout = colour_layout.encode(truth, grid=(12, 8))
    zero = _colour_input_pipe(zero_output=True)
    assert zero.colour_input and zero.model.unet.config.in_channels == 8
    img = zero("a flag", np.zeros((64, 96), np.float32), steps=1, seed=3, out_size=(96, 64), colour=layout)
    assert np.array_equal(img, colour_layout.render(layout, (96, 64)))
    grey = zero("a flag", np.zeros((64, 96), np.float32), steps=1, seed=3, out_size=(96, 64))
    assert np.all(np.abs(grey.astype(int) - 128) <= 1)  # no layout: residual on mid-grey
    rnd = _colour_input_pipe()
    a = rnd("a flag", edges_a(64, 96), steps=1, seed=3, out_size=(96, 64), colour=layout)
    assert not np.array_equal(a, img)  # the (random) residual is added
    assert not np.array_equal(a, rnd("a flag", edges_a(64, 96), steps=1, seed=3, out_size=(96, 64)))


def test_colour_input_model_through_load_backend_and_checkpoint(tmp_path, monkeypatch):
    import receiver_ai.pipelines.edge_diffusion as ed
    from gensem.core import colour_layout
    from receiver_ai.pipelines import load_backend

    path = str(tmp_path / "c.pt")
    zero = _colour_input_pipe(zero_output=True)
    zero.save(path, step=1, recipe={"sampling_steps": 3})
    q = ed.EdgeDiffusionPipeline.from_checkpoint(path, device="cpu")
    assert q.colour_input and q.scheduler.config.prediction_type == "sample"
    _, desc = load_backend("edge-diffusion", model=path, out_size=(96, 64), device="cpu")
    assert "3 steps" in desc  # the checkpoint's own sampling steps unless --steps says otherwise
    gen, desc = load_backend("edge-diffusion", model=path, steps=1, out_size=(96, 64), device="cpu")
    assert "1 steps" in desc
    truth = np.full((64, 96, 3), (30, 150, 60), np.uint8)
    layout = colour_layout.encode(truth, grid=(12, 8))
    img = gen("grass", np.zeros((64, 96), np.float32), seed=1, colour=layout)
    assert np.array_equal(img, colour_layout.render(layout, (96, 64)))  # not imposed on a grey image


def test_colour_input_model_rejects_a_wrong_layout_shape():
    import torch

    pipe = _colour_input_pipe()
    w, h = pipe.work_size
    x, e = torch.zeros(1, 3, h, w), torch.zeros(1, 1, h, w)
    with pytest.raises(ValueError, match="layout must be"):
        pipe.model(x, torch.zeros(1, dtype=torch.long), e, ["x"], torch.zeros(1, 3, h, w))
