"""Edge maps and the learned edge-map codec (tiny randomly initialised models; the shipped
checkpoint is exercised in the slow tier)."""

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")

from gensem.core import edge_codec as ec  # noqa: E402
from gensem.core.edge_codec import EdgeCodec  # noqa: E402
from gensem.core.images import fit_image, load_image  # noqa: E402
from gensem.semantic.edges import canny_edges, edge_f1  # noqa: E402

SIZE = (128, 128)
WEIGHTS = os.path.join(os.path.dirname(ec.__file__), "weights", "edge_codec.pt")


def _square(n=128):
    img = np.zeros((n, n, 3), np.uint8)
    img[32:96, 40:88] = 255
    return img


def test_canny_known_answer_square():
    e = canny_edges(_square(), blur=0)
    assert e.dtype == np.uint8 and set(np.unique(e)) <= {0, 255}
    ref = np.zeros((128, 128), np.uint8)
    ref[32, 40:88] = ref[95, 40:88] = 255
    ref[32:96, 40] = ref[32:96, 87] = 255
    f = edge_f1(ref, e, tol=1)
    assert f["precision"] > 0.95 and f["recall"] > 0.95


def test_fit_image_and_bad_input(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (300, 500, 3), np.uint8)
    assert fit_image(img, (768, 512)).shape == (512, 768, 3)
    assert fit_image(img[..., 0], (64, 64)).shape == (64, 64, 3)
    with pytest.raises(ValueError, match="RGB uint8"):
        fit_image(img.astype(np.float32))
    with pytest.raises(ValueError, match="not found"):
        load_image(str(tmp_path / "none.png"))
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read"):
        load_image(str(tmp_path / "bad.png"))


@pytest.fixture(scope="module")
def codec():
    return EdgeCodec.from_config(N=8, M=8, size=SIZE, seed=1)


def test_roundtrip_shapes_and_header(codec):
    e = canny_edges(_square())
    data = codec.compress(e)
    assert len(data) > ec.HEADER_BYTES
    rec, info = codec.decompress(data)
    assert info["ok"] and rec.shape == (128, 128) and rec.dtype == np.float32
    assert 0.0 <= rec.min() and rec.max() <= 1.0
    with pytest.raises(ValueError, match="128x128"):
        codec.compress(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError, match="multiple of 64"):
        EdgeCodec(codec.model, size=(100, 64))


def test_header_survives_three_flips_per_bit():
    h = bytearray(ec._encode_header(0xBEEF))
    bits = np.unpackbits(np.frombuffer(bytes(h), np.uint8))
    for b in range(16):  # flip 3 of the 7 copies of every bit
        bits[b * 7 : b * 7 + 3] ^= 1
    assert ec._decode_header(np.packbits(bits).tobytes()) == 0xBEEF


@pytest.mark.parametrize("ber", [1e-3, 1e-2, 1e-1])
def test_corrupted_bitstreams_never_raise(codec, ber):
    data = codec.compress(canny_edges(_square()))
    rng = np.random.default_rng(int(1 / ber))
    before = codec.corrupt_decodes
    for t in range(40):
        bits = np.unpackbits(np.frombuffer(data, np.uint8))
        bits ^= (rng.random(bits.size) < ber).astype(np.uint8)
        d = np.packbits(bits).tobytes()
        if t % 4 == 3:
            d = d[: rng.integers(0, len(d))]
        rec, info = codec.decompress(d)
        assert rec.shape == (128, 128) and np.all(np.isfinite(rec))
        assert isinstance(info["ok"], bool) and (info["ok"] or info["reason"])
    assert codec.corrupt_decodes >= before  # failures are counted, never raised
    rec, info = codec.decompress(b"")
    assert not info["ok"] and "shorter than its header" in info["reason"] and not rec.any()


def test_save_load_gives_the_same_bitstream(codec, tmp_path):
    p = str(tmp_path / "c.pt")
    codec.save(p, {"note": "test"})
    c2 = EdgeCodec.from_checkpoint(p)
    e = canny_edges(_square())
    assert c2.compress(e) == codec.compress(e) and c2.size == SIZE
    with pytest.raises(ValueError, match="not found"):
        EdgeCodec.from_checkpoint(str(tmp_path / "missing.pt"))
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="bad edge-codec checkpoint"):
        EdgeCodec.from_checkpoint(str(tmp_path / "bad.pt"))


@pytest.mark.slow
def test_shipped_checkpoint_fuzz_768x512():
    """The shipped codec at full size: >= 200 corrupted bitstreams, no crash (the range
    decoder over-reads on bad bits; the zero padding in decompress keeps that in bounds)."""
    if not os.path.isfile(WEIGHTS):
        pytest.skip("no shipped checkpoint")
    c = EdgeCodec.from_checkpoint(WEIGHTS)
    img = np.zeros((512, 768, 3), np.uint8)
    img[100:400, 200:600] = 200
    img[200:300, 300:350] = 40
    data = c.compress(canny_edges(img))
    rng = np.random.default_rng(7)
    for t in range(200):
        bits = np.unpackbits(np.frombuffer(data, np.uint8))
        bits ^= (rng.random(bits.size) < [1e-3, 1e-2, 1e-1, 0.5][t % 4]).astype(np.uint8)
        rec, info = c.decompress(np.packbits(bits).tobytes())
        assert rec.shape == (512, 768) and np.all(np.isfinite(rec))


def test_decoder_output_is_the_forward_output_not_clamped_logits():
    """decompress must give sigmoid(g_s(y_hat)) like the forward pass, not sigmoid of a
    [0, 1]-clamped output (CompressAI's image models clamp x_hat; ours are logits)."""
    c = EdgeCodec.from_config(N=8, M=8, size=SIZE, seed=3)
    with torch.no_grad():
        for p in c.model.g_s[-1].parameters():
            p.mul_(50.0)  # large logits of both signs
    c.model.update(force=True)
    e = canny_edges(_square())
    rec, info = c.decompress(c.compress(e))
    assert info["ok"] and rec.max() > 0.8  # a clamp to [0, 1] would cap it at sigmoid(1) = 0.731
    with torch.no_grad():  # eval-mode forward rounds y and z as the codec does
        fwd = torch.sigmoid(c.model(torch.from_numpy(e / 255.0).float()[None, None])["x_hat"])[0, 0].numpy()
    assert np.allclose(rec, fwd, atol=1e-3)


@pytest.mark.skipif(not os.path.isfile(WEIGHTS), reason="no shipped checkpoint")
def test_corrupted_latents_are_clamped_into_a_degraded_map():
    """With bit errors the rANS decoder can return escape-coded latents in the millions
    (measured: y up to 3.4e6 at BER 1e-2), which made g_s output inf/NaN and the map empty.
    Clamped, the map is degraded but there, and the clamp is counted."""
    import skimage.data
    from gensem.core.images import fit_image
    from gensem.semantic.calibrate import flip_bits
    from gensem.semantic.edges import canny_edges, edge_f1

    c = EdgeCodec.from_checkpoint(WEIGHTS)
    edges = canny_edges(fit_image(skimage.data.immunohistochemistry()))
    data = c.compress(edges)
    clean, info = c.decompress(data)
    assert info["ok"] and info["clamped"] == 0
    bad, info = c.decompress(flip_bits(data, 1e-2, np.random.default_rng(0)))
    assert info["ok"] and info["clamped"] > 0 and c.clamped_decodes == 1 and c.corrupt_decodes == 0
    assert np.all(np.isfinite(bad)) and 0 <= bad.min() and bad.max() <= 1 and bad.max() > 0.05
    assert edge_f1(clean > 0.5, bad, thresh=0.5)["f1"] < 1.0  # degraded, not the clean map


@pytest.mark.skipif(not os.path.isfile(WEIGHTS), reason="no shipped checkpoint")
def test_receiver_policy_drops_maps_decoded_from_corrupted_bits():
    """EdgeCodec.receive: a clean map is used; one whose decode went out of range (corrupted
    bits) is not, under drop-corrupt (the default), and is under keep."""
    import skimage.data
    from gensem.core.images import fit_image
    from gensem.semantic.calibrate import flip_bits

    c = EdgeCodec.from_checkpoint(WEIGHTS)
    data = c.compress(canny_edges(fit_image(skimage.data.immunohistochemistry())))
    clean, info = c.receive(data)
    assert info["used"] and info["policy"] == "drop-corrupt" and c.dropped_maps == 0
    bad = flip_bits(data, 1e-2, np.random.default_rng(0))
    x, info = c.receive(bad)
    assert not info["used"] and info["clamped"] > 0 and c.dropped_maps == 1
    assert np.array_equal(x, c.decompress(bad)[0])  # the decoded map is still returned, for reports
    x, info = c.receive(bad, "keep")
    assert info["used"] and c.dropped_maps == 1
    _, info = c.receive(b"\x00")  # shorter than its header: nothing decoded, nothing used
    assert not info["used"] and c.dropped_maps == 2
    with pytest.raises(ValueError, match="edge policy"):
        c.receive(data, "guess")


def test_load_image_converts_modes_and_rejects_degenerate_sizes(tmp_path):
    from PIL import Image

    a16 = np.full((40, 50), 40000, np.uint16)
    Image.fromarray(a16).save(tmp_path / "u16.png")
    img = load_image(str(tmp_path / "u16.png"))
    assert img.shape == (40, 50, 3) and img.dtype == np.uint8 and img[0, 0, 0] == round(40000 / 257)
    Image.new("CMYK", (40, 40), (0, 0, 0, 0)).save(tmp_path / "cmyk.jpg")
    assert load_image(str(tmp_path / "cmyk.jpg")).shape == (40, 40, 3)
    Image.new("RGBA", (33, 60)).save(tmp_path / "rgba.png")
    assert load_image(str(tmp_path / "rgba.png")).shape == (60, 33, 3)
    Image.new("L", (3, 2)).save(tmp_path / "tiny.png")
    with pytest.raises(ValueError, match="3x2: need at least 32 px"):
        load_image(str(tmp_path / "tiny.png"))
