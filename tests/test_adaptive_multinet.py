"""``--thr_ci``: multi-DNN windows that end once every network's throughput is known within
+-REL, on the Orin simulator with small real models on the CPU; the raw format 4 fields and
their post-processing; the rule's interval on end times it can be checked against."""
import csv
import glob
import json
import os
import random
import shutil
import subprocess
import sys

import pytest

from conftest import FAKE_BIN, ROOT, run_main, run_script
from multi_network_stats.adaptive import MIN_PASSES, MISSED, passes_needed, throughput_ci_rel
from multi_network_stats.raw import RawFileError, check_record, read_raw, stop_of

GENERATOR = os.path.join(ROOT, "multi_network_stats", "MappingDBGenerator.py")
POST = os.path.join(ROOT, "multi_network_stats", "postProcessMultinetDB.py")
COMPAT_MULTINET = os.path.join(ROOT, "tests", "fixtures", "compat", "raw", "Multinet")
#: One mnasnet0_5 mapping alone on the CPU (class A), power from the simulated tegrastats lines.
ALONE = ["--jetsonDevice", "Orin", "--mode", "1", "--num_samples", "0", "--numNetsRange", "1", "1", "--single_nets", "--model_list",
         "mnasnet0_5", "--device_list", "cpu", "--eval_tgr", "--eval_thr", "--tgr_smpl_boundry", "0.1",
         "--simulate", "orin", "--power_sampler", "tegrastats", "--seed", "3"]
#: Both models alone, then together (classes A and C).
PAIR = ["--jetsonDevice", "Orin", "--mode", "1", "--num_samples", "1", "--numNetsRange", "2", "2",
        "--samples_per_set", "1", "--single_nets", "--model_list", "mnasnet0_5,squeezenet1_0", "--device_list",
        "cpu", "--eval_tgr", "--eval_thr", "--tgr_smpl_boundry", "0.1", "--simulate", "orin", "--power_sampler",
        "tegrastats", "--seed", "3"]
#: A target these small models reach within the longest window even on a loaded 2-core host.
LOOSE, LONGEST_S = 0.3, 6.0


def _env():
    return dict(os.environ, PATH=FAKE_BIN + os.pathsep + os.environ.get("PATH", ""), FAKE_NVPMODEL_MODE="1",
                OMP_NUM_THREADS="1")


def _generate(root, *args):
    pytest.importorskip("torch")
    done = subprocess.run([sys.executable, GENERATOR, "--output_root", root] + list(args), env=_env(), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return [read_raw(path, 1) for path in sorted(glob.glob(os.path.join(root, "Multinet", "Mode1", "*_class*.json")))]


def _process(root):
    done = run_script(POST, "--input_file_root", os.path.join(root, "Multinet"))
    assert done.returncode == 0, done.stderr
    with open(os.path.join(root, "Multinet", "Processed", "Orin", "Mode1.csv")) as handle:
        return list(csv.DictReader(handle)), done.stderr


@pytest.fixture(scope="module")
def adaptive_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("adaptive") / "Dataset")
    return root, _generate(root, *(PAIR + ["--thr_ci", str(LOOSE), "--smpl_duration", str(LONGEST_S)]))


def test_adaptive_windows_say_how_they_stopped_and_ci_ones_met_the_target(adaptive_root):
    root, records = adaptive_root
    assert len(records) == 3
    stops = [r["stop"] for r in records]
    assert set(stops) <= {"ci", "max"} and "ci" in stops, stops
    for record in records:
        assert record["format_version"] == 4 and record["ci_target"] == LOOSE
        window = record["window"]
        assert window["max_s"] == LONGEST_S
        assert record["samplingDuration"] == pytest.approx(window["t_end"] - window["t_start"], abs=2e-6)
        for result in record["networks"].values():
            # the throughput is over the actual window, with every counted pass inside it
            assert result["throughput_per_s"] == pytest.approx(result["passes"] / record["samplingDuration"])
            for stage in result["stages"]:
                assert len(stage["inf_times_s"]) == stage["infCount"] == result["passes"]
        if record["stop"] == "ci":
            assert record["samplingDuration"] < LONGEST_S
            assert record["samplingDuration"] >= 1.0  # the minimum window
            for result in record["networks"].values():
                assert result["passes"] >= MIN_PASSES and result["ci_rel"] is not None
                assert result["ci_rel"] <= LOOSE
        else:
            assert record["samplingDuration"] == LONGEST_S


def test_adaptive_csv_carries_the_precision_and_the_seed_json_keeps_its_shape(adaptive_root):
    root, records = adaptive_root
    rows, _ = _process(root)
    by_file = {r["file"]: r for r in records}
    assert len(rows) == sum(len(r["networks"]) for r in records)
    for row in rows:
        record = by_file[row["file"]]
        assert row["stop"] == record["stop"] and float(row["ci_target"]) == LOOSE
        rel = record["networks"][row["network"]]["ci_rel"]
        assert float(row["ci_rel"]) == pytest.approx(rel)
        assert row["ci_flag"] == ("" if rel <= LOOSE else MISSED)
    for record in records:
        path = os.path.join(root, "Multinet", "Processed", "Orin", "Mode1", record["file"])
        with open(path) as handle:
            sample = json.load(handle)
        assert list(sample) == ["mapping", "stageSummary", "samplingDuration", "Mode", "Device", "Tegrastats",
                                "ModelInfo"]
        assert sample["samplingDuration"] == pytest.approx(record["samplingDuration"])


def test_a_target_out_of_reach_stops_at_the_maximum_and_is_flagged(tmp_path):
    root = str(tmp_path / "Dataset")
    records = _generate(root, *(ALONE + ["--thr_ci", "0.0001", "--smpl_duration", "1.5"]))
    assert len(records) == 1
    record = records[0]
    assert record["stop"] == "max" and record["ci_target"] == 0.0001 and record["samplingDuration"] == 1.5
    rel = record["networks"]["mnasnet0_5"]["ci_rel"]
    assert rel is None or rel > 0.0001
    rows, stderr = _process(root)
    assert [(r["stop"], r["ci_flag"]) for r in rows] == [("max", MISSED)]
    assert record["file"] in stderr and MISSED in stderr


def test_fixed_windows_say_fixed_and_keep_the_csv_columns(tmp_path):
    root = str(tmp_path / "Dataset")
    records = _generate(root, *(ALONE + ["--smpl_duration", "1"]))
    record = records[0]
    assert record["stop"] == "fixed" and record["ci_target"] is None and record["samplingDuration"] == 1
    result = record["networks"]["mnasnet0_5"]
    assert result["throughput_per_s"] == result["passes"] / 1.0
    assert stop_of(record) == ("fixed", None)
    rows, _ = _process(root)
    assert not {"stop", "ci_target", "ci_rel", "ci_flag"} & set(rows[0])
    # the same folder with --thr_ci: its files were measured otherwise, and a dry run says so
    other = run_main(GENERATOR, "--output_root", root, *(ALONE + ["--smpl_duration", "1", "--thr_ci", "0.1",
                                                                  "--dry_run"]), env=_env(), blocked=())
    errors = [line for line in other.stderr.splitlines() if "ERROR" in line]
    assert other.returncode == 2 and len(errors) == 1 and "--thr_ci none (now 0.1)" in errors[0], other.stderr


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.1", "nan", "inf", "two"])
def test_a_bad_thr_ci_is_one_error_line(value, tmp_path):
    done = run_main(GENERATOR, "--output_root", str(tmp_path / "D"), *(ALONE + ["--thr_ci", value, "--dry_run"]),
                    env=_env(), blocked=())
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("ERROR: ") and "--thr_ci" in lines[0]
    assert "fraction" in lines[0] or "> 0" in lines[0]


def test_the_dry_run_gives_the_adaptive_estimate_between_its_bounds(tmp_path):
    done = run_main(GENERATOR, "--output_root", str(tmp_path / "D"), *(PAIR + ["--thr_ci", "0.02", "--smpl_duration",
                                                                               "30", "--dry_run"]),
                    env=_env(), blocked=())
    assert done.returncode == 0, done.stderr
    fixed, adaptive = done.stdout.splitlines()[-2:]
    assert fixed.startswith("# estimated device time:") and adaptive.startswith("# adaptive (--thr_ci 0.02)")
    seconds = [float(line.split("(")[2 if line is adaptive else 1].split(" s")[0]) for line in (fixed, adaptive)]
    assert seconds[1] <= seconds[0]
    assert "needs {} passes".format(passes_needed(0.02)) in adaptive


def test_old_raw_files_still_read_and_process_without_the_new_columns(tmp_path):
    raw = str(tmp_path / "Multinet")
    shutil.copytree(COMPAT_MULTINET, raw)
    paths = sorted(glob.glob(os.path.join(raw, "Mode0", "*_class*.json")))
    assert paths and all(read_raw(p, 0)["format_version"] == 2 for p in paths)
    assert {stop_of(read_raw(p, 0)) for p in paths} == {("fixed", None)}
    done = run_script(POST, "--input_file_root", raw)
    assert done.returncode == 0, done.stderr
    table = glob.glob(os.path.join(raw, "Processed", "*", "Mode0.csv"))
    with open(table[0]) as handle:
        header = next(csv.reader(handle))
    assert "ci_rel" not in header and "stop" not in header


def _v4(**changes):
    with open(sorted(glob.glob(os.path.join(COMPAT_MULTINET, "Mode0", "SingleNet*.json")))[0]) as handle:
        record = json.load(handle)
    record.update(format_version=4, stop="ci", ci_target=0.05)
    for result in record["networks"].values():
        result["ci_rel"] = 0.04
    record.update(changes)
    return record


def test_an_auto_boundary_is_refused_with_one_line(tmp_path):
    """``--tgr_smpl_boundry auto`` is the layer-wise generator's: a mapping's settle period is a plain wait."""
    done = run_main(GENERATOR, "--output_root", str(tmp_path / "D"),
                    *(ALONE + ["--eval_tgr", "--tgr_smpl_boundry", "auto", "--dry_run"]), env=_env(), blocked=())
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("ERROR: --tgr_smpl_boundry auto is for "
                                                                            "the layer-wise generator"), done.stderr


@pytest.mark.parametrize("changes, message", [
    (dict(stop="early"), "stop is 'early', not one of ci, max, fixed"),
    (dict(stop="fixed"), "ci_target is 0.05, not null for a fixed window"),
    (dict(ci_target=1.5), "ci_target is 1.5, not a fraction in (0, 1)"),
    (dict(ci_target=None), "ci_target is null, not a fraction in (0, 1)"),
])
def test_check_record_names_a_bad_stop_field(changes, message):
    check_record("f.json", _v4())
    with pytest.raises(RawFileError) as info:
        check_record("f.json", _v4(**changes))
    assert message in str(info.value)


def test_check_record_wants_ci_rel_in_version_4():
    record = _v4()
    network = list(record["networks"])[0]
    record["networks"][network]["ci_rel"] = float("nan")
    with pytest.raises(RawFileError, match="ci_rel is NaN"):
        check_record("f.json", record)
    del record["networks"][network]["ci_rel"]
    with pytest.raises(RawFileError, match="has no ci_rel"):
        check_record("f.json", record)


def test_ci_rel_of_regular_passes_is_the_count_resolution():
    ends = [0.5 + 0.25 * i for i in range(200)]
    assert throughput_ci_rel(ends) == pytest.approx(1.0 / 200)
    assert throughput_ci_rel(ends[:MIN_PASSES - 1]) is None


def test_ci_rel_covers_the_true_throughput_of_random_passes():
    """Passes with i.i.d. gamma gaps (CV 0.5): the true throughput lies within ci_rel of
    passes / span in at least 90 % of 300 windows."""
    rng = random.Random(11)
    rate, covered = 20.0, 0
    for _ in range(300):
        ends, t = [], 0.0
        for _ in range(200):
            t += rng.gammavariate(4.0, 1.0 / (4.0 * rate))
            ends.append(t)
        measured = (len(ends) - 1) / (ends[-1] - ends[0])
        covered += abs(measured - rate) / rate <= throughput_ci_rel(ends)
    assert covered >= 270
