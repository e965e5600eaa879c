"""Model files in the ecosystem's convention (config.json + safetensors, diffusers' layout for
the edge-diffusion UNet): round trips of tiny random models give identical outputs, the shipped
.pt checkpoints still load (weights_only) and export losslessly, bad directories are one
ValueError line."""

import os
import shutil
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")
pytest.importorskip("diffusers")
pytest.importorskip("safetensors")

from gensem.core.cdm_jscc import checkpoint  # noqa: E402
from gensem.core.cdm_jscc.deepjscc import TINY_DEEPJSCC, DeepJSCC  # noqa: E402
from gensem.core.cdm_jscc.model import CDMJSCC, TINY_CONFIG  # noqa: E402
from gensem.core.edge_codec import EdgeCodec, default_checkpoint  # noqa: E402

from receiver_ai.models.edge_unet import TINY_CONFIG as TINY_UNET  # noqa: E402
from receiver_ai.pipelines import DEFAULT_EDGE_DIFFUSION  # noqa: E402
from receiver_ai.pipelines.edge_diffusion import EdgeDiffusionPipeline  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
import export_models  # noqa: E402

torch.set_num_threads(1)


def _edges(h, w, seed=0):
    e = np.zeros((h, w), np.uint8)
    e[h // 4, :] = e[:, w // 3] = 255
    e[np.random.default_rng(seed).random((h, w)) < 0.02] = 255
    return e


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(
        sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k]) for k in sa
    )


def _cross_check(pt_codec, dir_codec, edges):
    """Bitstreams of both codecs identical, and each decodes the other's to the same map."""
    a, b = pt_codec.compress(edges), dir_codec.compress(edges)
    assert a == b
    ma, ia = dir_codec.decompress(a)  # .pt-coded, directory-decoded
    mb, ib = pt_codec.decompress(b)  # and vice versa
    assert ia["ok"] and ib["ok"] and np.array_equal(ma, mb)


def test_edge_codec_round_trip_bitstreams(tmp_path):
    codec = EdgeCodec.from_config(N=8, M=12, size=(128, 64), seed=1)
    codec.save(str(tmp_path / "c.pt"), {"note": "t"})
    codec.save_pretrained(str(tmp_path / "c"), {"note": "t"})
    assert sorted(os.listdir(tmp_path / "c")) == ["config.json", "model.safetensors"]
    p, d = EdgeCodec.from_checkpoint(str(tmp_path / "c.pt")), EdgeCodec.from_checkpoint(str(tmp_path / "c"))
    assert d.size == (128, 64) and d.meta == p.meta and d.meta["recipe"] == {"note": "t"}
    assert _same_weights(p.model, d.model)  # the entropy models' CDF tables included
    _cross_check(p, d, _edges(64, 128))


def test_shipped_edge_codec_exports_with_identical_bitstreams(tmp_path):
    assert export_models.main([str(tmp_path), "--only", "edge-codec"]) == 0
    p = EdgeCodec.from_checkpoint(default_checkpoint())
    d = EdgeCodec.from_checkpoint(str(tmp_path / "edge_codec"))
    assert d.meta == p.meta and d.describe() == p.describe()
    _cross_check(p, d, _edges(512, 768))


def test_cdm_jscc_round_trip_same_symbols_and_images(tmp_path):
    torch.manual_seed(0)
    m = CDMJSCC(TINY_CONFIG).eval()
    m.update_entropy_tables()
    checkpoint.save_pretrained(str(tmp_path / "m"), m, recipe={"note": "t"}, figures={"psnr": 1.0})
    loaded, ckpt = checkpoint.load(str(tmp_path / "m"))
    assert ckpt["kind"] == "cdm-jscc" and ckpt["recipe"] == {"note": "t"} and ckpt["figures"]["psnr"] == 1.0
    assert _same_weights(m, loaded)
    x = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    a, b = m.transmit(x, 10.0, 1 / 20, steps=2, seed=3), loaded.transmit(x, 10.0, 1 / 20, steps=2, seed=3)
    assert a["enc"]["z_strings"] == b["enc"]["z_strings"] and torch.equal(a["x"], b["x"])
    # fp16 directory == fp16 .pt file (what export_models writes from the shipped files)
    checkpoint.save(str(tmp_path / "h.pt"), m)
    checkpoint.save_pretrained(str(tmp_path / "h"), m, half=True)
    assert _same_weights(checkpoint.load(str(tmp_path / "h.pt"))[0], checkpoint.load(str(tmp_path / "h"))[0])


def test_deepjscc_round_trip(tmp_path):
    torch.manual_seed(0)
    m = DeepJSCC(TINY_DEEPJSCC).eval()
    checkpoint.save_pretrained(str(tmp_path / "d"), m)
    loaded, ckpt = checkpoint.load(str(tmp_path / "d"))
    assert ckpt["kind"] == "deepjscc" and isinstance(loaded, DeepJSCC)
    x = torch.rand(2, 3, 32, 48, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(m.decode(m.encode(x)), loaded.decode(loaded.encode(x)))


def test_edge_diffusion_round_trip_identical_images(tmp_path):
    p = EdgeDiffusionPipeline.from_config(TINY_UNET, seed=2, device="cpu")
    p.model.text.mark_known(["a red car"])
    d = str(tmp_path / "ed")
    p.save_pretrained(d, step=5, recipe={"note": "t"})
    unet_files = {"config.json", "diffusion_pytorch_model.safetensors"}  # diffusers' own layout
    assert unet_files <= set(os.listdir(os.path.join(d, "unet")))
    assert os.path.isfile(os.path.join(d, "scheduler", "scheduler_config.json"))
    q = EdgeDiffusionPipeline.from_checkpoint(d, device="cpu")
    assert q.meta["step"] == 5 and q.model.config == p.model.config and _same_weights(p.model, q.model)
    public = lambda s: {k: v for k, v in s.config.items() if not k.startswith("_")}  # noqa: E731
    assert public(q.scheduler) == public(p.scheduler)
    e = _edges(64, 64).astype(np.float32) / 255
    a = p("a red car", e, steps=3, seed=7, out_size=(48, 32))
    assert np.array_equal(a, q("a red car", e, steps=3, seed=7, out_size=(48, 32)))


def test_edge_diffusion_unet_from_elsewhere(tmp_path):
    """The UNet is diffusers' own: a UNet2DModel saved by diffusers can be swapped in."""
    from diffusers import UNet2DModel

    p = EdgeDiffusionPipeline.from_config(TINY_UNET, seed=2, device="cpu")
    d = str(tmp_path / "ed")
    p.save_pretrained(d)
    other = UNet2DModel.from_config(p.model.unet.config)  # "trained elsewhere": other weights
    shutil.rmtree(os.path.join(d, "unet"))
    other.save_pretrained(os.path.join(d, "unet"))
    q = EdgeDiffusionPipeline.from_checkpoint(d, device="cpu")
    assert _same_weights(q.model.unet, other) and not _same_weights(q.model.unet, p.model.unet)
    wrong = UNet2DModel.from_config(dict(p.model.unet.config, block_out_channels=(4, 16)))
    shutil.rmtree(os.path.join(d, "unet"))
    wrong.save_pretrained(os.path.join(d, "unet"))
    with pytest.raises(ValueError, match="block_out_channels") as e:
        EdgeDiffusionPipeline.from_checkpoint(d, device="cpu")
    assert "\n" not in str(e.value)


def test_shipped_pt_checkpoints_still_load(monkeypatch):
    loads = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(k.get("weights_only")) or real(*a, **k))
    assert EdgeCodec.from_checkpoint(default_checkpoint()).meta["N"] == 32
    for name, path in checkpoint.SHIPPED.items():
        model, ckpt = checkpoint.load(path)
        assert ckpt["kind"] == name.removesuffix("-p").removesuffix("-d")
    assert EdgeDiffusionPipeline.from_checkpoint(DEFAULT_EDGE_DIFFUSION, device="cpu").meta["trained"]
    assert loads == [True] * 5  # weights_only: no pickled code runs


def test_export_script_writes_lossless_directories(tmp_path, capsys):
    names = ["cdm-jscc-d", "deepjscc", "edge-diffusion"]
    assert export_models.main([str(tmp_path), "--only", *names]) == 0  # it reloads and compares
    assert "MISMATCH" not in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path)) == ["cdm_jscc_d", "deepjscc", "edge_diffusion"]
    model, ckpt = checkpoint.load(str(tmp_path / "cdm_jscc_d"))
    assert ckpt["figures"] and ckpt["recipe"]["model"] == "cdm-jscc"
    assert EdgeDiffusionPipeline.from_checkpoint(str(tmp_path / "edge_diffusion"), "cpu").meta["step"]


def _one_line(fn, path, *words):
    with pytest.raises(ValueError) as e:
        fn(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and all(w in msg for w in words), msg


LOADERS = [
    (
        "codec",
        EdgeCodec.from_checkpoint,
        lambda d: EdgeCodec.from_config(N=8, M=12, size=(64, 64)).save_pretrained(d),
    ),
    ("jscc", checkpoint.load, lambda d: checkpoint.save_pretrained(d, DeepJSCC(TINY_DEEPJSCC))),
    (
        "diffusion",
        lambda d: EdgeDiffusionPipeline.from_checkpoint(d, device="cpu"),
        lambda d: EdgeDiffusionPipeline.from_config(tiny=True, device="cpu").save_pretrained(d),
    ),
]


@pytest.mark.parametrize("name,load,save", LOADERS, ids=[x[0] for x in LOADERS])
def test_bad_directories_are_one_line_value_errors(tmp_path, name, load, save):
    d = tmp_path / "m"
    save(str(d))
    (d / "config.json").rename(tmp_path / "config.json")
    _one_line(load, d, "no config.json", "save_pretrained", "scripts/export_models.py")
    (tmp_path / "config.json").rename(d / "config.json")
    (d / "model.safetensors").write_bytes(b"not safetensors")
    _one_line(load, d, "bad", "model.safetensors")
    (d / "model.safetensors").unlink()
    _one_line(load, d, "no model.safetensors")
    (d / "config.json").write_text("{not json")
    _one_line(load, d, "bad", "config.json")
    (d / "config.json").write_text('{"kind": "something-else"}')
    _one_line(load, d, "'something-else'")


def test_edge_diffusion_directory_without_unet_or_scheduler(tmp_path):
    d = tmp_path / "ed"
    EdgeDiffusionPipeline.from_config(tiny=True, device="cpu").save_pretrained(str(d))
    load = EdgeDiffusionPipeline.from_checkpoint
    shutil.rmtree(d / "scheduler")  # never looked up on the hub
    _one_line(load, d, "no scheduler/scheduler_config.json", "save_pretrained")
    shutil.rmtree(d / "unet")
    _one_line(load, d, "no unet/config.json", "save_pretrained")


class _Evil:
    """A pickle that runs code when loaded: what a hostile checkpoint at a user path holds."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize(
    "load",
    [
        EdgeCodec.from_checkpoint,
        lambda p: checkpoint.load(p, device="cpu"),
        lambda p: EdgeDiffusionPipeline.from_checkpoint(p, device="cpu"),
    ],
    ids=["edge-codec", "cdm-jscc", "edge-diffusion"],
)
def test_malicious_pickle_checkpoint_is_refused(tmp_path, load):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"config": {}, "state_dict": _Evil(str(marker))}, str(path))
    with pytest.raises(ValueError) as e:
        load(str(path))
    assert not marker.exists()  # the pickle's code never ran (weights_only)
    assert "\n" not in str(e.value) and "evil.pt" in str(e.value)
