"""Learned edge-map codec: nonlinear transform coding with a scale hyperprior (CompressAI).

``EdgeHyperprior`` is CompressAI's ``ScaleHyperprior`` (Balle et al. 2018: analysis g_a,
synthesis g_s, hyper-analysis h_a / hyper-synthesis h_s, EntropyBottleneck for z and
GaussianConditional for y) with one input and one output channel: the edge map in, edge
logits out. y is 16x, z 64x downsampled, so the image size must be a multiple of 64.

``EdgeCodec`` wraps it for the link:
  ``compress(edges) -> bytes`` and ``decompress(bytes) -> (map in [0, 1], info)``.
The bitstream is ``header | z string | y string``; the header is the 16-bit length of the
z string, each bit repeated 7 times (majority vote: 96 % intact at BER 1e-1, all the
decoder needs besides the fixed image size). ``decompress`` never raises on a corrupted
or truncated bitstream: whatever the range decoder makes of it comes back, or an empty
map when decoding fails, and ``corrupt_decodes`` counts the failures. Decoded latents
outside +-``LATENT_LIMIT`` (only corrupted bits make them) are clamped before the synthesis
transform, so a damaged stream gives a degraded map rather than inf/NaN and an empty map;
``clamped_decodes`` counts those decodes and ``info["clamped"]`` the latents clamped.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from gensem.core.errors import first_line
from gensem.core.images import WORK_SIZE

HEADER_REPEAT = 7
EDGE_POLICIES = ("drop-corrupt", "keep")  # what the receiver does with a map decoded from bad bits
LATENT_LIMIT = 32.0  # |y|, |z| of a decoded stream; clean streams of all 53 images measured within +-5
HEADER_BITS = 16
PRETRAINED_FIX = "write one with EdgeCodec.save_pretrained or scripts/export_models.py"


def _build_model(N: int, M: int):
    from compressai.models import ScaleHyperprior
    from compressai.models.utils import conv, deconv

    class EdgeHyperprior(ScaleHyperprior):
        def __init__(self, N, M):
            super().__init__(N=N, M=M)
            self.g_a[0] = conv(1, N)
            self.g_s[-1] = deconv(N, 1)

        def decompress(self, strings, shape):
            """As ScaleHyperprior.decompress, but g_s gives edge *logits* (no clamp of x to
            [0, 1]), and the decoded latents are limited to +-LATENT_LIMIT: on corrupted bits
            CompressAI's rANS decoder can return escape-coded symbols in the millions, which
            g_s turns into inf/NaN; clean streams stay far inside the limit."""
            z_hat = self.entropy_bottleneck.decompress(strings[1], shape)
            n_clamped = int((z_hat.abs() > LATENT_LIMIT).sum())
            z_hat = z_hat.clamp(-LATENT_LIMIT, LATENT_LIMIT)
            indexes = self.gaussian_conditional.build_indexes(self.h_s(z_hat))
            y_hat = self.gaussian_conditional.decompress(strings[0], indexes, z_hat.dtype)
            n_clamped += int((y_hat.abs() > LATENT_LIMIT).sum())
            return {"x_hat": self.g_s(y_hat.clamp(-LATENT_LIMIT, LATENT_LIMIT)), "clamped": n_clamped}

    return EdgeHyperprior(N, M)


def _encode_header(z_len: int) -> bytes:
    bits = np.unpackbits(np.array([z_len >> 8, z_len & 0xFF], np.uint8))
    return np.packbits(np.repeat(bits, HEADER_REPEAT)).tobytes()


HEADER_BYTES = math.ceil(HEADER_BITS * HEADER_REPEAT / 8)


def _decode_header(data: bytes) -> int:
    bits = np.unpackbits(np.frombuffer(data[:HEADER_BYTES], np.uint8))[: HEADER_BITS * HEADER_REPEAT]
    votes = bits.reshape(HEADER_BITS, HEADER_REPEAT).sum(axis=1) > HEADER_REPEAT // 2
    b = np.packbits(votes.astype(np.uint8))
    return (int(b[0]) << 8) | int(b[1])


def default_checkpoint() -> str:
    """The shipped checkpoint: ``gensem/core/weights/edge_codec.pt``."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights", "edge_codec.pt")


def conditioning_map(decoded: np.ndarray) -> np.ndarray:
    """What the receiver conditions on: the decoded map stretched to a peak of 1 (the shipped
    codec decodes faint maps, peaks ~0.3-0.4; the backends were trained on binary edges)."""
    m = np.asarray(decoded, np.float32)
    return m / m.max() if m.size and m.max() > 0.05 else m


def received_conditioning(decoded: np.ndarray, info: dict) -> np.ndarray:
    """The conditioning of a received map (``EdgeCodec.receive``): ``conditioning_map`` of it,
    or an empty map when the receiver policy dropped it (``info["used"]`` False): prompt only."""
    return conditioning_map(decoded) if info["used"] else np.zeros_like(decoded, dtype=np.float32)


class EdgeCodec:
    def __init__(self, model, size=WORK_SIZE, meta: dict | None = None):
        w, h = size
        if w % 64 or h % 64:
            raise ValueError(f"edge-codec image size must be a multiple of 64; got {w}x{h}")
        self.model = model.eval()
        self.size = (int(w), int(h))
        self.meta = meta or {}
        self.decodes = 0
        self.corrupt_decodes = 0
        self.clamped_decodes = 0
        self.dropped_maps = 0

    # ------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, N: int = 48, M: int = 64, size=WORK_SIZE, seed: int = 0):
        """A randomly initialised codec (tests, and the start of training)."""
        import torch

        torch.manual_seed(seed)
        model = _build_model(N, M)
        model.update(force=True)
        return cls(model, size, {"N": N, "M": M, "trained": False})

    @classmethod
    def from_checkpoint(cls, path: str):
        """A trained codec from a legacy ``.pt`` checkpoint or a ``save_pretrained`` directory."""
        from gensem.core.model_files import load_pt

        if os.path.isdir(path):
            return cls.from_pretrained(path)
        if not os.path.isfile(path):
            raise ValueError(
                f"edge-codec checkpoint not found: {path} (train one: scripts/train_edge_codec.py)"
            )
        try:
            ck = load_pt(path)
            return cls._from_state(ck["config"], ck["state_dict"], ck.get("recipe"))
        except Exception as exc:  # a user-supplied file: any failure is "bad checkpoint"
            raise ValueError(f"bad edge-codec checkpoint {path}: {first_line(exc)}") from None

    @classmethod
    def from_pretrained(cls, directory: str):
        """A codec from ``directory/config.json`` + ``model.safetensors`` (``save_pretrained``)."""
        from gensem.core.model_files import read_dir

        cfg, sd = read_dir(directory, "edge-codec", PRETRAINED_FIX)
        try:
            return cls._from_state(cfg, sd, cfg.get("recipe"))
        except Exception as exc:
            raise ValueError(
                f"bad edge-codec model {directory}: {first_line(exc)} ({PRETRAINED_FIX})"
            ) from None

    @classmethod
    def _from_state(cls, cfg: dict, state_dict: dict, recipe):
        model = _build_model(int(cfg["N"]), int(cfg["M"]))
        model.load_state_dict(state_dict)  # CompressAI's: resizes the entropy tables to the saved ones
        size = tuple(cfg.get("size", WORK_SIZE))
        meta = {"N": int(cfg["N"]), "M": int(cfg["M"]), "size": list(size), "trained": True, "recipe": recipe}
        return cls(model, size, meta)

    def _config(self) -> dict:
        return {"N": self.meta["N"], "M": self.meta["M"], "size": list(self.size)}

    def save(self, path: str, recipe: dict | None = None):
        import torch

        self.model.update(force=True)
        torch.save(
            {"config": self._config(), "state_dict": self.model.state_dict(), "recipe": recipe or {}}, path
        )

    def save_pretrained(self, directory: str, recipe: dict | None = None):
        """``directory/config.json`` (N, M, size, recipe) + ``directory/model.safetensors``
        (weights and the entropy models' CDF tables, so bitstreams match ``save``'s)."""
        from gensem.core.model_files import write_dir

        self.model.update(force=True)
        cfg = dict(kind="edge-codec", **self._config(), recipe=recipe or {})
        write_dir(directory, cfg, self.model.state_dict())

    # ------------------------------------------------------------ coding
    def _latent_shape(self):
        w, h = self.size
        return (h // 64, w // 64)

    def _to_tensor(self, edges: np.ndarray):
        import torch

        e = np.asarray(edges)
        if e.ndim != 2 or (e.shape[1], e.shape[0]) != self.size:
            raise ValueError(f"edge map must be {self.size[1]}x{self.size[0]} (H x W); got shape {e.shape}")
        e = e.astype(np.float32) / (255.0 if e.max() > 1 else 1.0)
        return torch.from_numpy(e)[None, None]

    def compress(self, edges: np.ndarray) -> bytes:
        import torch

        dev = next(self.model.parameters()).device
        with torch.no_grad():
            out = self.model.compress(self._to_tensor(edges).to(dev))
        y, z = out["strings"][0][0], out["strings"][1][0]
        if len(z) >= 1 << HEADER_BITS:
            raise ValueError("z string too long for the header")
        return _encode_header(len(z)) + z + y

    def decompress(self, data: bytes) -> tuple[np.ndarray, dict]:
        """(edge probability map H x W in [0, 1], {"ok", "reason"}); never raises on bad bits."""
        import torch

        self.decodes += 1
        w, h = self.size
        empty = np.zeros((h, w), np.float32)
        data = bytes(data or b"")
        if len(data) <= HEADER_BYTES:
            self.corrupt_decodes += 1
            return empty, {
                "ok": False,
                "reason": f"bitstream of {len(data)} bytes is shorter than its header",
            }
        body = data[HEADER_BYTES:]
        z_len = min(_decode_header(data), len(body))
        z, y = body[:z_len], body[z_len:]
        # zero padding: on corrupted bits the range decoder may read past the end of its
        # string (up to one 32-bit word per symbol); without it that read can segfault
        n_z = self.model.entropy_bottleneck.channels * math.prod(self._latent_shape())
        z = z + bytes(8 * n_z + 64)
        y = y + bytes(8 * 16 * n_z * self.model.M // self.model.N + 64)
        try:
            with torch.no_grad():
                out = self.model.decompress([[y], [z]], self._latent_shape())
            x = torch.sigmoid(out["x_hat"][0, 0]).cpu().numpy()
            if x.shape != (h, w):
                raise ValueError(f"decoded map has shape {x.shape}, expected {(h, w)}")
            if not np.all(np.isfinite(x)):
                raise ValueError("decoded map has non-finite values")
        except Exception as exc:  # any failure of the range decoder on corrupted bits
            self.corrupt_decodes += 1
            return empty, {"ok": False, "reason": first_line(exc, 200), "clamped": 0}
        clamped = out["clamped"]
        self.clamped_decodes += bool(clamped)
        reason = f"{clamped} decoded latents out of range (corrupted bits) clamped" if clamped else None
        return x.astype(np.float32), {"ok": True, "reason": reason, "clamped": clamped}

    def receive(self, data: bytes, policy: str = "drop-corrupt") -> tuple[np.ndarray, dict]:
        """The receiver's decode: ``decompress`` plus ``info["used"]``, whether the map should
        condition the generator. ``drop-corrupt``: not when the decode shows corrupted bits
        (latents out of range, or a failed decode): generate from the prompt only, because a
        derailed map hurts more than none (docs/semantic.md, "Receiver policy"). ``keep``:
        always use it. Dropped maps are counted in ``dropped_maps``."""
        if policy not in EDGE_POLICIES:
            raise ValueError(f"edge policy must be one of {EDGE_POLICIES}, got {policy!r}")
        x, info = self.decompress(data)
        info = dict(info, used=True, policy=policy)
        if policy == "drop-corrupt" and (info.get("clamped") or not info["ok"]):
            info["used"] = False
            self.dropped_maps += 1
        return x, info

    def bits_per_pixel(self, data: bytes) -> float:
        return 8 * len(data) / (self.size[0] * self.size[1])

    def describe(self) -> str:
        return json.dumps({k: v for k, v in self.meta.items() if k != "recipe"})
