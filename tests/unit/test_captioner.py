"""BLIP captioner loader: offline errors are one clear ValueError; a tiny random BLIP built
from a config runs end to end (no weights needed)."""

import numpy as np
import pytest

pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from gensem.semantic.captioner import Captioner  # noqa: E402


def test_missing_model_says_use_prompt(tmp_path):
    with pytest.raises(ValueError, match="--prompt"):
        Captioner.load(str(tmp_path / "no-such-model"))
    with pytest.raises(ValueError, match="--prompt"):
        Captioner.load("Salesforce/blip-image-captioning-base")  # not in the (empty) cache, offline


def test_tiny_random_blip_captions(tmp_path):
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "car", "house", "tree", "dog"]
    (tmp_path / "vocab.txt").write_text("\n".join(words) + "\n")
    tok = BertTokenizer(str(tmp_path / "vocab.txt"), bos_token="[CLS]", eos_token="[SEP]")
    cfg = BlipConfig(
        text_config=dict(
            vocab_size=len(words),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=37,
            encoder_hidden_size=32,
            bos_token_id=2,
            sep_token_id=3,
            pad_token_id=0,
        ),
        vision_config=dict(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=37,
            image_size=32,
            patch_size=8,
        ),
    )
    torch.manual_seed(0)
    model = BlipForConditionalGeneration(cfg)
    proc = BlipProcessor(BlipImageProcessor(size={"height": 32, "width": 32}), tok)
    model.save_pretrained(tmp_path / "blip")
    proc.save_pretrained(tmp_path / "blip")
    cap = Captioner.load(str(tmp_path / "blip"), device="cpu")
    text = cap(np.zeros((48, 64, 3), np.uint8))
    assert isinstance(text, str)
    assert all(w in words for w in text.split())
