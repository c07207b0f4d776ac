"""vxlab.stats against known values: the fit recovers generated models, the t-interval equals a
hand computation, crossovers are roots of the difference."""
import math

import pytest

from vxlab import stats


def test_t_interval_matches_hand_computation():
    values = [2.0, 4.0, 6.0]
    # mean 4, sample sd = sqrt(((-2)^2 + 0 + 2^2) / 2) = 2, t_{0.975, 2} = 4.302652729911275
    r = stats.t_interval(values)
    assert r["mean"] == pytest.approx(4.0)
    assert r["sd"] == pytest.approx(2.0)
    half = 4.302652729911275 * 2.0 / math.sqrt(3)
    assert r["half_width"] == pytest.approx(half, rel=1e-9)
    assert (r["low"], r["high"]) == (pytest.approx(4.0 - half), pytest.approx(4.0 + half))


def test_t_interval_other_confidence_and_single_value():
    # t_{0.95, 4} = 2.131846786326649 (90% two-sided, 5 values)
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    r = stats.t_interval(values, 0.90)
    assert r["half_width"] == pytest.approx(2.131846786326649 * math.sqrt(2.5) / math.sqrt(5))
    one = stats.t_interval([3.5])
    assert one["mean"] == 3.5 and one["half_width"] is None
    with pytest.raises(ValueError):
        stats.t_interval([])


@pytest.mark.parametrize("abc", [(0.01649, -7.55, 52.0), (0.00146, 3.55, -4.0),
                                 (0.00099, 2.27, 4.0), (0.5, 0.0, 1.0)])
def test_fit_recovers_known_parameters(abc):
    ns = [10, 30, 60, 90, 200, 500, 1000]
    ts = [abc[0] * n + abc[1] * math.log(n) + abc[2] for n in ns for dummy in range(3)]
    ns3 = [n for n in ns for dummy in range(3)]
    f = stats.fit(ns3, ts)
    assert (f["A"], f["B"], f["C"]) == (pytest.approx(abc[0], abs=1e-9),
                                        pytest.approx(abc[1], abs=1e-7),
                                        pytest.approx(abc[2], abs=1e-6))
    assert max(abs(r) for r in f["residuals"]) < 1e-8
    assert f["points"] == 21 and f["sizes"] == 7 and not f["exact"]


def test_fit_residuals_are_measured_minus_fitted():
    ns = [10, 10, 20, 20, 40, 40, 80, 80]
    noise = [0.1, -0.1, 0.2, -0.2, 0.0, 0.05, -0.05, 0.0]
    ts = [0.02 * n + 1.5 * math.log(n) + 3 + e for n, e in zip(ns, noise)]
    f = stats.fit(ns, ts)
    fitted = stats.model((f["A"], f["B"], f["C"]), ns)
    assert [t - y for t, y in zip(ts, fitted)] == pytest.approx(f["residuals"])
    assert f["rss"] == pytest.approx(sum(r * r for r in f["residuals"]))
    assert sum(f["residuals"]) == pytest.approx(0.0, abs=1e-9)  # C is free: residuals sum to 0


def test_fit_needs_three_sizes():
    with pytest.raises(ValueError, match="3 distinct sizes"):
        stats.fit([10, 10, 20], [1, 2, 3])


def test_crossovers_of_the_paper_fits():
    clush, tak2, tak3 = (0.01649, -7.55, 52.0), (0.00146, 3.55, -4.0), (0.00099, 2.27, 4.0)
    # within the paper's range (1,000 to 40,000 nodes) each tree overtakes the window once
    for other in (tak2, tak3):
        cs = stats.crossovers(clush, other, 1000, 40000)
        assert len(cs) == 1
        n = cs[0]["n"]
        assert stats.model(clush, n) == pytest.approx(stats.model(other, n), abs=1e-6)
        assert cs[0]["sign_after"] == 1  # clush slower after the crossover
    n2 = stats.crossovers(clush, tak2, 1000, 40000)[0]["n"]
    n3 = stats.crossovers(clush, tak3, 1000, 40000)[0]["n"]
    # with ln these are ~1,816 and ~1,562 (the paper says "around 1,800" and "around 1,400")
    assert 1700 < n2 < 1900 and 1450 < n3 < 1650


def test_crossovers_two_roots_and_none():
    # d(n) = 0.1 n - 10 ln n + 30 has two roots (convex, minimum at n = 100)
    p1, p2 = (0.1, -10.0, 30.0), (0.0, 0.0, 0.0)
    cs = stats.crossovers(p1, p2, 1, 1e6)
    assert len(cs) == 2
    for c in cs:
        assert 0.1 * c["n"] - 10 * math.log(c["n"]) + 30 == pytest.approx(0, abs=1e-6)
    assert stats.crossovers((0.0, 0.0, 1.0), (0.0, 0.0, 2.0), 1, 1e6) == []
