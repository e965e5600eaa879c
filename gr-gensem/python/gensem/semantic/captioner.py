"""Image -> prompt with a BLIP captioner (transformers), from a local path or a hub id.

``Captioner.load(model)`` uses ``BlipForConditionalGeneration`` + ``BlipProcessor`` with
``local_files_only=True`` unless ``allow_download``: offline, a hub id that is not in the
local cache, or a path without weights, is a ValueError that says to pass ``--prompt``.
The paper used GPT-4 and names BLIP as the smaller alternative (§III-A, footnote 2).
"""

from __future__ import annotations

import numpy as np

DEFAULT_MODEL = "Salesforce/blip-image-captioning-base"


class Captioner:
    def __init__(self, model, processor, device: str = "cpu", max_new_tokens: int = 30):
        self.model = model.eval().to(device)
        self.processor = processor
        self.device = device
        self.max_new_tokens = int(max_new_tokens)

    @classmethod
    def load(cls, model: str = DEFAULT_MODEL, device: str | None = None, allow_download: bool = False):
        try:
            import torch
            from transformers import BlipForConditionalGeneration, BlipProcessor
        except ImportError as exc:
            raise ValueError(
                f"the BLIP captioner needs torch and transformers ({exc}); give --prompt TEXT"
            ) from None
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            proc = BlipProcessor.from_pretrained(model, local_files_only=not allow_download)
            net = BlipForConditionalGeneration.from_pretrained(model, local_files_only=not allow_download)
        except (OSError, ValueError) as exc:
            from gensem.core.errors import first_line

            reason = first_line(exc, 160, with_type=False)
            raise ValueError(f"no BLIP captioner at {model!r} ({reason}); give --prompt TEXT") from None
        return cls(net, proc, device)

    def __call__(self, image: np.ndarray) -> str:
        import torch
        from PIL import Image

        inputs = self.processor(images=Image.fromarray(np.asarray(image)), return_tensors="pt").to(
            self.device
        )
        with torch.no_grad():
            ids = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens)
        return self.processor.decode(ids[0], skip_special_tokens=True).strip()
