"""The offline backend's prompt embedding: hashed bag of words restricted to the training
vocabulary, and checkpoints from before the vocabulary buffer still load."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from receiver_ai.models.edge_unet import TINY_CONFIG, EdgeUNet, hash_words  # noqa: E402


def test_unknown_words_are_left_out():
    m = EdgeUNet(TINY_CONFIG)
    n = m.config["n_buckets"]
    # every bucket is known until the vocabulary is set
    assert m.text.buckets("a photo of volna") == hash_words("a photo of volna", n)
    m.text.mark_known(["a photo of autumn", "a photo of kite"])
    known = set(hash_words("a photo of autumn kite", n))
    got = m.text.buckets("a photo of volna")
    assert set(got) <= known and len(got) == 3  # 'volna' dropped, the template words kept
    assert m.text.buckets("volna zzyzx") == [0]  # nothing known: the empty prompt
    assert m.text.buckets("") == [0]
    e = m.text(["volna zzyzx", ""])
    assert torch.equal(e[0], e[1])


def test_checkpoint_without_vocabulary_loads(tmp_path):
    from receiver_ai.pipelines.edge_diffusion import EdgeDiffusionPipeline

    pipe = EdgeDiffusionPipeline.from_config(TINY_CONFIG, device="cpu")
    pipe.model.text.mark_known(["a photo of autumn"])
    pipe.save(str(tmp_path / "new.pt"))
    ck = torch.load(tmp_path / "new.pt", weights_only=False)
    assert not EdgeDiffusionPipeline.from_checkpoint(str(tmp_path / "new.pt")).model.text.known.all()
    del ck["state_dict"]["text.known"]  # as saved before the buffer existed
    torch.save(ck, tmp_path / "old.pt")
    assert EdgeDiffusionPipeline.from_checkpoint(str(tmp_path / "old.pt")).model.text.known.all()
