"""Compiled per-frame kernels of the frame receiver (numba), one call per stage.

``dsp.frame_receiver`` spends its time in ~100 small numpy calls per frame (acquisition,
channel estimate, header, payload): Python overhead, not arithmetic (docs/phy.md, "The
receiver's per-frame cost"). These kernels run the same algorithms, with the same
constants and the same order of operations, as single compiled calls; the numpy methods
of ``FrameReceiver`` stay the reference (``FrameReceiver(compiled=False)``, and
``GENSEM_RX_NUMBA=0`` in the environment) and tests check both paths decode the same bits.

The FFT is an in-place radix-2 transform (``_fft_used``) that keeps the used carriers,
with ``ofdm_demodulate``'s unitary scaling.

``AVAILABLE`` is False when numba is not installed (a one-line notice names the fix);
the receiver then runs the numpy path.
"""

from __future__ import annotations

import os

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - exercised on machines without numba
    numba = None

AVAILABLE = numba is not None and os.environ.get("GENSEM_RX_NUMBA", "1") != "0"
WHY_NOT = (
    None
    if AVAILABLE
    else (
        "numba is not installed (pip install numba): the frame receiver runs its numpy path, ~5x slower"
        if numba is None
        else "GENSEM_RX_NUMBA=0: the frame receiver runs its numpy path"
    )
)


def _njit(f):
    return numba.njit(cache=True, nogil=True)(f) if numba is not None else f


def _njit_fast(f):
    """For plain sums of products only: fastmath lets LLVM reorder (vectorise) the sums."""
    return numba.njit(cache=True, nogil=True, fastmath=True)(f) if numba is not None else f


# ---------------------------------------------------------------- shared pieces
@_njit
def _angle(z):
    return np.arctan2(z.imag, z.real)


@_njit
def _phase_line(c):
    """Phase a + b n of per-symbol phasors c_n (frame_receiver._phase_line)."""
    n = c.size
    b = 0.0
    if n > 1:
        acc = 0j
        for i in range(1, n):
            acc += c[i] * np.conj(c[i - 1])
        b = _angle(acc)
    acc = 0j
    for i in range(n):
        acc += c[i] * np.exp(-1j * b * i)
    a = _angle(acc)
    out = np.empty(n, np.float64)
    for i in range(n):
        out[i] = a + b * i
    return out


@_njit
def _pilot_products(y, h, idx_pilot, polarity, base_pilots, n, z):
    """z[i] = y[n, pilot i] conj(h[pilot i] pilot_value(n, i)) for symbol n (complex128)."""
    pol = polarity[n % polarity.size]
    for i in range(idx_pilot.size):
        j = idx_pilot[i]
        z[i] = np.complex128(y[n, j]) * np.conj(h[j] * (pol * base_pilots[i]))


@_njit
def _pilot_sums(y, h, idx_pilot, polarity, base_pilots):
    """z_n = sum over pilots of y[n, pilot] conj(h[pilot] pilot_value(n)), complex128."""
    n_sym = y.shape[0]
    out = np.zeros(n_sym, np.complex128)
    z = np.empty(idx_pilot.size, np.complex128)
    for n in range(n_sym):
        _pilot_products(y, h, idx_pilot, polarity, base_pilots, n, z)
        out[n] = np.sum(z)
    return out


@_njit
def phase_track(y, h, idx_pilot, polarity, base_pilots):
    """Per-symbol phase: residual CFO ramp + common phase from the pilots, then (16+
    symbols) the 9-symbol smoothed residual (FrameReceiver._phase_track)."""
    z = _pilot_sums(y, h, idx_pilot, polarity, base_pilots)
    phi = _phase_line(z)
    n = z.size
    if n >= 16:
        resid = np.empty(n, np.complex128)
        for i in range(n):
            resid[i] = z[i] * np.exp(-1j * phi[i])
        out = phi.copy()
        for i in range(n):
            acc = 0j
            for m in range(max(i - 4, 0), min(i + 5, n)):
                acc += resid[m]
            out[i] = phi[i] + _angle(acc)
        return out
    return phi


@_njit
def drift_slope(y, h, idx_pilot, k_pilot, polarity, base_pilots, n_ref):
    """Sample-clock drift b (rad per subcarrier per symbol) from the pilots' phase slope,
    least squares over the symbols, shrunk by b^2 / (b^2 + var b) (_drift_slope)."""
    n_sym = y.shape[0]
    n_p = idx_pilot.size
    wsum = 0.0
    wk = np.empty(n_p, np.float64)
    for i in range(n_p):
        hp = h[idx_pilot[i]]
        w = hp.real * hp.real + hp.imag * hp.imag
        wk[i] = k_pilot[i] * w
        wsum += k_pilot[i] * k_pilot[i] * w
    theta = np.empty(n_sym, np.float64)
    z = np.empty(n_p, np.complex128)
    for n in range(n_sym):
        _pilot_products(y, h, idx_pilot, polarity, base_pilots, n, z)
        c = np.sum(z)
        acc = 0.0
        for i in range(n_p):
            acc += _angle(z[i] * np.conj(c)) * wk[i]
        theta[n] = acc / wsum
    tt, tb = 0.0, 0.0
    for n in range(n_sym):
        t = n + n_ref
        tt += t * t
        tb += theta[n] * t
    b = tb / tt
    if n_sym > 2:
        rr = 0.0
        for n in range(n_sym):
            r = theta[n] - b * (n + n_ref)
            rr += r * r
        var_b = rr / (n_sym - 1) / tt
        b *= b * b / (b * b + var_b + 1e-30)
    return b


@_njit
def _moving_sum(v, n):
    """Sums of ``n`` consecutive values of the real array v (v.size - n + 1 of them), by a
    running sum (frame_receiver._moving_sum)."""
    out = np.empty(v.size - n + 1, np.float64)
    acc = 0.0
    for i in range(n):
        acc += v[i]
    out[0] = acc
    for d in range(1, out.size):
        acc += v[d + n - 1] - v[d - 1]
        out[d] = acc
    return out


@_njit
def _power(x):
    """|x|^2 of complex samples, in double precision."""
    out = np.empty(x.size, np.float64)
    for i in range(x.size):
        v = np.complex128(x[i])
        out[i] = v.real * v.real + v.imag * v.imag
    return out


@_njit
def _fft_used(work, fft, out, row):
    """In-place radix-2 FFT of ``work`` (its input already in bit-reversed order), then
    out[row, k] = work[used_bins[k]] * scale: the unitary DFT of the used carriers.
    ``fft`` = (used_bins, bit reversal, twiddles exp(-2 pi j k / N) for k < N/2, scale)."""
    used, _, tw, scale = fft
    n = work.size
    half = 1
    while half < n:
        step = n // (2 * half)
        for start in range(0, n, 2 * half):
            for j in range(half):
                a = work[start + j]
                b = work[start + j + half] * tw[j * step]
                work[start + j] = a + b
                work[start + j + half] = a - b
        half *= 2
    for k in range(used.size):
        out[row, k] = work[used[k]] * scale


@_njit
def grid(buf, start, off, count, symbol_len, fft_len, w, base, shifts, fft):
    """Used-carrier grid of ``count`` symbols from buffer index ``start``: CP removed (``off``),
    windows re-timed by ``shifts`` (samples), CFO derotated exp(-j w n) with n absolute
    (float64 phase), then the unitary DFT of the used carriers (FrameReceiver._windows)."""
    bitrev = fft[1]
    ramp = np.empty(fft_len, np.complex64)
    step = np.exp(-1j * w)
    acc = 1.0 + 0j
    for n in range(fft_len):  # exp(-j w n) by recurrence in double precision, re-anchored
        if n % 16 == 0:
            acc = np.exp(-1j * w * n)
        ramp[n] = np.complex64(acc)
        acc *= step
    work = np.empty((fft_len, count), np.complex64)  # column s: symbol s, bit-reversed
    for s in range(count):
        n0 = start + off + s * symbol_len + shifts[s]
        if n0 < 0 or n0 + fft_len > buf.size:
            raise IndexError("FFT window outside the buffer (sample-clock drift estimate out of range)")
        ps = np.complex64(np.exp(-1j * w * (n0 + base)))
        for i in range(fft_len):
            r = bitrev[i]
            work[i, s] = buf[n0 + r] * (ps * ramp[r])
    return _fft_used_columns(work, fft)


@_njit
def _fft_used_columns(work, fft):
    """_fft_used on every column of ``work`` (fft_len x count) at once: each butterfly runs
    over the symbols, a contiguous row indexed by the loop variable alone, which LLVM
    vectorises (the same operations per value as _fft_used). Returns count x used."""
    used, _, tw, scale = fft
    n, count = work.shape
    half = 1
    while half < n:
        step = n // (2 * half)
        for start in range(0, n, 2 * half):
            for j in range(half):
                t = tw[j * step]
                ra = work[start + j]
                rb = work[start + j + half]
                for s in range(count):
                    a = ra[s]
                    b = rb[s] * t
                    ra[s] = a + b
                    rb[s] = a - b
        half *= 2
    y = np.empty((count, used.size), np.complex64)
    for k in range(used.size):
        row = work[used[k]]
        for s in range(count):
            y[s, k] = row[s] * scale
    return y


# ---------------------------------------------------------------- DC / IQ front end (rx_frontend)
@_njit_fast
def moments(x):
    """(sum x, sum |x|^2) in double precision, one pass (RxFrontEnd's DC statistics); the
    sums reordered (vectorised) by fastmath, ~1e-15 relative."""
    acc = 0j
    pw = 0.0
    for i in range(x.size):
        v = np.complex128(x[i])
        acc += v
        pw += v.real * v.real + v.imag * v.imag
    return acc, pw


@_njit_fast
def improper_moments(z):
    """(sum z^2, sum |z|^2) in double precision, one pass (RxFrontEnd.observe), vectorised."""
    s2 = 0j
    pw = 0.0
    for i in range(z.size):
        v = np.complex128(z[i])
        s2 += v * v
        pw += v.real * v.real + v.imag * v.imag
    return s2, pw


@_njit
def correct(x, dc, beta):
    """y = x - dc, then y - beta conj(y), in single precision as numpy does it (RxFrontEnd)."""
    y = np.empty(x.size, np.complex64)
    for i in range(x.size):
        v = x[i] - dc
        y[i] = v - beta * np.conj(v)
    return y


# ---------------------------------------------------------------- tone whitener (rx_frontend)
@_njit_fast
def autocorr_update(r, ext, x, p, m, a, scale):
    """r[k] = a r[k] + scale sum_{i<m} conj(ext[p - k + i]) x[i], k = 0..p, in place."""
    for k in range(p + 1):
        acc = 0j
        xs = ext[p - k : p - k + m]  # indexed by the loop variable alone: no wraparound test
        for i in range(m):
            acc += np.conj(np.complex128(xs[i])) * np.complex128(x[i])
        r[k] = a * r[k] + scale * acc


@_njit
def lp_fit(r, p, loading):
    """rx_frontend._lp_fit: loaded normal equations of the order-p predictor, its error power."""
    r0 = r[0].real
    mat = np.empty((p, p), np.complex128)
    for i in range(p):
        for j in range(p):
            mat[i, j] = r[i - j] if i >= j else np.conj(r[j - i])
    loaded = mat.copy()
    for i in range(p):
        loaded[i, i] += r0 * loading
    rhs = r[1 : p + 1].copy()
    coef = np.linalg.solve(loaded, rhs)
    err = r0
    for i in range(p):
        err -= 2 * (np.conj(coef[i]) * rhs[i]).real
    rc = np.dot(mat, coef)
    for i in range(p):
        err += (np.conj(coef[i]) * rc[i]).real
    return coef, err


@_njit
def fir_whiten(ext, x, c, p):
    """e[n] = x[n] - sum_k c[k-1] x[n-k] (ext = p samples of history, then x)."""
    n = x.size
    if p == 4:  # the default order: one pass, the taps subtracted in the same order
        e = np.empty(n, np.complex64)
        c0, c1, c2, c3 = c[0], c[1], c[2], c[3]
        x1, x2, x3, x4 = ext[3 : 3 + n], ext[2 : 2 + n], ext[1 : 1 + n], ext[0:n]
        for i in range(n):
            v = x[i]
            v -= c0 * x1[i]
            v -= c1 * x2[i]
            v -= c2 * x3[i]
            v -= c3 * x4[i]
            e[i] = v
        return e
    e = x.copy()
    for k in range(1, p + 1):  # one pass per tap: contiguous, vectorisable
        ck = c[k - 1]
        xs = ext[p - k : p - k + n]  # indexed by the loop variable alone: LLVM vectorises (x4)
        for i in range(n):
            e[i] -= ck * xs[i]
    return e


# ---------------------------------------------------------------- acquisition
@_njit
def detect_span(buf, start, stop, lag, stride, smooth, threshold):
    """Indices d in [start, stop) on a grid of ``stride`` where the smoothed tone-rejecting
    Schmidl & Cox metric of the LTS block exceeds ``threshold`` (FrameReceiver._detect_span:
    block sums of ``stride`` samples, windows of ``lag``, second window at d + lag, tone
    rejection at lag/2). Samples past the buffer's end read as zeros."""
    h = lag
    q = h // 2
    s = stride
    hb = h // s
    qb = (h - q) // s
    k = smooth // s
    n_pts = -(-(stop - start) // s)
    m_pts = n_pts + k - 1
    n_blk = m_pts + 2 * hb - 1
    n = buf.size
    bph = np.zeros(n_blk, np.complex128)
    bpq = np.zeros(n_blk, np.complex128)
    be = np.zeros(n_blk, np.float64)
    for b in range(n_blk):
        acc_e = 0.0
        acc_h = 0j
        acc_q = 0j
        for i in range(s):
            j = start + b * s + i
            v = np.complex128(buf[j]) if j < n else 0j
            acc_e += v.real * v.real + v.imag * v.imag
            if b < n_blk - hb:
                jh = j + h
                vh = np.complex128(buf[jh]) if jh < n else 0j
                jq = j + h - q
                vq = np.complex128(buf[jq]) if jq < n else 0j
                acc_h += np.conj(v) * vh
                acc_q += np.conj(vq) * vh
        be[b] = acc_e
        bph[b] = acc_h
        bpq[b] = acc_q
    e = _moving_sum(be, hb)  # energies of hb-block windows
    m = np.empty(m_pts, np.float64)
    ph = 0j
    pq = 0j
    for b in range(hb):
        ph += bph[b]
        pq += bpq[b]
    for d in range(m_pts):
        if d > 0:
            ph += bph[d + hb - 1] - bph[d - 1]
            pq += bpq[d + hb - 1] - bpq[d - 1]
        e2 = e[d + hb]
        v = (ph.real * ph.real + ph.imag * ph.imag) / (e[d] * e2 + 1e-30)
        v -= (pq.real * pq.real + pq.imag * pq.imag) / (e[d + qb] * e2 + 1e-30)
        m[d] = v
    out = np.empty(n_pts, np.int64)
    n_out = 0
    for d in range(n_pts):
        acc = 0.0
        for i in range(k):
            acc += m[d + i]
        if acc / k > threshold:
            out[n_out] = start + s * d
            n_out += 1
    return out[:n_out]


@_njit
def synchronise(
    buf, wbuf, lo_sts, hit, half, search_after, lts_off, fft_len, lts_shifted, cfo_steps, max_cfo, lts_energy, min_corr
):
    """STS plateau + fractional CFO (tone-rejecting lag-h correlation), then integer CFO
    and fine timing on the LTS pair, then CFO refinement (FrameReceiver._synchronise).
    Returns (found, t1, cfo)."""
    h = half
    q = h // 2
    hi_w = min(hit + search_after + 2 * h, wbuf.size)
    seg = wbuf[lo_sts:hi_w].astype(np.complex128)
    L = seg.size
    n = L - 2 * h + 1
    if n < 1:
        return False, 0, 0.0
    e = _moving_sum(_power(seg), h)  # energies of h-sample windows
    pd = 0j
    pq = 0j
    for i in range(h):
        pd += np.conj(seg[i]) * seg[i + h]
        pq += np.conj(seg[i + h - q]) * seg[i + h]
    best_rho, d_pk, pd_pk = -np.inf, 0, 0j
    for d in range(n):
        if d > 0:
            i_new, i_old = d + h - 1, d - 1
            pd += np.conj(seg[i_new]) * seg[i_new + h] - np.conj(seg[i_old]) * seg[i_old + h]
            pq += np.conj(seg[i_new + h - q]) * seg[i_new + h] - np.conj(seg[i_old + h - q]) * seg[i_old + h]
        e2 = e[d + h]
        rho = (pd.real * pd.real + pd.imag * pd.imag) / (e[d] * e2 + 1e-30)
        rho -= (pq.real * pq.real + pq.imag * pq.imag) / (e[d + q] * e2 + 1e-30)
        if rho > best_rho:
            best_rho, d_pk, pd_pk = rho, d, pd
    cand = lo_sts + d_pk
    eps_c = _angle(pd_pk) / np.pi
    n_h = cfo_steps.size
    ok = np.empty(n_h, np.int64)
    n_ok = 0
    for j in range(n_h):
        if abs(eps_c + cfo_steps[j]) <= max_cfo:
            ok[n_ok] = j
            n_ok += 1
    lo = max(cand + lts_off - 40, 0)
    hi = cand + lts_off + 48
    n_win = hi - lo
    if hi + 2 * fft_len > buf.size or n_ok == 0:
        return False, 0, 0.0
    rows = n_win + fft_len
    # the windows x templates product as one real GEMM, [Re w | Im w] [[Re t, Im t], [-Im t, Re t]]
    # (sgemm: ~2.5x faster than the complex product at these sizes)
    w = np.empty((rows, 2 * fft_len), np.float32)
    for r in range(rows):
        seg_r = buf[lo + r : lo + r + fft_len]
        for k in range(fft_len):
            w[r, k] = seg_r[k].real
            w[r, fft_len + k] = seg_r[k].imag
    t = np.empty((2 * fft_len, 2 * n_ok), np.float32)
    for k in range(fft_len):
        fr = np.exp(-2j * np.pi * eps_c * k / fft_len)
        for jj in range(n_ok):
            v = np.complex64(lts_shifted[k, ok[jj]] * fr)
            t[k, jj] = v.real
            t[k, n_ok + jj] = v.imag
            t[fft_len + k, jj] = -v.imag
            t[fft_len + k, n_ok + jj] = v.real
    c = np.dot(w, t)
    corr = np.empty((rows, n_ok), np.complex64)
    for r in range(rows):
        for jj in range(n_ok):
            corr[r, jj] = complex(c[r, jj], c[r, n_ok + jj])
    ew = _moving_sum(_power(buf[lo : lo + rows + fft_len - 1]), fft_len)  # 64-sample window energies
    metric = np.empty((n_win, n_ok), np.float32)
    best_m, best, jb = np.float32(-1.0), 0, 0
    for r in range(n_win):
        for jj in range(n_ok):
            c1, c2 = corr[r, jj], corr[r + fft_len, jj]
            m = c1.real * c1.real + c1.imag * c1.imag + c2.real * c2.real + c2.imag * c2.imag
            metric[r, jj] = m
            if m > best_m:
                best_m, best, jb = m, r, jj
    norm = best_m / (lts_energy * (ew[best] + ew[best + fft_len]) + 1e-30)
    if norm < min_corr:
        return False, 0, 0.0
    eps_c = eps_c + cfo_steps[ok[jb]]
    # earliest significant path (multipath: the first tap may not be the strongest)
    lo_e = max(best - 8, 0)
    for r in range(lo_e, best + 1):
        if metric[r, jb] > 0.5 * metric[best, jb]:
            best = r
            break
    t1 = lo + best
    acc_c = 0j
    for k in range(fft_len):
        acc_c += np.conj(np.complex128(buf[t1 + k])) * np.complex128(buf[t1 + fft_len + k])
    eps_f = _angle(acc_c * np.exp(-2j * np.pi * eps_c)) / (2 * np.pi)
    return True, t1, eps_c + eps_f


# ---------------------------------------------------------------- channel estimate
@_njit
def channel(buf, t1, fft_len, cfo, base, fft128, lts_used, a, a_h, gram, tap_threshold):
    """LS estimate on the LTS pair (CFO-corrected), averaged, noise from their difference,
    denoised by orthogonal matching pursuit over the taps (channel_estimation.smooth_channel).
    Returns (h, noise_sum, n_noise)."""
    used, bitrev, _, _ = fft128
    y = np.empty((2, used.size), np.complex128)
    work = np.empty(fft_len, np.complex128)
    for r in range(2):
        for i in range(fft_len):
            idx = t1 + r * fft_len + bitrev[i]
            work[i] = np.complex128(buf[idx]) * np.exp(-2j * np.pi * cfo * (idx + base) / fft_len)
        _fft_used(work, fft128, y, r)
    n_k = y.shape[1]
    h_ls = np.empty(n_k, np.complex128)
    noise_sum = 0.0
    for k in range(n_k):
        y0, y1 = y[0, k] / lts_used[k], y[1, k] / lts_used[k]
        h_ls[k] = (y0 + y1) / 2.0
        d = y0 - y1
        noise_sum += d.real * d.real + d.imag * d.imag
    noise_sum /= 2.0
    noise_var = noise_sum / n_k
    return _omp(h_ls, noise_var / 2.0, a, a_h, gram, tap_threshold), noise_sum, n_k


@_njit
def _omp(h_ls, noise_var_ls, a, a_h, gram, tap_threshold):
    n_k, n_t = a.shape
    floor = tap_threshold * noise_var_ls / n_k
    corr0 = np.dot(a_h, h_ls)
    sel = np.empty(n_t, np.int64)
    n_sel = 0
    used = np.zeros(n_t, np.bool_)
    fit = np.zeros(n_k, np.complex128)
    resid = h_ls.copy()
    for _ in range(n_t):
        c = np.dot(a_h, resid) / n_k
        j, pj = 0, -1.0
        for i in range(n_t):
            pw = 0.0 if used[i] else c[i].real * c[i].real + c[i].imag * c[i].imag
            if pw > pj:
                j, pj = i, pw
        if n_sel and pj < floor:
            break
        sel[n_sel] = j
        used[j] = True
        n_sel += 1
        g = np.empty((n_sel, n_sel), np.complex128)
        rhs = np.empty(n_sel, np.complex128)
        for u in range(n_sel):
            rhs[u] = corr0[sel[u]]
            for v in range(n_sel):
                g[u, v] = gram[sel[u], sel[v]]
        coef = np.linalg.solve(g, rhs)
        for k in range(n_k):
            acc = 0j
            for u in range(n_sel):
                acc += a[k, sel[u]] * coef[u]
            fit[k] = acc
            resid[k] = h_ls[k] - acc
    return fit


# ---------------------------------------------------------------- header
@_njit
def header_soft(y, h, idx_pilot, polarity, base_pilots, idx_data, n_coded):
    """Pilot phase removed, BPSK soft values of the data cells, the repeated code word
    soft-combined (cell i carries coded bit i mod n_coded), scaled to a mean magnitude of 1
    and quantised for gr-fec's Viterbi (frame_header.decode + ConvCode.decode's front half).
    Returns (uint8 soft bits, phase-corrected data cells)."""
    phi = phase_track(y, h, idx_pilot, polarity, base_pilots)
    n_sym = y.shape[0]
    n_d = idx_data.size
    comb = np.zeros(n_coded, np.float64)
    yd = np.empty((n_sym, n_d), np.complex128)
    for n in range(n_sym):
        rot = np.exp(-1j * phi[n])
        for i in range(n_d):
            j = idx_data[i]
            v = np.complex128(y[n, j]) * rot
            yd[n, i] = v
            comb[(n * n_d + i) % n_coded] += (v * np.conj(h[j])).real
    m = 0.0
    for i in range(n_coded):
        m += abs(comb[i])
    m = max(m / n_coded, 1e-30)
    out = np.empty(n_coded, np.uint8)
    for i in range(n_coded):
        q = np.float32(128.0) + np.float32(48.0) * np.float32(comb[i] / m)
        out[i] = np.uint8(min(max(q, np.float32(0.0)), np.float32(255.0)))
    return out, yd


@_njit
def conv_encode(bits, polys, k):
    """Terminated rate-1/2 convolutional code, gr-fec's bit order (``ConvCode.encode``):
    shift register (state << 1 | bit) over k bits, one output bit per polynomial."""
    mask = (1 << k) - 1
    n = bits.size + k - 1
    out = np.empty(polys.size * n, np.uint8)
    st = 0
    for i in range(n):
        b = bits[i] if i < bits.size else 0
        st = ((st << 1) | b) & mask
        for j in range(polys.size):
            v = st & polys[j]
            par = 0
            while v:
                par ^= 1
                v &= v - 1
            out[i * polys.size + j] = par
    return out


@_njit
def header_noise(yd, h, idx_data, info_bits, polys, k):
    """Decision-directed noise on the header: the decoded bits re-encoded (the code word
    repeated over the cells), sum |y - h (2b - 1)|^2 over the data cells."""
    coded = conv_encode(info_bits, polys, k)
    acc = 0.0
    n_sym, n_d = yd.shape
    for n in range(n_sym):
        for i in range(n_d):
            b = coded[(n * n_d + i) % coded.size]
            r = yd[n, i] - h[idx_data[i]] * (2.0 * b - 1.0)
            acc += r.real * r.real + r.imag * r.imag
    return acc


@_njit
def viterbi_k7(u8, n_info, table):
    """Maximum-likelihood decoder of the terminated K=7 rate-1/2 code (``ConvCode``), on
    the soft bits quantised as gr-fec takes them (uint8, 128 + 48 x soft, 255 = a sure 1).
    State = the last 6 input bits; register = (state << 1 | bit) & 127 as gr-fec's encoder
    (conv_encode); ``table[reg]`` = the two code bits (bit j = polynomial j). Branch
    metric: sum over the two code bits of x = 2 u8 - 255 where the bit is 1 and -x where
    it is 0 (maximised: twice the correlation with u8, less a constant); gr-fec minimises
    the complement in 6-bit arithmetic and so decides a little differently near ties
    (tests/unit/test_rx_kernels.py). Path metrics in int32 (a 64-bit header's stay below
    2^16); ties go to the predecessor whose register's top bit is 0. Needs table[64 | r] ==
    table[r] ^ 3 (both polynomials tap the oldest bit, as ours do): the two branches into a
    state then have opposite metrics. New metrics are computed as the 32 even and 32 odd
    states (contiguous, so LLVM vectorises the butterflies) and interleaved after.
    Traceback from state 0 (the tail)."""
    n_steps = n_info + 6
    pm = np.full(64, -(1 << 20), np.int32)
    pm[0] = 0
    even = np.empty(32, np.int32)
    odd = np.empty(32, np.int32)
    dec = np.empty((n_steps, 2, 32), np.uint8)  # (step, new state's parity, state >> 1)
    sign = np.empty((4, 32), np.int32)  # -1 where a code bit into state 2i / 2i + 1 from i is 1
    for i in range(32):
        for j in range(2):
            c = table[2 * i + j]
            sign[2 * j, i] = 1 - 2 * (c & 1)
            sign[2 * j + 1, i] = 1 - (c & 2)
    se0, se1, so0, so1 = sign[0], sign[1], sign[2], sign[3]
    for t in range(n_steps):
        x0 = np.int32(u8[2 * t]) * 2 - 255
        x1 = np.int32(u8[2 * t + 1]) * 2 - 255
        de = dec[t, 0]
        do = dec[t, 1]
        for i in range(32):  # butterfly: states i and 32 | i lead to 2i and 2i + 1
            me = -(se0[i] * x0 + se1[i] * x1)  # from state i into 2i (from 32 | i: -me)
            mo = -(so0[i] * x0 + so1[i] * x1)  # from state i into 2i + 1
            p0 = pm[i]
            p1 = pm[32 + i]
            a = p0 + me
            c = p1 - me
            even[i] = max(a, c)
            de[i] = c > a
            a = p0 + mo
            c = p1 - mo
            odd[i] = max(a, c)
            do[i] = c > a
        for i in range(32):
            pm[2 * i] = even[i]
            pm[2 * i + 1] = odd[i]
    bits = np.empty(n_steps, np.uint8)
    st = 0
    for t in range(n_steps - 1, -1, -1):
        bits[t] = st & 1
        st = (st >> 1) | (np.int64(dec[t, st & 1, st >> 1]) << 5)
    return bits[:n_info]


@_njit
def header_fields(bits):
    """The 48-bit header word and its CRC syndrome (CRC-16/CCITT-FALSE of the first 48 bits,
    MSB first, XOR the received 16): FrameHeader.from_bits' arithmetic."""
    crc = 0xFFFF
    word = 0
    for i in range(48):
        b = np.int64(bits[i])
        word = (word << 1) | b
        top = ((crc >> 15) & 1) ^ b
        crc = (crc << 1) & 0xFFFF
        if top:
            crc ^= 0x1021
    rx = 0
    for i in range(48, 64):
        rx = (rx << 1) | np.int64(bits[i])
    return word, crc ^ rx


@_njit
def header_decode(u8, yd, h, idx_data, polys, k, table, syndromes):
    """Viterbi (viterbi_k7), the CRC (header_fields) and, when the syndrome is one of
    ``syndromes`` (the header's CRC masks), the decision-directed noise (header_noise).
    Returns (word, syndrome, noise sum, noise cells; 0 and 0 when the CRC fails)."""
    bits = viterbi_k7(u8, 64, table)
    word, syn = header_fields(bits)
    for m in syndromes:
        if syn == m:
            return word, syn, header_noise(yd, h, idx_data, bits, polys, k), yd.size
    return word, syn, 0.0, 0


# ---------------------------------------------------------------- payload
@_njit
def stream_powers(h, idx_s0, idx_s1, idx_data):
    """Mean |H|^2 over stream 0's, stream 1's and all data carriers (the SNR estimates)."""
    out = np.zeros(3, np.float64)
    for t, idx in enumerate((idx_s0, idx_s1, idx_data)):
        acc = 0.0
        for i in idx:
            acc += h[i].real * h[i].real + h[i].imag * h[i].imag
        out[t] = acc / idx.size
    return out[0], out[1], out[2]


@_njit
def _rotate_row(y, n, slope, k_used):
    """y[n, k] *= exp(j slope k_used[k]) (integer carriers): the powers of exp(j slope) by
    recurrence in double precision, two exponentials per row instead of one per cell."""
    k_max = 0
    for k in range(k_used.size):
        k_max = max(k_max, abs(int(k_used[k])))
    pw = np.empty(k_max + 1, np.complex128)
    pw[0] = 1.0
    e1 = np.exp(1j * slope)
    for m in range(1, k_max + 1):
        pw[m] = pw[m - 1] * e1
        if m % 16 == 0:  # re-anchor: no drift of the recurrence's magnitude
            pw[m] = np.exp(1j * slope * m)
    for k in range(k_used.size):
        kk = int(k_used[k])
        v = pw[kk] if kk >= 0 else np.conj(pw[-kk])
        y[n, k] *= np.complex64(v)


@_njit
def payload_grid(
    buf,
    y_header,
    start_header,
    n_tot,
    off,
    symbol_len,
    fft_len,
    w,
    base,
    fft,
    h,
    idx_pilot,
    k_pilot,
    k_used,
    polarity,
    base_pilots,
    n_ref,
    n_used_half,
    sfo_fit,
    drift_negligible,
):
    """Header + data grid with the sample-clock drift removed (FrameReceiver._payload_grid).
    Returns (y, last_shift)."""
    n_h = y_header.shape[0]
    zeros = np.zeros(n_tot, np.int64)
    rest = grid(buf, start_header + n_h * symbol_len, off, n_tot - n_h, symbol_len, fft_len, w, base, zeros, fft)
    y = np.empty((n_tot, y_header.shape[1]), np.complex64)
    y[:n_h] = y_header
    y[n_h:] = rest
    n_fit = min(n_tot, sfo_fit)
    b = drift_slope(y[:n_fit], h, idx_pilot, k_pilot, polarity, base_pilots, n_ref)
    drift_max = 0.0
    for n in range(n_tot):
        drift_max = max(drift_max, abs(-b * (n + n_ref) * fft_len / (2 * np.pi)))
    last_shift = 0
    if drift_max >= 0.5:
        shifts = np.empty(n_tot, np.int64)
        frac = np.empty(n_tot, np.float32)
        for n in range(n_tot):
            d = -b * (n + n_ref) * fft_len / (2 * np.pi)
            shifts[n] = np.int64(np.rint(d))
            frac[n] = np.float32(d - shifts[n])
        last_shift = shifts[n_tot - 1]
        y = grid(buf, start_header, off, n_tot, symbol_len, fft_len, w, base, shifts, fft)
        c = np.float32(2 * np.pi / fft_len)
        for n in range(n_tot):
            _rotate_row(y, n, np.float64(c * frac[n]), k_used)
        b = drift_slope(y, h, idx_pilot, k_pilot, polarity, base_pilots, n_ref)
    elif n_fit < n_tot:
        b = drift_slope(y, h, idx_pilot, k_pilot, polarity, base_pilots, n_ref)
    if abs(b) * (n_tot + n_ref) * n_used_half > drift_negligible:
        nb = np.float32(-b)
        for n in range(n_tot):
            _rotate_row(y, n, np.float64(nb * np.float32(n + n_ref)), k_used)
    return y, last_shift


@_njit
def derotate_payload(y, n_h, phi):
    """Data rows of the grid with the tracked phase removed (complex64)."""
    n_sym = y.shape[0] - n_h
    out = np.empty((n_sym, y.shape[1]), np.complex64)
    for n in range(n_sym):
        r = np.complex64(np.exp(-1j * phi[n_h + n]))
        for k in range(y.shape[1]):
            out[n, k] = y[n_h + n, k] * r
    return out


@_njit
def _level(v, half_scale, offset, top):
    """Per-axis slicer: the level index (0..side-1) nearest v, as float32 arithmetic."""
    t = v * half_scale
    t += offset
    if t < 0:
        t = np.float32(0.0)
    t = min(t, top)
    return np.int64(t)


@_njit
def decode_qam(y, rows, idx, hs, g, half, scale, amp, lvl_to_gray, n_bytes, scrambler_bytes):
    """Stream 1 hard M-QAM (FrameReceiver._decode_s1): zero-forcing, the decision-directed
    phase pass (rows >= 2), per-axis slicing to Gray bits, packed MSB first and descrambled
    a byte at a time (``scrambler_bytes``: the scrambler sequence of the payload, packed).
    The slicing runs as its own loops (LLVM vectorises them), then the sums and the packing.
    Returns (payload uint8, EVM (linear), equalised cells)."""
    side = 1 << half
    half_scale, offset, top = np.float32(scale / 2.0), np.float32(side / 2.0), np.float32(side - 1)
    n_c = idx.size
    z = np.empty((rows, n_c), np.complex64)
    inv = np.empty(n_c, np.complex64)
    wt = np.empty(n_c, np.float32)
    for i in range(n_c):
        inv[i] = np.complex64(1.0) / (hs[i] * np.float32(g))
        wt[i] = np.float32(hs[i].real * hs[i].real + hs[i].imag * hs[i].imag)
    for r in range(rows):
        for i in range(n_c):
            z[r, i] = y[r, idx[i]] * inv[i]
    if rows >= 2:
        li = np.empty(n_c, np.int64)
        lq = np.empty(n_c, np.int64)
        c = np.empty(rows, np.complex128)
        for r in range(rows):
            zr = z[r]
            for i in range(n_c):
                li[i] = _level(zr[i].real, half_scale, offset, top)
                lq[i] = _level(zr[i].imag, half_scale, offset, top)
            acc = np.complex64(0)
            for i in range(n_c):
                d = np.complex64(complex(amp[li[i]], amp[lq[i]]))
                acc += zr[i] * np.conj(d) * wt[i]
            c[r] = acc
        phi = _phase_line(c)
        for r in range(rows):
            rot = np.complex64(np.exp(-1j * phi[r]))
            zr = z[r]
            for i in range(n_c):
                zr[i] *= rot
    zf = z.reshape(-1)
    n = zf.size
    la = np.empty(n, np.int64)
    lb = np.empty(n, np.int64)
    for j in range(n):
        la[j] = _level(zf[j].real, half_scale, offset, top)
        lb[j] = _level(zf[j].imag, half_scale, offset, top)
    evm = 0.0
    for j in range(n):
        er = zf[j].real - np.float32(amp[la[j]])
        ei = zf[j].imag - np.float32(amp[lb[j]])
        evm += er * er + ei * ei
    k = 2 * half
    out = np.empty(n_bytes, np.uint8)
    word = 0  # bits not yet written, the oldest first
    n_word = 0
    ob = 0
    for j in range(n):
        if ob >= n_bytes:
            break
        word = ((word << k) | (lvl_to_gray[la[j]] << half) | lvl_to_gray[lb[j]]) & 0xFFFF
        n_word += k
        if n_word >= 8:  # k <= 8: at most one whole byte per cell
            n_word -= 8
            out[ob] = ((word >> n_word) & 0xFF) ^ scrambler_bytes[ob]
            ob += 1
    if ob < n_bytes:  # (the caller passes enough rows; a short grid leaves zeros)
        if n_word:  # the bits received, descrambled; the rest zero
            top8 = (0xFF << (8 - n_word)) & 0xFF
            out[ob] = ((word << (8 - n_word)) ^ scrambler_bytes[ob]) & top8
            ob += 1
        for j in range(ob, n_bytes):
            out[j] = 0
    return out, evm / (rows * n_c), zf


# ---------------------------------------------------------------- fused per-frame calls
@_njit
def header_front(buf, t1, cfo, fft_len, chan_consts, hdr_consts, base):
    """After synchronise: channel, the header's grid, its soft bits and its decode
    (header_decode: Viterbi, CRC, the decision-directed noise), constants as in
    acquire_header. Returns (h, noise_sum, n_noise, y_header, word, syndrome); the noise
    includes the header's cells when the syndrome is one of the header's CRC masks."""
    backoff, fft128, lts_used, a, a_h, gram, tap_threshold = chan_consts
    (n_h, off, symbol_len, fft64, no_shift, idx_pilot, polarity, base_pilots, idx_data, n_coded, polys, k, table,
     syndromes) = hdr_consts  # fmt: skip
    h, noise_sum, n_noise = channel(buf, t1 - backoff, fft_len, cfo, base, fft128, lts_used, a, a_h, gram, tap_threshold)
    y = grid(buf, t1 + 2 * fft_len, off, n_h, symbol_len, fft_len, 2 * np.pi * cfo / fft_len, base, no_shift, fft64)
    u8, yd = header_soft(y, h, idx_pilot, polarity, base_pilots, idx_data, n_coded)
    word, syn, hdr_noise, hdr_n = header_decode(u8, yd, h, idx_data, polys, k, table, syndromes)
    return h, noise_sum + hdr_noise, n_noise + hdr_n, y, word, syn


@_njit
def acquire_header(buf, wbuf, lo_sts, hit, sync_consts, chan_consts, hdr_consts, base):
    """synchronise, then (when the buffer holds the header) header_front: one call from a
    detection to the decoded header word. Constants (built once by
    FrameReceiver): sync_consts = (half, search_after, lts_off, fft_len, lts_shifted,
    cfo_steps, max_cfo, lts_energy, min_corr); chan_consts = (fft_backoff, fft128, lts_used,
    a, a_h, gram, tap_threshold); hdr_consts = (n_h, off, symbol_len, fft64, no_shift,
    idx_pilot, polarity, base_pilots, idx_data, n_coded, polys, k, viterbi table, CRC masks).
    Returns (state, t1, cfo, h, noise_sum, n_noise, y_header, word, syndrome):
    state 0 = no preamble, 1 = synchronised but the header is not buffered yet, 2 = all."""
    half, search_after, lts_off, fft_len, lts_shifted, cfo_steps, max_cfo, lts_energy, min_corr = sync_consts
    n_h, symbol_len = hdr_consts[0], hdr_consts[2]
    found, t1, cfo = synchronise(
        buf, wbuf, lo_sts, hit, half, search_after, lts_off, fft_len, lts_shifted, cfo_steps, max_cfo, lts_energy,
        min_corr,
    )
    h = np.empty(0, np.complex128)
    y = np.empty((0, 0), np.complex64)
    if not found:
        return 0, 0, 0.0, h, 0.0, 0, y, 0, -1
    if buf.size < t1 + 2 * fft_len + n_h * symbol_len:
        return 1, t1, cfo, h, 0.0, 0, y, 0, -1
    h, noise_sum, n_noise, y, word, syn = header_front(buf, t1, cfo, fft_len, chan_consts, hdr_consts, base)
    return 2, t1, cfo, h, noise_sum, n_noise, y, word, syn


@_njit
def payload_decode(buf, y_header, t1, n_tot, cfo, base, h, grid_consts, qam_rows, idx_q, g, qam_table, n_bytes, scrambler_bytes):
    """The data rows of a frame, phase-tracked (payload_grid, phase_track, derotate_payload),
    the SNR inputs (stream_powers) and, when ``qam_rows`` > 0, stream 1's QAM payload
    (decode_qam on carriers ``idx_q``): one call per frame. grid_consts = (off, symbol_len,
    fft_len, fft64, idx_pilot, k_pilot, k_used, polarity, base_pilots, n_ref, n_used_half,
    sfo_fit, drift_negligible, idx_s0, idx_s1, idx_data); qam_table = (half, scale, amp,
    lvl_to_gray). Returns (data rows, last_shift, p_s0, p_s1, p_data, payload, EVM, cells)."""
    (off, symbol_len, fft_len, fft64, idx_pilot, k_pilot, k_used, polarity, base_pilots, n_ref, n_used_half, sfo_fit,
     drift_negligible, idx_s0, idx_s1, idx_data) = grid_consts  # fmt: skip
    half, scale, amp, lvl_to_gray = qam_table
    p_s0, p_s1, p_data = stream_powers(h, idx_s0, idx_s1, idx_data)
    n_h = y_header.shape[0]
    y, last_shift = payload_grid(
        buf, y_header, t1 + 2 * fft_len, n_tot, off, symbol_len, fft_len, 2 * np.pi * cfo / fft_len, base, fft64, h,
        idx_pilot, k_pilot, k_used, polarity, base_pilots, n_ref, n_used_half, sfo_fit, drift_negligible,
    )
    phi = phase_track(y, h, idx_pilot, polarity, base_pilots)
    yd = derotate_payload(y, n_h, phi)
    if qam_rows > 0:
        hs = np.empty(idx_q.size, np.complex64)
        for i in range(idx_q.size):
            hs[i] = np.complex64(h[idx_q[i]])
        payload, evm, z = decode_qam(yd, qam_rows, idx_q, hs, g, half, scale, amp, lvl_to_gray, n_bytes, scrambler_bytes)
    else:
        payload, evm, z = np.empty(0, np.uint8), 0.0, np.empty(0, np.complex64)
    return yd, last_shift, p_s0, p_s1, p_data, payload, evm, z
