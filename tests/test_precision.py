"""The stopping rule's statistics (layer_stats.measure.precision) on synthetic series whose mean
is known: AR(1) x_t = mu + phi (x_{t-1} - mu) + e_t, e_t ~ N(0, sd), started in its stationary
law.  phi = 0.9 at 50 Hz (tegrastats' 20 ms) and phi = 0.99 at 500 Hz (the power monitors) are
the same 0.2 s correlation time; a window of 5 s is 250 and 2,500 samples."""
import math
import random

import pytest

from layer_stats.measure.precision import (MIN_BATCHES, Precision, StoppingRule, precision,
                                           steady_start, t_quantile)

MU = 100.0
TRIALS = 500


def ar1(rng, n, phi, sd=1.0, mu=MU):
    """``n`` samples of a stationary AR(1) series of mean ``mu``."""
    x = mu + rng.gauss(0.0, sd / math.sqrt(1.0 - phi * phi))
    out = []
    for _ in range(n):
        x = mu + phi * (x - mu) + rng.gauss(0.0, sd)
        out.append(x)
    return out


def iid_half_width(values, level=0.95):
    """The textbook interval's half-width, t(n - 1) * s / sqrt(n): right for independent samples."""
    n = len(values)
    mean = sum(values) / n
    s = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return t_quantile(level, n - 1) * s / math.sqrt(n)


@pytest.mark.parametrize("level, df, published", [
    (0.95, 1, 12.706), (0.95, 2, 4.303), (0.95, 5, 2.571), (0.95, 9, 2.262), (0.95, 19, 2.093),
    (0.95, 30, 2.042), (0.95, 60, 2.000), (0.95, 100, 1.984), (0.99, 9, 3.250), (0.90, 9, 1.833),
    (0.99, 1, 63.657)])
def test_t_quantile_matches_the_published_table(level, df, published):
    # NIST/SEMATECH e-Handbook of Statistical Methods, 1.3.6.7.2, upper critical values of t.
    assert t_quantile(level, df) == pytest.approx(published, abs=6e-4)


def test_t_quantile_tends_to_the_normal_one():
    assert t_quantile(0.95, 5000) == pytest.approx(1.95996, abs=1e-3)
    assert t_quantile(0.95, 9) > t_quantile(0.95, 10) > t_quantile(0.95, 60) > 1.96


@pytest.mark.parametrize("phi, n", [(0.0, 250), (0.9, 250), (0.99, 2500)])
def test_interval_covers_the_mean_where_the_iid_one_fails(phi, n):
    rng = random.Random(11)
    covered = naive = 0
    for _ in range(TRIALS):
        values = ar1(rng, n, phi)
        found = precision(values)
        assert found.n == n and found.batches == MIN_BATCHES
        covered += abs(found.mean - MU) <= found.half_width
        naive += abs(found.mean - MU) <= iid_half_width(values)
    assert covered >= 0.9 * TRIALS
    if phi:  # sigma / sqrt(n) ignores the correlation: 199x too small a variance at phi = 0.99
        assert naive <= 0.5 * TRIALS
    else:
        assert naive >= 0.9 * TRIALS


def test_white_noise_interval_is_not_much_wider_than_the_iid_one():
    # t(0.95, 9) / t(0.95, 249) = 2.262 / 1.970 = 1.15 is the price of 10 batches; the estimated
    # variance (9 degrees of freedom, never below plain batch means) adds a few percent.
    rng = random.Random(12)
    ratios = []
    for _ in range(TRIALS):
        values = ar1(rng, 250, 0.0, sd=5.0)
        ratios.append(precision(values).half_width / iid_half_width(values))
    assert 1.1 <= sum(ratios) / TRIALS <= 1.3


def test_rule_trusts_white_noise_but_not_batches_shorter_than_the_correlation():
    rng = random.Random(13)
    white = correlated = 0
    for _ in range(200):
        rule = StoppingRule(1.0)
        white += rule.done(ar1(rng, 250, 0.0))
        rule.done(ar1(rng, 250, 0.99))  # batches of 25 samples, a correlation time of 100
        correlated += rule.settled
    assert white >= 0.97 * 200
    assert correlated <= 0.2 * 200


def feed(rule, values, step, rate_hz, steady=False):
    """Grow the prefix by ``step`` samples until ``rule`` says done; the samples used, or None."""
    for n in range(step, len(values) + 1, step):
        if rule.done(values[:n], n / rate_hz, steady=steady):
            return n
    return None


def test_rule_on_growing_ar1_prefixes_stops_near_the_true_mean():
    # phi = 0.9 at 50 Hz, checked every 0.1 s; a 2% target needs about 290 samples (5.8 s).
    rng = random.Random(14)
    target, within, stops = 0.02, 0, []
    for _ in range(200):
        rule = StoppingRule(target, min_duration_s=0.2)
        n = feed(rule, ar1(rng, 1500, 0.9, sd=1.5), 5, 50.0)
        assert n is not None and n >= 3 * MIN_BATCHES and rule.precision.rel <= target
        stops.append(n)
        within += abs(rule.precision.mean - MU) <= target * MU
    assert within >= 0.9 * 200
    assert 150 <= sorted(stops)[100] <= 500


def test_rule_waits_for_its_minimums():
    values = ar1(random.Random(15), 400, 0.0, sd=0.01)  # precise from the first batches on
    rule = StoppingRule(0.01, min_samples=100, min_duration_s=3.0)
    assert [rule.done(values[:n], n / 50.0) for n in (99, 149, 150)] == [False, False, True]
    assert not StoppingRule(0.01, min_samples=100).done(values[:99])
    assert StoppingRule(0.01, min_samples=100).done(values[:100])  # no duration given: not checked


def test_constant_series_stops_once_the_minimums_are_met_with_rel_zero():
    values = [1234.5] * 200
    rule = StoppingRule(0.001, min_samples=40, min_duration_s=1.0)
    assert feed(rule, values, 1, 50.0) == 50
    assert rule.precision == Precision(1234.5, 0.0, 0.0, 50, MIN_BATCHES) and rule.settled
    rule = StoppingRule(0.001)  # the interval needs 3 samples in each of the 10 batches
    assert feed(rule, values, 1, 50.0) == 3 * MIN_BATCHES


def test_zero_mean_never_claims_precision():
    rule = StoppingRule(0.5)
    assert feed(rule, [0.0] * 300, 10, 50.0) is None and rule.precision.rel == math.inf
    values = [(-1.0) ** i for i in range(300)]
    assert feed(rule, values, 10, 50.0) is None and rule.precision.rel == math.inf


def test_too_few_samples_for_the_batches():
    found = precision([5.0, 6.0, 7.0] * 9)  # 27 samples: batches of 2 leave no short batches
    assert found.batches == 0 and found.half_width == math.inf and found.rel == math.inf
    assert found.mean == pytest.approx(6.0) and found.n == 27
    assert precision([5.0] * 4, min_batches=5).batches == 0
    assert precision([5.0, 6.0] * 15).batches == MIN_BATCHES


def test_empty_and_single_inputs():
    empty = precision([])
    assert math.isnan(empty.mean) and empty.half_width == math.inf and empty.n == 0 and empty.batches == 0
    assert precision([3.0]) == Precision(3.0, math.inf, math.inf, 1, 0)
    assert not StoppingRule(0.5, min_samples=0).done([])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), None, "12", True])
def test_non_finite_samples_are_refused(bad):
    with pytest.raises(ValueError, match=r"values\[2\] is .*not a finite number"):
        precision([1.0, 2.0, bad, 3.0])
    with pytest.raises(ValueError, match=r"values\[1\]"):
        steady_start([1.0, bad])


@pytest.mark.parametrize("kwargs", [dict(level=1.0), dict(level=0.0), dict(min_batches=1), dict(min_batches=2.5)])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError, match="level"):
        precision([1.0] * 50, **kwargs)
    with pytest.raises(ValueError, match="level"):
        StoppingRule(0.02, **kwargs)


@pytest.mark.parametrize("target, duration", [(0.0, 0.0), (-0.1, 0.0), (float("nan"), 0.0), (0.02, -1.0)])
def test_bad_targets_are_refused(target, duration):
    with pytest.raises(ValueError, match="target_rel"):
        StoppingRule(target, min_duration_s=duration)


def ramped(rng, n, phi=0.9, sd=2.0):
    """AR(1) around MU whose first 20% rise from 0 towards MU (five time constants)."""
    tau = 0.2 * n / 5.0
    return [v - MU * math.exp(-t / tau) for t, v in enumerate(ar1(rng, n, phi, sd))]


def test_steady_start_cuts_the_ramp():
    rng = random.Random(16)
    plain = cut = 0.0
    for _ in range(100):
        values = ramped(rng, 2500)
        start = steady_start(values)
        assert start % 5 == 0 and start <= 1250
        plain += abs(sum(values) / len(values) - MU)
        cut += abs(sum(values[start:]) / (len(values) - start) - MU)
    assert plain / 100 >= 3.0  # the ramp costs the plain mean 4% of the level
    assert cut <= plain / 5


def test_steady_start_leaves_a_stationary_series_alone():
    rng = random.Random(17)
    starts = [steady_start(ar1(rng, 2500, 0.9, 2.0)) for _ in range(100)]
    assert sum(start <= 250 for start in starts) >= 0.9 * 100


def test_rule_with_steady_on_growing_prefixes_stops_after_a_ramp_near_the_true_mean():
    # phi = 0.9 at 50 Hz rising from 0 over its first second; without steady the ramp stays in
    # the mean and the rule waits about 900 samples for it to weigh less than the target.
    rng = random.Random(19)
    target, within, stops = 0.02, 0, []
    for _ in range(100):
        rule = StoppingRule(target, min_duration_s=0.2)
        values = [v - MU * math.exp(-t / 10.0) for t, v in enumerate(ar1(rng, 1200, 0.9, 1.5))]
        n = feed(rule, values, 5, 50.0, steady=True)
        assert n is not None and rule.precision.n == n - rule.start
        stops.append(n)
        within += abs(rule.precision.mean - MU) <= target * MU
    assert within >= 0.9 * 100
    assert sorted(stops)[50] <= 500


def test_steady_start_edges():
    assert steady_start([1.0] * 49) == 0  # fewer than 10 batches of 5
    assert steady_start([7.0] * 500) == 0
    assert steady_start([0.0] * 100 + [1.0] * 400) == 100
    assert steady_start([0.0] * 300 + [1.0] * 300, max_fraction=0.25) <= 150


def test_rule_with_steady_measures_after_the_ramp():
    values = ramped(random.Random(18), 2500)
    rule = StoppingRule(0.5)
    assert not rule.done(values) and rule.start == 0 and rule.precision.n == 2500
    assert not rule.settled  # the ramp correlates the batch means: no interval to trust
    assert rule.done(values, steady=True) and rule.start > 0 and rule.settled
    assert rule.precision.n == 2500 - rule.start
    assert abs(rule.precision.mean - MU) < abs(sum(values) / 2500.0 - MU) / 3
    assert not StoppingRule(0.5, min_samples=2500 - rule.start + 1).done(values, steady=True)
    assert not rule.done(values) and rule.start == 0
