"""Eq. (2) fitted to our prompt PHY: the Monte Carlo runs the link's own stream-0 chain, the
fit recovers a known model, and the planner can use the stored fit (no SNR floor then)."""

import math

import pytest

pytest.importorskip("gnuradio.fec")

from gensem.dsp import prompt_per  # noqa: E402
from gensem.planner import per_fit  # noqa: E402
from gensem.planner.lemma1 import solve_discrete  # noqa: E402
from gensem.planner.params import TABLE_I  # noqa: E402


def test_monte_carlo_runs_the_link_chain():
    clean = prompt_per.simulate_per(64, 12.0, "awgn", 200, seed=1)
    noisy = prompt_per.simulate_per(64, -3.0, "awgn", 200, seed=1)
    assert clean["errors"] == 0 and noisy["errors"] == 200  # the coded waterfall sits in between
    assert clean["packet_bits"] == 8 * (64 + 10)  # session + seq + CRC-32 around the payload
    fading = prompt_per.simulate_per(64, 12.0, "rayleigh", 400, seed=1)
    assert 0 < fading["errors"] < 200  # deep fades still lose packets at 12 dB


def test_fit_recovers_a_known_model():
    k, b, n = 0.3, -0.2, 10**6
    pts = []
    for bits in (208, 592, 2128):
        for s in range(-2, 12):
            per = float(per_fit.model_per(s, bits, k, b))
            pts.append({"packet_bits": bits, "snr_db": s, "packets": n, "errors": round(per * n)})
    f = per_fit.fit(pts)
    assert f["k"] == pytest.approx(k, abs=2e-3) and f["b"] == pytest.approx(b, abs=2e-2)
    with pytest.raises(ValueError, match="too few points"):
        per_fit.fit([{"packet_bits": 208, "snr_db": 0, "packets": 10, "errors": 10}])


def test_stored_measured_model_drives_the_planner():
    m = per_fit.measured_params()
    assert 0 < m["k"] < 1 and m["points"] >= 20  # fitted on the Rayleigh points
    paper = solve_discrete(10 ** (20 / 10), 1000, 7880, 1e-5, TABLE_I)
    ours = solve_discrete(10 ** (20 / 10), 1000, 7880, 1e-5, TABLE_I.with_(k=m["k"], b=m["b"]))
    c_paper = 0.374 * math.log(TABLE_I.packet_bits(1000)) - 0.31
    c_ours = m["k"] * math.log(TABLE_I.packet_bits(1000)) + m["b"]
    # the prompt's power follows c: T0 = T1 needs gamma0 = c / ln(T1 / T0min)
    assert ours["p0_w"] / paper["p0_w"] == pytest.approx(c_ours / c_paper, rel=1e-6)


def test_dask_run_gives_the_serial_result():
    """The points are independent and seeded by their index: a local Dask cluster of two
    processes returns exactly the serial points and fits."""
    pytest.importorskip("distributed")
    kw = dict(n_packets=100, payloads=(16, 64), snrs_db=(0.0, 2.0, 4.0, 8.0), seed=3)
    serial = prompt_per.run_fit(**kw)
    client = prompt_per.dask_client(workers=2)
    try:
        parallel = prompt_per.run_fit(**kw, client=client)
    finally:
        client.close()
    assert parallel["points"] == serial["points"] and parallel["fits"] == serial["fits"]
    with pytest.raises(ValueError, match="workers"):
        prompt_per.dask_client(workers=0)


def test_system_params_pick_the_per_model():
    """paper: Qiao et al.'s k, b (with the demo's floor if asked); measured: our fit, no floor;
    the closed loop's controller and the demo take the same choice."""
    paper = per_fit.system_params("paper", paper_floor_db=3.0)
    assert (paper.k, paper.b, paper.min_prompt_snr_db) == (TABLE_I.k, TABLE_I.b, 3.0)
    m = per_fit.measured_params()
    meas = per_fit.system_params("measured", paper_floor_db=3.0)
    assert (meas.k, meas.b, meas.min_prompt_snr_db) == (m["k"], m["b"], None)
    with pytest.raises(ValueError, match="unknown PER model 'x'"):
        per_fit.system_params("x")
    pytest.importorskip("gnuradio")
    from gensem.blocks.plan_controller import plan_controller

    assert plan_controller(per_model="measured").tracker.params.k == m["k"]
    assert plan_controller().tracker.params.k == TABLE_I.k
