"""CDM-JSCC model core (gensem.core.cdm_jscc) with tiny randomly initialised models, fixed seeds."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")

from gensem.core.cdm_jscc import (
    HyperpriorTransform,
    JSCCDecoder,
    JSCCEncoder,
    MLLABlock,
    awgn,
    checkerboard_order,
    find_beta,
    measure_cbr,
    quantise_lengths,
    vector_bits,
)

M, MAX_LEN, UNIT = 8, 16, 2
IMG = (64, 64)
LATENT = (16, 16)  # num_down=2


def _models(dim=16):
    torch.manual_seed(0)
    kw = {"dim": dim, "depth": 1, "heads": 2, "max_len": MAX_LEN, "unit": UNIT}
    return HyperpriorTransform(N=8, M=M, num_down=2).eval(), JSCCEncoder(M, **kw), JSCCDecoder(M, **kw)


@pytest.fixture(scope="module")
def latents():
    transform, _, _ = _models()
    transform.train()  # the noisy proxy y~ = y + U(-1/2, 1/2) of training: continuous likelihoods
    x = torch.rand(3, 3, *IMG, generator=torch.Generator().manual_seed(1)) * 4.0  # varied entropy
    torch.manual_seed(1)
    with torch.no_grad():
        return transform(x)


def test_transform_shapes_and_likelihoods(latents):
    o = latents
    assert o["y"].shape == o["y_hat"].shape == o["scales"].shape == o["means"].shape == (3, M, *LATENT)
    assert o["z_hat"].shape == (3, 8, LATENT[0] // 4, LATENT[1] // 4)
    lik = o["y_likelihoods"]
    assert lik.shape == o["y"].shape and bool(((lik > 0) & (lik <= 1)).all())
    assert vector_bits(lik).shape == (3, LATENT[0] * LATENT[1])
    with pytest.raises(ValueError, match="multiples of 16"):
        _models()[0](torch.rand(1, 3, 40, 40))


def test_mlla_block_shape_and_gradient():
    torch.manual_seed(0)
    block = MLLABlock(16, heads=4)
    t = torch.randn(2, 6 * 5, 16, requires_grad=True)
    out = block(t, (6, 5))
    assert out.shape == t.shape and torch.isfinite(out).all()
    out.sum().backward()
    assert t.grad is not None and torch.isfinite(t.grad).all()


def test_checkerboard_order():
    assert checkerboard_order(6).tolist() == [0, 2, 4, 1, 3, 5]
    assert sorted(checkerboard_order(7).tolist()) == list(range(7))


@pytest.mark.parametrize("target", [1 / 16, 1 / 12, 1 / 8])
def test_measured_cbr_tracks_target(latents, target):
    _, enc, _ = _models()
    with torch.no_grad():
        e = enc(latents["y"], latents["y_likelihoods"], IMG, target_cbr=target)
    mean_cbr = e["cbr"].mean().item()
    assert abs(mean_cbr - target) / target < 0.05, (mean_cbr, target)
    k = e["lengths"].sum(dim=1)
    assert [s.numel() for s in e["symbols"]] == k.tolist()
    assert torch.allclose(e["cbr"], k.double() / (3 * IMG[0] * IMG[1]))


def test_find_beta_synthetic_bits_and_out_of_range():
    bits = torch.distributions.Exponential(0.2).sample((4, 256))
    for target in (0.06, 0.1, 0.2):
        beta = find_beta(bits, target, (64, 64), UNIT, MAX_LEN)
        cbr = measure_cbr(quantise_lengths(bits, beta, UNIT, MAX_LEN), (64, 64)).mean().item()
        assert abs(cbr - target) / target < 0.02
    with pytest.raises(ValueError, match="outside the reachable"):
        find_beta(bits, 0.02, (64, 64), UNIT, MAX_LEN)


def test_power_constraint(latents):
    _, enc, _ = _models()
    with torch.no_grad():
        e = enc(latents["y"], latents["y_likelihoods"], IMG, beta=0.5)
    for s in e["symbols"]:
        assert torch.is_complex(s)
        assert abs((s.abs() ** 2).mean().item() - 1.0) < 1e-4
    assert (e["dense"][~e["mask"]] == 0).all()


def test_lengths_monotone_in_beta(latents):
    bits = vector_bits(latents["y_likelihoods"])
    prev, totals = None, []
    for beta in (0.0, 0.01, 0.05, 0.2, 1.0, 5.0, 1e9):
        k = quantise_lengths(bits, beta, UNIT, MAX_LEN)
        assert bool(((k >= UNIT) & (k <= MAX_LEN) & (k % UNIT == 0)).all())
        if prev is not None:
            assert bool((k >= prev).all())
        prev = k
        totals.append(int(k.sum()))
    assert totals[0] == bits.numel() * UNIT and totals[-1] == bits.numel() * MAX_LEN
    assert totals[0] < totals[3] < totals[-1]
    # higher-entropy vectors never get fewer symbols
    order = torch.argsort(bits[0])
    assert bool((torch.diff(quantise_lengths(bits, 0.2, UNIT, MAX_LEN)[0][order]) >= 0).all())


def test_decoder_shape_over_awgn(latents):
    _, enc, dec = _models()
    with torch.no_grad():
        e = enc(latents["y"], latents["y_likelihoods"], IMG, target_cbr=1 / 12)
        rx = awgn(e["symbols"], 10.0, generator=torch.Generator().manual_seed(2))
        y_hat = dec(rx, e["lengths"], LATENT)
        assert y_hat.shape == latents["y"].shape and torch.isfinite(y_hat).all()
        assert torch.allclose(
            dec.decode_dense(e["dense"], e["lengths"], LATENT),
            dec(e["symbols"], e["lengths"], LATENT),
            atol=1e-5,
        )


def test_awgn_noise_power():
    s = torch.ones(200_000, dtype=torch.complex64)
    n = awgn(s, 10.0, generator=torch.Generator().manual_seed(3)) - s
    assert abs((n.abs() ** 2).mean().item() - 0.1) < 0.003
    with pytest.raises(ValueError, match="complex"):
        awgn(torch.ones(4), 10.0)


def test_high_snr_full_length_reconstructs_y():
    """A tiny f_e/f_d pair trained for a few hundred steps at 30 dB with k_i = max_len inverts itself."""
    torch.manual_seed(0)
    kw = {"dim": 32, "depth": 1, "heads": 2, "max_len": 8, "unit": 2}
    enc, dec = JSCCEncoder(M, **kw), JSCCDecoder(M, **kw)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=3e-3)
    lik, hw = torch.full((4, M, 8, 8), 0.5), (8, 8)
    for _ in range(200):
        y = torch.randn(4, M, *hw)
        e = enc(y, lik, (32, 32), beta=100.0)
        loss = ((dec.decode_dense(awgn(e["dense"], 30.0), e["lengths"], hw) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    y = torch.randn(4, M, *hw, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        e = enc(y, lik, (32, 32), beta=100.0)
        assert bool((e["lengths"] == 8).all())
        y_hat = dec(awgn(e["symbols"], 30.0), e["lengths"], hw)
    assert ((y_hat - y) ** 2).mean() / (y**2).mean() < 0.05


def test_mismatched_side_information_raises(latents):
    _, enc, dec = _models()
    with torch.no_grad():
        e = enc(latents["y"], latents["y_likelihoods"], IMG, target_cbr=1 / 12)
    syms, lengths = e["symbols"], e["lengths"]
    bad = lengths.clone()
    bad[0, 0] += UNIT if bad[0, 0] < MAX_LEN else -UNIT
    cases = [
        (syms, bad, "side information mismatch"),
        ([syms[0][:-1], *syms[1:]], lengths, "side information mismatch"),
        (syms[:2], lengths, "symbol vectors for 3 length rows"),
        (syms, lengths[:, :-1], "lengths must be"),
        (syms, lengths + 1, "multiples of"),
    ]
    for s, k, msg in cases:
        with pytest.raises(ValueError, match=msg) as info:
            dec(s, k, LATENT)
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="exactly one"):
        enc(latents["y"], latents["y_likelihoods"], IMG)


def test_sampling_start_scale():
    """init_scale: the sampler starts from init_scale * N(0, I) (the authors' P: 0.8); 1.0 is
    the plain start, bit for bit; out-of-range scales are refused."""
    from gensem.core.cdm_jscc.model import CDMJSCC, TINY_CONFIG
    from gensem.core.cdm_jscc.sampler import sample

    torch.manual_seed(0)
    m = CDMJSCC(TINY_CONFIG).eval()
    y = torch.randn(1, TINY_CONFIG["M"], 4, 4)
    hw = (4 * 2 ** TINY_CONFIG["num_down"], 4 * 2 ** TINY_CONFIG["num_down"])

    def run(**kw):
        return sample(m.unet, y, hw, 3, m.scheduler, torch.Generator().manual_seed(1), **kw)

    base = run()
    assert torch.equal(base, run(init_scale=1.0)) and not torch.equal(base, run(init_scale=0.8))
    with pytest.raises(ValueError, match="init_scale"):
        run(init_scale=0.0)
