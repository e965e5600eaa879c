"""CDM-JSCC receiver side and end to end with tiny randomly initialised models (fixed seeds)."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")
pytest.importorskip("diffusers")

from gensem.core.cdm_jscc import checkpoint, side_info  # noqa: E402
from gensem.core.cdm_jscc.deepjscc import TINY_DEEPJSCC, DeepJSCC  # noqa: E402
from gensem.core.cdm_jscc.losses import PerceptualLoss, cdm_jscc_loss  # noqa: E402
from gensem.core.cdm_jscc.model import CDMJSCC, TINY_CONFIG  # noqa: E402
from gensem.core.cdm_jscc.sampler import make_scheduler, sample  # noqa: E402
from gensem.core.cdm_jscc.unet import TINY_UNET, ConditionalUNet  # noqa: E402

torch.set_num_threads(1)
CBR = 1 / 20  # reachable with the tiny config on 64x96 images: [1/24, 1/3]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = CDMJSCC(TINY_CONFIG).eval()
    m.update_entropy_tables()
    return m


def _images(b=2, h=32, w=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, h, w, generator=g)


def test_unet_shapes_time_and_condition_checks():
    torch.manual_seed(0)
    u = ConditionalUNet(8, 4, **TINY_UNET)
    x, y = torch.randn(2, 3, 32, 48), torch.randn(2, 8, 8, 12)
    out = u(x, y, torch.tensor([0.1, 1.0]))
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert not torch.allclose(u(x, y, torch.tensor(0.1)), u(x, y, torch.tensor(0.9)))  # time matters
    assert not torch.allclose(u(x, y, 0.5), u(x, y + 1.0, 0.5))  # the condition matters
    with pytest.raises(ValueError, match="condition must be"):
        u(x, torch.randn(2, 8, 4, 6), 0.5)
    with pytest.raises(ValueError, match="channel entries"):
        ConditionalUNet(8, 16, channels=[8, 16])


@pytest.mark.parametrize("steps", [1, 2, 5])
def test_sampler_runs_with_any_step_count(steps):
    torch.manual_seed(0)
    u = ConditionalUNet(8, 4, **TINY_UNET).eval()
    sched = make_scheduler({"num_train_timesteps": 100})
    out = sample(u, torch.randn(1, 8, 4, 6), (16, 24), steps, sched, torch.Generator().manual_seed(0))
    assert out.shape == (1, 3, 16, 24) and float(out.abs().max()) <= 1.0
    with pytest.raises(ValueError, match="steps"):
        sample(u, torch.randn(1, 8, 4, 6), (16, 24), 0, sched)


@pytest.mark.parametrize("stage", ["compression", "jscc", "joint"])
def test_training_stages_outputs_and_gradients(stage):
    torch.manual_seed(0)
    m = CDMJSCC(TINY_CONFIG).train()
    x = _images()
    out = m.training_outputs(x, 10.0, CBR, stage=stage, generator=torch.Generator().manual_seed(0))
    if stage == "jscc":
        loss = out["latent_mse"]
        assert "x_hat" not in out and "x_bar" not in out  # g_d is not run in the JSCC stage
    else:
        loss, terms = cdm_jscc_loss(
            x, out["x_hat"], out["x_bar"], out["bpp"], 0.5, 1e-3, PerceptualLoss(False)
        )
        assert out["x_bar"].shape == x.shape
        assert (terms["mse_hat"] > 0) == (stage == "joint")
    if stage != "compression":
        assert abs(out["cbr"] - CBR) < 0.2 * CBR  # measured CBR tracks the target
    loss.backward()
    trained = {
        n.split(".")[0] for n, p in m.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0
    }
    expect = {"compression": {"transform", "unet"}, "jscc": {"jscc_encoder", "jscc_decoder"}}
    assert trained == expect.get(stage, {"transform", "unet", "jscc_encoder", "jscc_decoder"})


def test_encode_power_cbr_and_decode_any_steps(model):
    x = _images(b=1, h=64, w=96)
    for target in (1 / 20, 1 / 16, 1 / 12):
        enc = model.encode(x, target_cbr=target)
        s = enc["symbols"][0]
        assert s.numel() == int(enc["lengths"].sum())
        assert abs(float((s.abs() ** 2).mean()) - 1.0) < 1e-4  # average power constraint
        assert abs(float(enc["cbr"][0]) - target) < 0.15 * target  # tracks the target (k_i are quantised)
    for steps in (1, 3):
        out = model.decode(
            enc["symbols"], enc["lengths"], enc["z_strings"], enc["z_hw"], enc["image_hw"], steps
        )
        assert out.shape == x.shape and 0.0 <= float(out.min()) and float(out.max()) <= 1.0


def test_side_info_round_trip_and_corruption(model):
    x = _images(b=1, h=64, w=96)
    enc = model.encode(x, target_cbr=CBR)
    cfg = model.config
    blob = side_info.pack(
        enc["z_strings"][0], enc["z_hw"], enc["image_hw"], enc["lengths"][0], cfg["unit"], cfg["max_len"]
    )
    info = side_info.unpack(blob, model.transform.stride)
    assert info["image_hw"] == (64, 96) and info["z_string"] == enc["z_strings"][0]
    assert (torch.as_tensor(info["lengths"]) == enc["lengths"][0]).all()
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 0x10
    with pytest.raises(side_info.SideInfoError, match="CRC"):
        side_info.unpack(bytes(bad), model.transform.stride)
    with pytest.raises(side_info.SideInfoError, match="too short"):
        side_info.unpack(blob[:5], model.transform.stride)
    with pytest.raises(side_info.SideInfoError, match="does not fit"):
        side_info.unpack(blob, 16)
    # symbols that do not match the lengths, or a hyper-latent of another size: one clear error
    with pytest.raises(ValueError, match="side information"):
        model.decode([enc["symbols"][0][:-2]], enc["lengths"], enc["z_strings"], enc["z_hw"], enc["image_hw"])
    with pytest.raises(ValueError, match="side information"):
        model.decode(enc["symbols"], enc["lengths"], enc["z_strings"], (1, 1), enc["image_hw"])


def test_side_info_v2_carries_the_colour_layout_and_v1_still_parses(model):
    """Version 2: the colour layout and deflated lengths (when shorter); a version-1 blob (as
    an older transmitter wrote it: no layout, raw lengths) still parses."""
    import struct
    import zlib

    import numpy as np
    from gensem.core.cdm_jscc import colour

    x = _images(b=1, h=64, w=96)
    enc = model.encode(x, target_cbr=CBR)
    cfg = model.config
    args = (enc["z_strings"][0], enc["z_hw"], enc["image_hw"], enc["lengths"][0], cfg["unit"], cfg["max_len"])
    img = (x[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    lay = colour.layout(img)
    plain, v2 = side_info.pack(*args), side_info.pack(*args, colour=lay)
    assert plain[2] == 2 and v2[2] == 2 and len(v2) == len(plain) + len(lay)
    # version 1, built by hand: no colour fields, the lengths as raw nibbles
    n = enc["lengths"][0].numel()
    lev = (enc["lengths"][0] // cfg["unit"] - 1).tolist() + [0] * (n % 2)
    body = bytes(lev[i] << 4 | lev[i + 1] for i in range(0, len(lev), 2))
    head = struct.pack(">2sBHHBBBBI", b"CJ", 1, *enc["image_hw"], *enc["z_hw"], cfg["unit"], cfg["max_len"],
                       len(enc["z_strings"][0]))  # fmt: skip
    v1 = head + enc["z_strings"][0] + body
    v1 += struct.pack(">I", zlib.crc32(v1))
    a, b = side_info.unpack(v1, model.transform.stride), side_info.unpack(v2, model.transform.stride)
    assert a["colour"] == b"" and b["colour"] == lay and side_info.unpack(plain, model.transform.stride)["colour"] == b""
    assert a["z_string"] == b["z_string"] and (a["lengths"] == b["lengths"]).all()
    bad = bytearray(v2)
    bad[-6] ^= 0x01  # inside the layout: the CRC catches it
    with pytest.raises(side_info.SideInfoError, match="CRC"):
        side_info.unpack(bytes(bad), model.transform.stride)
    # deflated lengths (a smooth image: most vectors at one length) and a bad deflate stream
    flat = side_info.pack(enc["z_strings"][0], enc["z_hw"], enc["image_hw"], torch.full((n,), cfg["unit"]),
                          cfg["unit"], cfg["max_len"])  # fmt: skip
    assert flat[side_info._HEAD.size + 2] & side_info.DEFLATED and len(flat) < len(plain)
    assert (side_info.unpack(flat, model.transform.stride)["lengths"] == cfg["unit"]).all()
    forged = bytearray(flat[:-4])
    forged[-3] ^= 0xFF  # inside the deflate stream, CRC recomputed: as a buggy sender would
    forged = bytes(forged) + struct.pack(">I", zlib.crc32(bytes(forged)))
    with pytest.raises(side_info.SideInfoError, match="inflate"):
        side_info.unpack(forged, model.transform.stride)


def test_colour_layout_sets_a_decoded_images_colours():
    """Known answer: a decoder that returned a flat blue image for a flat green one gets the
    green back (the transmitted layout, 8/7 bits: within a level), and detail finer than a
    cell is kept; a layout that does not decode leaves the image as it was, with a reason."""
    import numpy as np
    from gensem.core.cdm_jscc import colour
    from gensem.core.metrics import mean_colour_error

    green = np.zeros((128, 192, 3), np.uint8) + np.array([47, 179, 133], np.uint8)
    rng = np.random.default_rng(0)
    detail = rng.integers(-10, 11, (128, 192, 1))
    blue = np.clip(np.array([60, 110, 180]) + detail, 0, 255).astype(np.uint8)
    out, err = colour.apply(blue, colour.layout(green))
    assert err is None and mean_colour_error(green, out) < 1.0 and mean_colour_error(green, blue) > 30
    fine = out.astype(int) - out.astype(int).mean(axis=(0, 1))
    assert np.corrcoef(fine[..., 1].ravel(), detail.ravel())[0, 1] > 0.95  # the detail survives
    same, err = colour.apply(blue, b"\x09garbage")
    assert np.array_equal(same, blue) and err.startswith("colour layout ignored:") and "\n" not in err
    assert colour.apply(blue, b"") == (blue, None)


def test_deepjscc_cbr_power_and_shapes():
    torch.manual_seed(0)
    d = DeepJSCC(TINY_DEEPJSCC)
    x = _images(h=32, w=48)
    s = d.encode(x)
    assert s.is_complex() and s[0].numel() / (3 * 32 * 48) == pytest.approx(d.cbr) == pytest.approx(1 / 12)
    assert (s.abs() ** 2).mean(dim=(1, 2, 3)).sub(1).abs().max() < 1e-4
    assert d(x, 10.0).shape == x.shape
    with pytest.raises(ValueError, match="whole number"):
        DeepJSCC({"channels": [8, 8], "cbr": 1 / 50})
    with pytest.raises(ValueError, match="multiples of 4"):
        d.encode(torch.rand(1, 3, 30, 48))


def test_loss_terms_and_eta_bounds():
    x = _images()
    pl = PerceptualLoss(prefer_lpips=False)
    assert pl.name == "1-ms-ssim"
    total, terms = cdm_jscc_loss(x, x.clone(), x.clone(), torch.tensor(0.0), 0.5, 1e-3, pl)
    assert float(total) == pytest.approx(0.0, abs=1e-5) and terms["dp_hat"] == pytest.approx(0.0, abs=1e-5)
    _, terms = cdm_jscc_loss(x, torch.zeros_like(x), None, torch.tensor(1.0), 0.1, 1e-3, pl)
    assert terms["mse_hat"] > 0.2 and terms["mse_bar"] == 0.0
    with pytest.raises(ValueError, match="eta"):
        cdm_jscc_loss(x, x, x, torch.tensor(0.0), 1.5, 0.0, pl)


def test_checkpoint_round_trip_and_bad_files(tmp_path, model):
    path = str(tmp_path / "m.pt")
    checkpoint.save(path, model, recipe={"note": "test"})
    loaded, ckpt = checkpoint.load(path)
    assert ckpt["kind"] == "cdm-jscc" and ckpt["recipe"]["note"] == "test"
    x = _images(b=1, h=64, w=96)
    a, b = model.encode(x, target_cbr=CBR), loaded.encode(x, target_cbr=CBR)
    assert a["z_strings"] == b["z_strings"] and (a["lengths"] == b["lengths"]).all()
    with pytest.raises(ValueError, match="no checkpoint"):
        checkpoint.load(str(tmp_path / "missing.pt"))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        checkpoint.load(str(tmp_path / "junk.pt"))


def test_min_snr_weighting_and_weighted_loss_known_answer():
    from gensem.core.cdm_jscc.losses import min_snr_weight

    snr = torch.tensor([0.01, 2.0, 5.0, 400.0])
    assert torch.equal(min_snr_weight(snr, 5.0), torch.tensor([0.01, 2.0, 5.0, 5.0]))
    with pytest.raises(ValueError):
        min_snr_weight(snr, 0.0)
    x = torch.zeros(2, 3, 4, 4)
    rec = torch.stack([torch.full((3, 4, 4), 0.1), torch.full((3, 4, 4), 0.2)])
    w = torch.tensor([1.0, 3.0])
    loss, terms = cdm_jscc_loss(x, rec, None, torch.zeros(()), 0.0, 0.0, PerceptualLoss(prefer_lpips=False), w)
    assert abs(terms["mse_hat"] - (1.0 * 0.01 + 3.0 * 0.04) / 2) < 1e-7  # mean of weighted per-image MSEs
    _, plain = cdm_jscc_loss(x, rec, None, torch.zeros(()), 0.0, 0.0, PerceptualLoss(prefer_lpips=False))
    assert abs(plain["mse_hat"] - 0.025) < 1e-7


def test_training_outputs_snr_and_stage2_image_path():
    """The SNR of each draw matches the scheduler's abar; stage 2 with jscc_image gives x_hat
    (from f_d's output through g_d) and no x_bar, and its gradient reaches f_e / f_d."""
    m = CDMJSCC(TINY_CONFIG)
    x = torch.rand(2, 3, 64, 96)
    out = m.training_outputs(x, 10.0, CBR, stage="jscc", generator=torch.Generator().manual_seed(0),
                             pure_noise_frac=1.0, jscc_image=True)  # fmt: skip
    assert out["x_bar"] is None and out["x_hat"].shape == x.shape
    abar = m.scheduler.alphas_cumprod[-1]
    assert torch.allclose(out["snr"], (abar / (1 - abar)).expand(2).float())
    out["x_hat"].mean().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.jscc_encoder.parameters())
    plain = m.training_outputs(x, 10.0, CBR, stage="jscc", generator=torch.Generator().manual_seed(0))
    assert "x_hat" not in plain and "latent_mse" in plain


def test_paper_configuration_options():
    """The authors' design options: rotary embeddings in MLLA (positions matter: a permuted grid
    gives different outputs), U-Net self-attention and concatenated conditions; the default
    state dict is unchanged (the shipped checkpoints load), the paper preset is ~62 M."""
    from gensem.core.cdm_jscc.mlla import LinearAttention, rope_2d
    from gensem.core.cdm_jscc.model import DEFAULT_CONFIG, PAPER_CONFIG

    x = torch.randn(1, 2, 12, 8)
    r = rope_2d(x, (3, 4))
    assert r.shape == x.shape and torch.allclose(r.norm(dim=-1), x.norm(dim=-1), atol=1e-5)  # rotations
    assert torch.allclose(r[:, :, 0], x[:, :, 0])  # position (0, 0): no rotation
    torch.manual_seed(0)
    att = LinearAttention(16, heads=2, rope=True)
    tok = torch.randn(1, 12, 16)
    perm = torch.randperm(12)
    plain = LinearAttention(16, heads=2)
    plain.load_state_dict(att.state_dict())
    # without rope and LePE the attention is permutation-equivariant; rope breaks that
    for m in (att, plain):
        torch.nn.init.zeros_(m.lepe.weight), torch.nn.init.zeros_(m.lepe.bias)
    assert torch.allclose(plain(tok, (3, 4))[:, perm], plain(tok[:, perm], (3, 4)), atol=1e-5)
    assert not torch.allclose(att(tok, (3, 4))[:, perm], att(tok[:, perm], (3, 4)), atol=1e-3)
    small = CDMJSCC(DEFAULT_CONFIG)
    assert not any("attn_down" in k for k in small.state_dict()) and small.n_params() == 5_064_940
    unet = ConditionalUNet(8, 4, channels=[8, 16], groups=4, attention=[1], cond_mode="concat")
    out = unet(torch.randn(2, 3, 16, 24), torch.randn(2, 8, 4, 6), torch.tensor([0.5, 1.0]))
    assert out.shape == (2, 3, 16, 24) and any("attn_down" in k for k in unet.state_dict())
    assert not any("cond_down" in k for k in unet.state_dict())
    with pytest.raises(ValueError, match="cond_mode"):
        ConditionalUNet(8, 4, channels=[8, 16], groups=4, cond_mode="sum")
    with pytest.raises(ValueError, match="attention levels"):
        ConditionalUNet(8, 4, channels=[8, 16], groups=4, attention=[2])
    assert 60e6 < sum(p.numel() for p in CDMJSCC(PAPER_CONFIG).parameters()) < 65e6


def test_paper_style_options_round_trip_a_checkpoint(tmp_path):
    """A tiny model with every paper option (rope, attention, concat) saves and loads with its config."""
    cfg = dict(TINY_CONFIG, jscc_rope=True, unet=dict(TINY_UNET, attention=[1], cond_mode="concat"))
    torch.manual_seed(0)
    m = CDMJSCC(cfg).eval()
    m.update_entropy_tables()
    path = str(tmp_path / "p.pt")
    checkpoint.save(path, m)
    q, ck = checkpoint.load(path)
    assert q.config["jscc_rope"] and q.config["unet"]["cond_mode"] == "concat"
    assert q.jscc_encoder.blocks[0].attn.rope and "1" in q.unet.attn_down
    x = torch.rand(1, 3, 64, 96)
    a = m.transmit(x, 10.0, CBR, steps=1, seed=0)["x"]
    b = q.transmit(x, 10.0, CBR, steps=1, seed=0)["x"]
    assert (a - b).abs().max() < 0.05  # fp16 weights
