"""Statistics of the reference experiment (pure functions, no I/O).

* :func:`t_interval`: mean and two-sided Student-t confidence interval of repeated measurements;
* :func:`fit`: least-squares fit of ``T(n) = A*n + B*ln(n) + C`` (natural logarithm);
* :func:`crossovers`: the sizes ``n`` where two fitted models give the same time.

The paper writes ``log(n)`` without a base; vxlab uses the natural logarithm everywhere. Another
base only rescales ``B`` (``B_log10 = B_ln * ln(10)``), the curve and the crossovers are the same.
"""
import math

import numpy as np
from scipy import stats as _sst

LOG_BASE = "e"


def t_interval(values, confidence=0.95):
    """``{n, mean, sd, half_width, low, high}`` of ``values``.

    ``half_width = t_{(1+confidence)/2, n-1} * sd / sqrt(n)`` with ``sd`` the sample standard
    deviation (``n - 1`` in the denominator). With one value the interval is undefined
    (``half_width`` is ``None``).
    """
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("t_interval needs at least one value")
    if not 0 < confidence < 1:
        raise ValueError("confidence=%r must be between 0 and 1" % (confidence,))
    n = len(xs)
    mean = sum(xs) / n
    if n == 1:
        return {"n": 1, "mean": mean, "sd": None, "half_width": None, "low": None, "high": None}
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    t = float(_sst.t.ppf((1 + confidence) / 2, n - 1))
    half = t * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "half_width": half, "low": mean - half,
            "high": mean + half}


def model(params, n):
    """``A*n + B*ln(n) + C`` at ``n`` (a number or an array)."""
    a, b, c = params
    n = np.asarray(n, dtype=float)
    return a * n + b * np.log(n) + c


def fit(ns, times):
    """Least-squares fit of ``T(n) = A*n + B*ln(n) + C`` to the points ``(ns[i], times[i])``.

    Every measurement is a point (repetitions included), as in the paper. Returns ``{A, B, C,
    residuals: [t_i - T(n_i)], rss, rmse, r2, points, sizes, exact}``; ``exact`` is true when
    there are only 3 distinct sizes (three parameters through three sizes: residuals measure only
    the spread of the repetitions). Raises ValueError with fewer than 3 distinct sizes.
    """
    ns = [float(n) for n in ns]
    ts = [float(t) for t in times]
    if len(ns) != len(ts):
        raise ValueError("fit: %d sizes but %d times" % (len(ns), len(ts)))
    if any(n <= 0 for n in ns):
        raise ValueError("fit: sizes must be positive")
    sizes = sorted(set(ns))
    if len(sizes) < 3:
        raise ValueError("fit: T(n) = A*n + B*ln(n) + C needs at least 3 distinct sizes, got %d"
                         % len(sizes))
    x = np.array(ns)
    y = np.array(ts)
    design = np.column_stack([x, np.log(x), np.ones_like(x)])
    coef, dummy_res, dummy_rank, dummy_sv = np.linalg.lstsq(design, y, rcond=None)
    a, b, c = (float(v) for v in coef)
    resid = y - design.dot(coef)
    rss = float(np.sum(resid ** 2))
    tss = float(np.sum((y - y.mean()) ** 2))
    return {
        "A": a, "B": b, "C": c,
        "residuals": [float(r) for r in resid],
        "rss": rss,
        "rmse": math.sqrt(rss / len(ts)),
        "r2": 1.0 - rss / tss if tss > 0 else 1.0,
        "points": len(ts),
        "sizes": len(sizes),
        "exact": len(sizes) == 3,
        "log_base": LOG_BASE,
    }


def crossovers(p1, p2, low=1.0, high=1e6):
    """Sizes ``n`` in ``[low, high]`` where the models ``p1`` and ``p2`` (``(A, B, C)``) are equal.

    ``d(n) = dA*n + dB*ln(n) + dC`` has at most two roots (``d`` is convex or concave), so the
    range is split at the extremum ``n* = -dB/dA`` and each monotonic part is bisected. Returns
    a sorted list of ``{n, sign_before, sign_after}``: ``sign_after`` is the sign of
    ``T1 - T2`` just after the crossing (+1: method 1 slower from there on).
    """
    da, db, dc = (float(p1[i]) - float(p2[i]) for i in range(3))
    low, high = float(low), float(high)
    if not 0 < low < high:
        raise ValueError("crossovers: need 0 < low < high")

    def d(n):
        return da * n + db * math.log(n) + dc

    cuts = [low]
    if da != 0 and db != 0:
        star = -db / da
        if low < star < high:
            cuts.append(star)
    cuts.append(high)
    out = []
    for lo, hi in zip(cuts, cuts[1:]):
        flo, fhi = d(lo), d(hi)
        if flo == 0:
            root = lo
        elif fhi == 0 or flo * fhi > 0:
            continue
        else:
            a, b = lo, hi
            for dummy in range(200):
                mid = (a + b) / 2
                if d(a) * d(mid) <= 0:
                    b = mid
                else:
                    a = mid
                if b - a < 1e-9 * max(1.0, b):
                    break
            root = (a + b) / 2
        if all(abs(root - r["n"]) > 1e-6 * max(1.0, root) for r in out):
            eps = max(1e-6, root * 1e-6)
            before = d(max(low, root - eps))
            after = d(min(high, root + eps))
            out.append({"n": root, "sign_before": _sign(before), "sign_after": _sign(after)})
    if fhi == 0 and all(abs(high - r["n"]) > 1e-6 * high for r in out):
        out.append({"n": high, "sign_before": _sign(d(high * (1 - 1e-6))), "sign_after": 0})
    return sorted(out, key=lambda r: r["n"])


def _sign(value):
    return (value > 0) - (value < 0)
