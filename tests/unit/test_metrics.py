"""gensem.core.metrics: known answers for PSNR / MS-SSIM, input validation, CLIP/LPIPS reasons."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pytorch_msssim")

from gensem.core import metrics  # noqa: E402


@pytest.fixture(scope="module")
def img():
    return np.random.default_rng(0).uniform(0.3, 0.7, (176, 192, 3))


def test_identical_images(img):
    assert metrics.psnr(img, img) == math.inf
    v, scales = metrics.ms_ssim(img, img)
    assert scales == 5 and v == pytest.approx(1.0, abs=1e-6)
    r = metrics.evaluate(img, img, lpips=False)
    assert (
        r["psnr_db"] == metrics.PSNR_CAP_DB
        and r["psnr_capped"]
        and r["ms_ssim"] == pytest.approx(1.0, abs=1e-6)
    )


def test_psnr_known_answers(img):
    d = np.where(np.indices(img.shape).sum(0) % 2 == 0, 0.1, -0.1)  # MSE exactly 0.01
    assert metrics.psnr(img, img + d) == pytest.approx(20.0, abs=1e-9)
    u = np.full((8, 8), 100, np.uint8)
    assert metrics.psnr(u, u + 10) == pytest.approx(10 * math.log10(255**2 / 100), abs=1e-9)  # 28.13 dB
    noisy = img + np.random.default_rng(1).normal(0, 0.05, img.shape)  # no clipping: 0.3..0.7 +- 4 sigma
    assert metrics.psnr(img, noisy) == pytest.approx(20 * math.log10(1 / 0.05), abs=0.05)  # 26.02 dB


def test_ms_ssim_matches_pytorch_msssim_and_small_images_use_fewer_scales(img):
    from pytorch_msssim import ms_ssim

    noisy = np.clip(img + np.random.default_rng(2).normal(0, 0.05, img.shape), 0, 1)
    X = torch.from_numpy(img).permute(2, 0, 1)[None].float()
    Y = torch.from_numpy(noisy).permute(2, 0, 1)[None].float()
    ref = float(ms_ssim(X, Y, data_range=1.0))
    assert metrics._ms_ssim_levels(X, Y, 5) == pytest.approx(ref, rel=1e-5)
    assert metrics.ms_ssim(img, noisy)[0] == pytest.approx(ref, rel=1e-5)
    v, scales = metrics.ms_ssim(img[:64, :80], noisy[:64, :80])
    assert scales == 3 and 0 < v < 1
    r = metrics.evaluate(img[:64, :80], noisy[:64, :80], lpips=False)
    assert r["ms_ssim_scales"] == 3 and "not comparable" in r["ms_ssim_reason"]


@pytest.mark.parametrize(
    "a, b, match",
    [
        (np.zeros((32, 32, 3)), np.zeros((32, 48, 3)), "shapes differ"),
        (np.zeros((32, 32, 3)), np.zeros((32, 32)), "shapes differ"),
        (np.zeros((32, 32, 4)), np.zeros((32, 32, 4)), "expected H×W"),
        (np.zeros((32, 32), np.int32), np.zeros((32, 32), np.int32), "dtype"),
        (np.full((32, 32), 2.0), np.zeros((32, 32)), r"\[0, 1\]"),
        ("a.png", np.zeros((32, 32)), "expected a numpy array"),
    ],
)
def test_bad_inputs_raise_one_line_value_errors(a, b, match):
    with pytest.raises(ValueError, match=match) as info:
        metrics.evaluate(a, b)
    assert "\n" not in str(info.value)


def test_pil_mode_is_checked():
    from PIL import Image

    with pytest.raises(ValueError, match="mode 'CMYK'"):
        metrics.psnr(Image.new("CMYK", (16, 16)), Image.new("CMYK", (16, 16)))
    assert metrics.psnr(Image.new("RGB", (16, 16)), Image.new("RGB", (16, 16))) == math.inf


def test_clip_and_lpips_without_weights_are_none_with_reason(img, monkeypatch, tmp_path):
    monkeypatch.delenv(metrics.CLIP_ENV, raising=False)
    v, why = metrics.clip_score(img, img)
    assert v is None and "no CLIP weights" in why
    v, why = metrics.clip_score(img, img, model_path=str(tmp_path / "nope"))
    assert v is None and "not a local directory" in why
    v, why = metrics.clip_score(img, img, model_path=str(tmp_path))  # empty directory
    assert v is None and "could not be loaded" in why and "\n" not in why
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    v, why = metrics.lpips_distance(img, img)
    assert v is None and why


def test_clip_score_with_a_tiny_random_local_checkpoint(img, tmp_path):
    """Exercises the real loading and scoring path; random weights, so only the range is checked."""
    tr = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = tr.CLIPConfig(
        text_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2),
        vision_config=dict(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        ),
        projection_dim=8,
    )
    tr.CLIPModel(cfg).save_pretrained(tmp_path)
    tr.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        tmp_path
    )
    same, why = metrics.clip_score(img, img, model_path=str(tmp_path))
    assert why is None and same == pytest.approx(1.0, abs=1e-5)
    other, _ = metrics.clip_score(img, 1 - img, model_path=str(tmp_path))
    assert 0.0 <= other <= 1.0
