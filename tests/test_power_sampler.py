"""The power-monitor sampler: fresh conversions only, the simulated monitors, the CLI and a run's choice of sampler.

Fake sysfs trees are laid out as the real boards' (layer_stats/power/tree.py); the
simulator serves one whose values follow this host's load; the CLI runs as a user runs it.
"""
import glob
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, child, signal_and_wait
from layer_stats.errors import DnnStatsError
from layer_stats.power.discover import find_rails, select_rails
from layer_stats.power.read import RailReader
from layer_stats.power.sampler import FreshFilter, parse_line, sample_loop, stamp_of, line_format
from layer_stats.power.simulate import SysfsSimulator
from layer_stats.power.start import board_at, sampling_plan, start_power
from layer_stats.power.tree import TreeWriter, build_tree
from layer_stats.tegrastats.sources import replay_source, simulated_source
from layer_stats.tegrastats.params import resolve_params


def power_cli(*args, **kwargs):
    """``python -m layer_stats.power ARGS`` from the repository root; CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "layer_stats.power"] + [str(a) for a in args], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=kwargs.get("timeout", 60))


def recorded(path):
    with open(path) as handle:
        lines = handle.read().splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def power_processes(root):
    """``ps`` lines of power children (simulator or sampler) reading under ``root``."""
    listing = subprocess.run(["ps", "-ww", "-eo", "pid,args"], stdout=subprocess.PIPE, universal_newlines=True).stdout
    return [line for line in listing.splitlines() if "layer_stats.power" in line and str(root) in line]


# -- freshness -----------------------------------------------------------------------------
def test_a_repeated_conversion_is_dropped_until_a_period_has_passed():
    fresh = FreshFilter(period_s=0.004)
    assert fresh.fresh((5000, 996), 0.000)
    assert not fresh.fresh((5000, 996), 0.001)  # the chip has not converted again yet
    assert fresh.fresh((5000, 1001), 0.002)  # new numbers: a new conversion
    assert not fresh.fresh((5000, 1001), 0.005)
    assert fresh.fresh((5000, 1001), 0.006)  # a period after the last kept: a conversion that gave the same numbers
    assert fresh.repeats == 2


def test_the_loop_keeps_each_conversion_once_and_skips_overrun_deadlines(tmp_path):
    files = build_tree(str(tmp_path), "orin", "6")
    rails = select_rails(find_rails(str(tmp_path), "orin"), ["VDD_IN"], "orin")
    clock = {"t": 100.0, "reads": 0, "late": 0}
    values = iter(range(2000, 100000, 7))

    def now():
        return clock["t"]

    def sleep(seconds):
        # the chip converts every 2 ms; the loop asks every 1 ms; one sleep in 40 oversleeps by 5.5 ms
        clock["reads"] += 1
        before = clock["t"]
        late = clock["reads"] % 40 == 0
        clock["late"] += late
        clock["t"] += seconds + (0.0055 if late else 0.0)
        if int(clock["t"] / 0.002) != int(before / 0.002):
            writer.write({"VDD_IN": next(values)})

    kept = []
    with TreeWriter(files) as writer, RailReader(rails) as reader:
        stats = sample_loop(reader, 1000.0, lambda t, mW: kept.append((t, mW[0])), period_s=0.002,
                            duration_s=0.5, clock=now, sleep=sleep)
    assert stats["fresh"] == len(kept)
    assert stats["reads"] == stats["fresh"] + stats["repeats"]
    assert clock["late"] >= 10 and stats["overruns"] == 5 * clock["late"]  # 5.5 ms late: 5 deadlines of 1 ms missed
    assert len(set(mW for _, mW in kept)) == len(kept)  # each conversion once
    assert 0.9 * 250 <= len(kept) <= 250 + 1  # about one reading per 2 ms conversion in 0.5 s
    assert all(b[0] > a[0] for a, b in zip(kept, kept[1:]))


def test_a_reading_line_reads_back():
    line = line_format(["VDD_IN", "VDD_SOC"]) % (1234.5678901, 4521.0, 1406.25)
    assert stamp_of(line) == pytest.approx(1234.567890)
    assert parse_line(line) == (pytest.approx(1234.56789), {"VDD_IN_mW": 4521.0, "VDD_SOC_mW": 1406.25})
    assert stamp_of('{"format_version": 1, "t_mono": 3.0}') is None and parse_line("junk") is None


# -- the simulated monitors ------------------------------------------------------------------
def _mean_mW(reader, count=200):
    values = []
    for _ in range(count):
        values.append(reader.read_mW())
        time.sleep(0.0005)
    return sum(v["VDD_GPU_SOC"] for v in values) / len(values)


def test_the_simulated_monitors_follow_the_gpu_load(tmp_path):
    load_file = tmp_path / "gpu_load"
    sim = SysfsSimulator("agx-orin", str(tmp_path / "sysfs"), seed=1, gpu_load_file=str(load_file))
    try:
        rails = select_rails(find_rails(sim.root, "agx-orin"), ["VDD_GPU_SOC"], "agx-orin")
        with RailReader(rails) as reader:
            sim.convert()
            idle = reader.read_mW()["VDD_GPU_SOC"]
            load_file.write_text("1.0\n")
            time.sleep(0.03)  # past the simulator's load period
            sim.convert()
            busy = reader.read_mW()["VDD_GPU_SOC"]
    finally:
        sim.close()
    # the table's model: 2800 mW idle, + 25000 mW at full GPU load, 2% noise
    assert 2800 * 0.85 < idle < 2800 * 1.15 + 300
    assert busy > idle + 20000
    assert not os.path.exists(sim.root)


def test_the_simulated_tree_is_the_boards_layout(tmp_path):
    sim = SysfsSimulator("thor", str(tmp_path / "sysfs"), seed=2)
    try:
        rails = find_rails(sim.root)
        assert board_at(sim.root) == "thor"
        by_name = {r.rail: r for r in find_rails(sim.root, "thor")}
    finally:
        sim.close()
    assert [r.driver for r in rails].count("ina238") == 1
    assert by_name["VIN"].driver == "ina238" and by_name["VIN"].power_file.endswith("power1_input")
    assert set(by_name) == {"VDD_GPU", "VDD_CPU_SOC_MSS", "VIN_SYS_5V0", "VIN"}


def test_a_simulator_refuses_a_folder_that_holds_something(tmp_path):
    (tmp_path / "mine.txt").write_text("data")
    with pytest.raises(DnnStatsError, match="not empty"):
        SysfsSimulator("orin", str(tmp_path))
    assert (tmp_path / "mine.txt").read_text() == "data"


# -- the CLI ---------------------------------------------------------------------------------
def test_record_keeps_fresh_increasing_readings_and_leaves_nothing_behind(tmp_path):
    out = tmp_path / "rec" / "orin.jsonl"
    proc = power_cli("record", "--simulate", "orin", "--rails", "VDD_IN,VDD_SOC", "--rate", "200", "--duration",
                     "1.5", "--out", out)
    assert proc.returncode == 0, proc.stderr
    head, readings = recorded(str(out))
    assert head["telemetry"] == "simulated" and head["board"] == "orin" and head["rate_hz"] == 200
    assert [r["rail"] for r in head["rails"]] == ["VDD_IN", "VDD_SOC"]
    assert head["conversion_period_ms"] == 1.0 and isinstance(head["t_wall"], float)
    assert 0.8 * 300 <= len(readings) <= 301
    stamps = [r["t_mono"] for r in readings]
    assert all(b > a for a, b in zip(stamps, stamps[1:])) and stamps[0] >= head["t_mono"] - 0.01
    assert all(set(r) == {"t_mono", "VDD_IN_mW", "VDD_SOC_mW"} for r in readings)
    # the orin model: VDD_IN = (2500 + rails) / 0.9 with VDD_SOC >= 1400 mW idle: at least ~4300 mW
    assert all(r["VDD_IN_mW"] > 4000 and r["VDD_IN_mW"] > r["VDD_SOC_mW"] for r in readings)
    assert sorted(os.listdir(str(tmp_path / "rec"))) == ["orin.jsonl"]  # no .partial, no simulated tree
    assert "fresh readings" in proc.stderr and "of a core" in proc.stderr


def test_a_stopped_record_keeps_its_readings_and_its_children_stop(tmp_path):
    out = tmp_path / "stop.jsonl"
    argv = [sys.executable, "-m", "layer_stats.power", "record", "--simulate", "agx-orin", "--out", str(out)]
    with child(argv) as proc:
        deadline = time.monotonic() + 30
        while not (tmp_path / "stop.jsonl.partial").exists() or os.path.getsize(str(out) + ".partial") < 2000:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        stderr = signal_and_wait(proc, signal.SIGTERM, 30)
    assert proc.returncode == 0, stderr
    head, readings = recorded(str(out))
    assert [r["rail"] for r in head["rails"]] == ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO"]
    assert readings and "SIGTERM" in stderr
    time.sleep(0.5)
    assert power_processes(tmp_path) == []
    assert sorted(os.listdir(str(tmp_path))) == ["stop.jsonl"]


def test_rails_lists_every_connected_rail_of_a_board_tree(tmp_path):
    build_tree(str(tmp_path), "tx2", "4", mW={"VDD_IN": 4321, "VDD_SYS_CPU": 812})
    proc = power_cli("rails", "--sys_root", tmp_path, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["rail"], r["device"], r["channel"]) for r in rows] == [
        ("VDD_SYS_GPU", "0-0040", 0), ("VDD_SYS_SOC", "0-0040", 1), ("VDD_4V0_WIFI", "0-0040", 2),
        ("VDD_IN", "0-0041", 0), ("VDD_SYS_CPU", "0-0041", 1), ("VDD_SYS_DDR", "0-0041", 2)]
    assert {r["driver"] for r in rows} == {"ina3221x"} and {r["update_interval_ms"] for r in rows} == {None}
    assert {r["rail"]: r["mW"] for r in rows}["VDD_IN"] == 4321 and rows[4]["mW"] == 812
    table = power_cli("rails", "--simulate", "agx-orin")
    assert table.returncode == 0 and "VDDQ_VDD2_1V8AO" in table.stdout and "NC" not in table.stdout


@pytest.mark.parametrize("args, message", [
    (["rails", "--sys_root", "{tmp}"], "no INA3221/INA238 power monitors under"),
    (["record", "--simulate", "orin", "--rails", "VDD_GPU", "--duration", "1", "--out", "{tmp}/x.jsonl"],
     "unknown power rail 'VDD_GPU'"),
    (["record", "--simulate", "orin", "--rails", "VDD_IN,VDD_IN", "--out", "{tmp}/x.jsonl"], "--rails"),
    (["record", "--simulate", "pi5", "--out", "{tmp}/x.jsonl"], "unknown board 'pi5' given to --simulate"),
    (["record", "--simulate", "orin", "--rate", "0", "--out", "{tmp}/x.jsonl"], "--rate"),
    (["record", "--simulate", "orin", "--out", "{tmp}"], "exists"),
    (["record", "--simulate", "orin", "--out", ""], "is no file name"),
    (["record", "--simulate", "orin", "--out", "{tmp}/left.jsonl"], "left.jsonl.partial exists"),
    (["rails", "--sys_root", "{tmp}/nowhere"], "is not a folder"),
])
def test_bad_input_is_one_error_line(tmp_path, args, message):
    (tmp_path / "left.jsonl.partial").write_text("a killed recording's readings\n")
    proc = power_cli(*[a.format(tmp=tmp_path) for a in args])
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: ") and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x.jsonl").exists() and not (tmp_path / "x.jsonl.partial").exists()
    assert (tmp_path / "left.jsonl.partial").read_text() == "a killed recording's readings\n"
    assert not os.path.exists(os.path.join(ROOT, ".partial")) and power_processes(tmp_path) == []


# -- a run's choice of sampler ----------------------------------------------------------------
def _params(board, names):
    return resolve_params(board, names)


def test_a_run_on_the_simulator_samples_the_simulated_monitors(tmp_path):
    source = simulated_source("orin", 100).following_gpu_load(str(tmp_path))
    sampler = start_power("auto", 300.0, source, "orin", _params("orin", ["VDD_IN"]), folder=str(tmp_path))
    try:
        t0 = time.monotonic()
        time.sleep(0.5)
        t1 = time.monotonic()
        assert sampler.wait_past(t1)
        readings = sampler.readings(t0, t1)
        meta = sampler.meta()
    finally:
        sampler.stop()
    assert 0.8 * 150 <= len(readings) <= 151
    assert all(t0 <= r["t"] <= t1 and list(r["values"]) == ["VDD_IN_mW"] for r in readings)
    assert meta["power_sampler"] == "ina" and meta["power_telemetry"] == "simulated" and meta["power_rate_hz"] == 300
    assert os.listdir(str(tmp_path)) == [] and power_processes(tmp_path) == []


def test_ina_is_refused_on_a_replay_and_auto_falls_back():
    path = os.path.join(ROOT, "tests", "fixtures", "tegrastats", "agxorin64_jp6_abdel-e-tegrastats-parser.log")
    source = replay_source(path, 100, loop=True)
    params = _params("agx-orin", ["VDD_GPU_SOC"])
    with pytest.raises(DnnStatsError, match="--power_sampler tegrastats"):
        start_power("ina", 500.0, source, "agx-orin", params)
    assert start_power("auto", 500.0, source, "agx-orin", params) is None
    assert start_power("tegrastats", 500.0, source, "agx-orin", params) is None


def test_an_unknown_rail_is_an_error_for_ina_and_a_fallback_for_auto(tmp_path):
    source = simulated_source("orin", 100).following_gpu_load(str(tmp_path))
    bad = [_params("orin", ["VDD_IN"])[0]._replace(name="VDD_GPU", raw="VDD_GPU")]
    with pytest.raises(DnnStatsError, match=r"unknown power rail 'VDD_GPU'.*VDD_IN, VDD_CPU_GPU_CV, VDD_SOC"):
        start_power("ina", 500.0, source, "orin", bad, folder=str(tmp_path))
    assert start_power("auto", 500.0, source, "orin", bad, folder=str(tmp_path)) is None
    assert os.listdir(str(tmp_path)) == [] and power_processes(tmp_path) == []


def test_the_rate_is_clamped_to_the_conversion_period(tmp_path):
    build_tree(str(tmp_path), "orin", "5")
    update = [os.path.join(dirpath, "update_interval") for dirpath, _, names in os.walk(str(tmp_path))
              if "update_interval" in names]
    assert update
    for path in update:
        with open(path, "w") as handle:
            handle.write("8\n")
    plan = sampling_plan(find_rails(str(tmp_path), "orin"), 500.0)
    assert plan.period_s == 0.008 and plan.rate_hz == 125.0 and plan.requested_rate_hz == 500.0


def test_readings_follow_values_rewritten_under_a_held_reader(tmp_path):
    files = build_tree(str(tmp_path), "agx-orin", "6")
    rails = find_rails(str(tmp_path), "agx-orin")
    rng = random.Random(3)
    with TreeWriter(files) as writer, RailReader(rails) as reader:
        for _ in range(20):
            want = {r.rail: rng.randint(100, 30000) for r in rails}
            writer.write(want)
            got = reader.read_mW()
            # mV x mA / 1000 with the current rounded to 1 mA at 5000 mV: within 2.5 mW
            assert all(abs(got[name] - want[name]) <= 2.5 for name in want)


# -- a measuring run's children ---------------------------------------------------------------
GENERATOR = os.path.join(ROOT, "layer_stats", "rawDataGeneration", "PowerLatencyDatasetGenerator.py")


def _start_generator(tmp_path):
    argv = [sys.executable, GENERATOR, "--mode", "0", "--models", "squeezenet1_0", "--imgs", "img1.jpg",
            "--eval_tgr", "--simulate", "orin", "--tgr_smpl_duration", "5", "--idle_duration", "0.5",
            "--output_root", str(tmp_path)]
    return argv


def _wait_for_run_file(tmp_path, proc):
    deadline = time.monotonic() + 120
    while not glob.glob(str(tmp_path / "LayerStats" / "Mode0" / "run-*.json")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
        time.sleep(0.2)
    time.sleep(1.0)  # into the first power window
    assert len(power_processes(tmp_path)) == 2  # the simulated monitors and the sampler


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_or_killed_run_leaves_no_power_process_and_no_simulated_tree(tmp_path, signum):
    with child(_start_generator(tmp_path)) as proc:
        _wait_for_run_file(tmp_path, proc)
        proc.send_signal(signum)
        stderr = proc.communicate(timeout=60)[1]
    folder = tmp_path / "LayerStats" / "Mode0"
    deadline = time.monotonic() + 30
    while (power_processes(tmp_path) or glob.glob(str(folder / ".simulated_sysfs*"))) and time.monotonic() < deadline:
        time.sleep(0.2)  # a killed parent's children get SIGTERM from the kernel and clean up after it
    assert power_processes(tmp_path) == [] and glob.glob(str(folder / ".simulated_sysfs*")) == []
    with open(glob.glob(str(folder / "run-*.json"))[0]) as handle:
        run = json.load(handle)
    assert run["power_sampler"] == "ina" and run["power_telemetry"] == "simulated"
    assert [r["rail"] for r in run["power_rails"]] == ["VDD_CPU_GPU_CV"]
    if signum == signal.SIGTERM:
        assert proc.returncode == 128 + signal.SIGTERM and stderr.strip().splitlines()[-1] == "stopped: SIGTERM"
        assert run["status"] == "interrupted"


MULTINET = os.path.join(ROOT, "multi_network_stats", "MappingDBGenerator.py")
ORIN_LOG = os.path.join(ROOT, "tests", "fixtures", "tegrastats", "agxorin64_jp6_abdel-e-tegrastats-parser.log")


@pytest.mark.parametrize("script, args, message", [
    (GENERATOR, ["--simulate", "orin", "--power_rate", "0.5", "--tgr_smpl_duration", "1"],
     "--power_rate 0.5 Hz leaves fewer than 2 power-monitor readings in the --tgr_smpl_duration window"),
    (GENERATOR, ["--simulate", "orin", "--tgr_params", "RAM", "--power_sampler", "ina"],
     "--power_sampler ina samples power rails, and --tgr_params names none (RAM)"),
    (GENERATOR, ["--replay", ORIN_LOG, "--replay_loop", "--power_sampler", "ina", "--dry_run"],
     "a replayed log does not have"),
    (GENERATOR, ["--power_sampler", "ina"], "no INA3221/INA238 power monitors under"),
    (MULTINET, ["--simulate", "orin", "--power_rate", "1", "--smpl_duration", "1"],
     "--power_rate 1 Hz leaves fewer than 2 power-monitor readings in the --smpl_duration window"),
    (MULTINET, ["--power_sampler", "ina"], "no INA3221/INA238 power monitors under"),
])
def test_a_power_sampler_a_run_cannot_have_is_refused_before_it_starts(tmp_path, script, args, message):
    if script == GENERATOR:
        common = ["--mode", "0", "--models", "squeezenet1_0", "--imgs", "img1.jpg", "--eval_tgr"]
    else:
        common = ["--jetsonDevice", "Orin", "--mode", "0", "--num_samples", "1", "--device_list", "cpu",
                  "--model_list", "squeezenet1_0", "--eval_tgr"]
    proc = subprocess.run([sys.executable, script] + common + args + ["--output_root", str(tmp_path / "out")],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=120, env=dict(os.environ, FAKE_NVPMODEL_MODE="0"))
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert proc.returncode == 2 and len(errors) == 1 and message in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr and power_processes(tmp_path) == []
    assert not glob.glob(str(tmp_path / "out" / "*" / "*" / "*.json*"))  # no raw file, no run file
