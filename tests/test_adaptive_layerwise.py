"""Adaptive measurement in the layer-wise generator (``--tgr_ci``, ``--lt_ci``): real runs of a small
real model (squeezenet1_0, random weights) on the simulated Orin NX, and their post-processing.

Checked: every line says how it stopped; a ``ci`` line reached its target over the span it
records (``(core_start, core_end]``, the span the rule judged); a target no window can reach (0.0001) stops every line at its
maximum and flags every layer in LayerStats.csv; the fixed run's lines say ``fixed`` and carry no
core span; bad targets are one-line errors.  Old raw files: tests/test_compat.py.
"""
import csv
import json
import os

import pytest

from conftest import ROOT, run_main  # noqa: E402
from layer_stats.layerwise.raw import read_lines  # noqa: E402
from layer_stats.stats import mean  # noqa: E402

GENERATOR = os.path.join(ROOT, "layer_stats", "rawDataGeneration", "PowerLatencyDatasetGenerator.py")
PROCESS = os.path.join(ROOT, "layer_stats", "processedDataGeneration", "processData.py")
BASE = ["--mode", "0", "--simulate", "orin", "--sim_seed", "7", "--models", "squeezenet1_0", "--imgs", "img1.jpg",
        "--power_sampler", "tegrastats", "--tgr_smpl_boundry", "0.1", "--idle_duration", "0.4",
        "--settle_timeout", "0.3", "--lt_smpl_count", "40", "--lt_warmup", "2"]
KEY = "VDD_CPU_GPU_CV_mW"


def generate(root, *args):
    return run_main(GENERATOR, "--output_root", root, *(BASE + list(args)), blocked=(),
                    env={"FAKE_NVPMODEL_MODE": "0"})


def lines(root, kind):
    return read_lines(os.path.join(root, "LayerStats", "Mode0", "cpu", kind, "squeezenet1_0", "img1.jsonl"), kind)


def table(root):
    out = os.path.join(root, "Processed")
    done = run_main(PROCESS, "--input_root", root, "--output_root", out)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(os.path.join(out, "LayerStats.csv")) as handle:
        return list(csv.DictReader(handle))


def core_values(line):
    """The rail's values of the samples an adaptive line averages: ``(core_start, core_end]``."""
    return [s["values"][KEY] for s in line["samples"] if line["core_start"] < s["t"] <= line["core_end"]]


def test_adaptive_lines_say_how_they_stopped_and_reach_their_target(tmp_path):
    root = str(tmp_path / "ci")
    done = generate(root, "--tgr_ci", "0.05", "--lt_ci", "0.05", "--tgr_smpl_duration", "1.5")
    assert done.returncode == 0, done.stderr[-3000:]
    power, latency = lines(root, "power"), lines(root, "latency")
    assert all(line["format_version"] == 3 for line in power + latency)
    for line in power:
        assert line["stop"] in ("ci", "max") and line["ci_target"] == 0.05
        assert line["t_start"] + line["boundary_s"] <= line["core_start"] < line["core_end"] <= line["t_end"]
        assert line["t_end"] - line["core_start"] <= 1.5 + 0.5  # the maximum, plus one layer call
        if line["stop"] == "max":
            assert line["core_end"] == line["t_end"]
        else:
            assert line["ci_rel"] is not None and line["ci_rel"] <= line["ci_target"]
            assert len(core_values(line)) >= 30  # the rule's 10 batches of 3 samples at least
            assert line["core_end"] - line["core_start"] >= 0.2  # the minimum core
            assert line["t_end"] - line["core_end"] <= 0.15 + 0.5  # judged at a check; the loop ended there
    assert any(line["stop"] == "ci" for line in power), [line["ci_rel"] for line in power]
    for line in latency:
        assert line["stop"] in ("ci", "max") and line["ci_target"] == 0.05
        assert 10 <= len(line["samples_s"]) <= 40
        if line["stop"] == "ci":
            assert line["ci_rel"] <= 0.05
        else:
            assert len(line["samples_s"]) == 40
    rows = table(root)
    assert [r["layer"] for r in rows][-1] == "model" and "power_ci_rel" in rows[0] and "latency_ci_rel" in rows[0]
    for row, line in zip(rows, power):
        assert float(row["power_ci_rel"]) == pytest.approx(line["ci_rel"])
        assert ("ci_not_reached:power" in row["flags"]) == (line["stop"] == "max")
        # the CSV's mean is the mean of exactly the span the line records
        assert float(row[KEY[:-3] + "_mean_mW"]) == pytest.approx(mean(core_values(line)), rel=1e-9)


def test_unreachable_target_stops_every_line_at_the_maximum_and_flags_it(tmp_path):
    root = str(tmp_path / "tiny")
    done = generate(root, "--tgr_ci", "0.0001", "--lt_ci", "0.0001", "--tgr_smpl_duration", "0.4",
                    "--lt_smpl_count", "12")
    assert done.returncode == 0, done.stderr[-3000:]
    power, latency = lines(root, "power"), lines(root, "latency")
    assert {line["stop"] for line in power + latency} == {"max"}
    for line in power:
        assert line["t_end"] - line["t_start"] >= 0.1 + 0.4
        assert line["ci_rel"] is None or line["ci_rel"] > 0.0001
    assert all(len(line["samples_s"]) == 12 for line in latency)
    rows = table(root)
    for row in rows[:-1]:
        assert "ci_not_reached:power" in row["flags"] and "ci_not_reached:latency" in row["flags"]
    assert "ci_not_reached:latency" in rows[-1]["flags"]


def test_fixed_run_lines_say_fixed_and_keep_the_boundaries(tmp_path):
    root = str(tmp_path / "fixed")
    done = generate(root, "--tgr_smpl_duration", "0.2", "--lt_smpl_count", "12")
    assert done.returncode == 0, done.stderr[-3000:]
    power, latency = lines(root, "power"), lines(root, "latency")
    for line in power:
        assert (line["stop"], line["ci_rel"], line["ci_target"]) == ("fixed", None, None)
        assert "core_start" not in line
        assert line["t_end"] - line["t_start"] >= 0.1 + 0.2 + 0.1  # both boundaries waited out
    assert all(line["stop"] == "fixed" and len(line["samples_s"]) == 12 for line in latency)
    rows = table(root)
    assert "power_ci_rel" not in rows[0] and not any("ci_not_reached" in r["flags"] for r in rows)


@pytest.mark.parametrize("flag,value", [("--tgr_ci", "0"), ("--tgr_ci", "1"), ("--tgr_ci", "nan"),
                                        ("--lt_ci", "-0.1"), ("--lt_ci", "2%")])
def test_bad_targets_are_one_line_errors(tmp_path, flag, value):
    done = generate(str(tmp_path / "bad"), flag, value)
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR:") or "error:" in line]
    assert done.returncode == 2 and len(errors) == 1 and flag in errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert not os.path.exists(str(tmp_path / "bad" / "LayerStats"))


def test_old_lines_read_as_fixed():
    from layer_stats.layerwise.raw import line_problem, stop_of

    old = {"format_version": 2, "layer": 0, "samples_s": [0.1, 0.2]}
    assert line_problem(old, "latency") is None and stop_of(old) == "fixed"
    bad = dict(old, format_version=3, stop="ci", ci_rel=0.01, ci_target=None)
    assert "ci_target" in line_problem(bad, "latency")
    assert "stop" in line_problem(dict(old, format_version=3, stop="early"), "latency")
    assert json.dumps(stop_of(dict(old, format_version=3, stop="max", ci_target=0.02))) == '"max"'


def test_auto_boundary_finds_the_ramp_in_the_readings(tmp_path):
    """``--tgr_smpl_boundary auto`` with the power monitors: no blind second, the ramp's end from the
    data (MSER-5) after a 0.05 s lead; the mean is over exactly what the line says."""
    from layer_stats.measure.adaptive import AUTO_LEAD_S

    root = str(tmp_path / "auto")
    done = generate(root, "--power_sampler", "ina", "--tgr_ci", "0.05", "--tgr_smpl_boundary", "auto",
                    "--tgr_smpl_duration", "1.5", "--eval_tgr")
    assert done.returncode == 0, done.stderr[-3000:]
    power = lines(root, "power")
    assert power and all(line["boundary_s"] == AUTO_LEAD_S for line in power)
    for line in power:
        assert line["stop"] in ("ci", "max") and line["power_sampler"] == "ina"
        lead = line["core_start"] - line["t_start"]
        # MSER cuts at most a quarter of what the rule judged (the window so far at its last check)
        assert AUTO_LEAD_S - 1e-6 <= lead <= 0.5 * (line["t_end"] - line["t_start"]) + AUTO_LEAD_S
        core = [r["values"][KEY] for r in line["power_samples"] if line["core_start"] < r["t"] <= line["core_end"]]
        assert len(core) >= 30
    # the line records the span the rule judged (readings that arrived after its check are left out),
    # so every line that stopped on the target is within it
    stopped = [line for line in power if line["stop"] == "ci"]
    assert stopped and all(line["ci_rel"] is not None and line["ci_rel"] <= 0.05 for line in stopped)
    # the seed's fixed 1 s boundary would have made every window at least 1 s long
    assert sum(line["t_end"] - line["t_start"] for line in power) < 0.8 * len(power)


@pytest.mark.parametrize("args, message", [
    (["--tgr_smpl_boundary", "auto"], "--tgr_smpl_boundary auto needs --tgr_ci"),
    (["--tgr_smpl_boundary", "soon"], "--tgr_smpl_boundary"),
])
def test_auto_boundary_misuse_is_one_line(tmp_path, args, message):
    done = generate(str(tmp_path / "x"), "--eval_tgr", *args)
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR:")]
    assert done.returncode == 2 and len(errors) == 1 and message in errors[0], done.stderr[-2000:]


def test_fixed_and_adaptive_lines_never_pool_and_a_missed_target_is_flagged(tmp_path):
    root = str(tmp_path / "mix")
    assert generate(root, "--eval_latency", "--lt_smpl_count", "30").returncode == 0
    for args, asked in ((["--lt_ci", "0.05"], "0.05"), ([], None)):
        done = generate(root, "--eval_latency", "--lt_smpl_count", "30", "--dry_run", *args)
        if asked is None:
            assert done.returncode == 0, done.stderr[-2000:]
            continue
        errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR:")]
        assert done.returncode == 2 and len(errors) == 1, done.stderr[-2000:]
        assert "measured with --lt_ci none where this run asks 0.05" in errors[0]
    # an adaptive file whose line says ci but whose precision over its span missed the target
    adaptive = str(tmp_path / "adaptive")
    assert generate(adaptive, "--eval_latency", "--lt_smpl_count", "40", "--lt_ci", "0.5").returncode == 0
    path = os.path.join(adaptive, "LayerStats", "Mode0", "cpu", "latency", "squeezenet1_0", "img1.jsonl")
    records = read_lines(path, "latency")
    records[0].update(stop="ci", ci_rel=0.9)
    with open(path, "w") as handle:
        handle.write("".join(json.dumps(r) + "\n" for r in records))
    rows = table(adaptive)
    assert "ci_not_reached:latency" in rows[0]["flags"] and float(rows[0]["latency_ci_rel"]) == 0.9


class _ArrivingFeed(object):
    """A feed whose samples (one per ``every_s``) arrive ``delay_s`` after their stamp."""

    def __init__(self, name, key, every_s, delay_s, values):
        self.name, self.key, self.every_s, self.delay_s, self.values = name, key, every_s, delay_s, values
        self.now = 0.0

    def keys(self):
        return [self.key]

    def recent(self, t_from, t_to):
        out = []
        for i, value in enumerate(self.values):
            t = round((i + 1) * self.every_s, 9)
            if t_from < t <= t_to and t + self.delay_s <= self.now:
                out.append({"t": t, "values": {self.key: value}})
        return out


def test_the_watch_judges_only_what_every_feed_has_reached_and_says_where_that_ends():
    """Two feeds arriving late by different amounts: the watch's span ``(core_start, core_end]`` holds
    exactly the samples it judged, and a sample that arrives after a check is judged at the next one."""
    import random

    from layer_stats.measure.adaptive import PowerWatch

    rng = random.Random(3)
    fast = _ArrivingFeed("ina", "A_mW", 0.002, 0.02, [1000 + rng.gauss(0, 5) for _ in range(2000)])
    slow = _ArrivingFeed("tegrastats", "B_mW", 0.02, 0.05, [500 + rng.gauss(0, 5) for _ in range(200)])
    watch = PowerWatch([fast, slow], 0.003, 0.1, 3.0)
    watch.start(0.0)
    now = 0.0
    while now < 3.0:
        now = round(now + 0.15, 9)
        fast.now = slow.now = now
        stopped = watch(now)
        # the slow feed's newest arrival (50 ms late); the fast one is ahead of it
        assert watch.core_end == max([0.1] + [t["t"] for t in slow.recent(0.0, now)])  # from the lead's end
        for feed, key in ((fast, "A_mW"), (slow, "B_mW")):
            judged = [v for i, v in enumerate(feed.values) if 0.1 < (i + 1) * feed.every_s <= watch.core_end + 1e-9]
            assert watch._values[key] == pytest.approx(judged)
        if stopped:
            break
    assert stopped and watch.stop == "ci"
    both = {"A_mW": watch._values["A_mW"], "B_mW": watch._values["B_mW"]}
    assert watch.final_rel(both) == pytest.approx(watch.rel, abs=1e-6) and watch.rel <= 0.003
