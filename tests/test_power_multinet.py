"""The multi-DNN product with the power sampler: real runs on the simulated Orin monitors
(``--power_sampler ina``) and on tegrastats lines, format-3 power blocks and their checks,
post-processing from the readings, old files, and resume across samplers."""
import copy
import csv
import glob
import json
import os
import re
import shutil

import pytest

pytest.importorskip("torch")

from conftest import ROOT, corpus_files, run_main, run_script  # noqa: E402
from layer_stats.tegrastats.parse import parse_line  # noqa: E402
from multi_network_stats.raw import RawFileError, check_record, power_sampler_of, read_raw  # noqa: E402

GENERATOR = os.path.join(ROOT, "multi_network_stats", "MappingDBGenerator.py")
POST = os.path.join(ROOT, "multi_network_stats", "postProcessMultinetDB.py")
COMPAT_RAW = os.path.join(ROOT, "tests", "fixtures", "compat", "raw")
ENV = {"FAKE_NVPMODEL_MODE": "1", "OMP_NUM_THREADS": "1", "DNN_STATS_TEST_DEVICES": "fakegpu=cpu"}
#: 1 s windows after 0.1 s settling, on the CPU: squeezenet1_0 and mobilenet_v3_small alone, then together.
RUN = ["--jetsonDevice", "Orin", "--mode", "1", "--num_samples", "1", "--numNetsRange", "2", "2",
       "--samples_per_set", "1", "--single_nets", "--model_list", "squeezenet1_0,mobilenet_v3_small",
       "--device_list", "cpu", "--smpl_duration", "1", "--tgr_smpl_boundry", "0.1", "--eval_tgr", "--eval_thr",
       "--simulate", "orin", "--sim_seed", "7"]
FILES = ["MultiNet_Map2_nm_2_set_0_classC.json", "SingleNet_Map0_nm_1_set_0_classA.json",
         "SingleNet_Map1_nm_1_set_1_classA.json"]
#: The simulated Orin's monitors -> the seed's friendly names.
RAILS = {"VDD_IN": "IN Power", "VDD_CPU_GPU_CV": "GPU CPU CV Power", "VDD_SOC": "SOC Power"}
#: The args the compat fixture's (format 2) raw files were made with (its run file).
COMPAT_RUN = ["--jetsonDevice", "Orin", "--mode", "0", "--num_samples", "4", "--numNetsRange", "2", "2",
              "--samples_per_set", "2", "--single_nets", "--model_list", "squeezenet1_0,mobilenet_v3_small,resnet18",
              "--device_list", "cpu,fakegpu", "--smpl_duration", "0.5", "--tgr_smpl_boundry", "0.2",
              "--funcLayerCount", "--simulate", "orin", "--eval_tgr", "--eval_thr"]


def _generate(root, sampler):
    done = run_script(GENERATOR, "--output_root", root, "--power_sampler", sampler, *RUN, blocked=(), env=ENV,
                      timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    processed = run_script(POST, "--input_file_root", os.path.join(root, "Multinet"))
    assert processed.returncode == 0, processed.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def ina_root(tmp_path_factory):
    return _generate(str(tmp_path_factory.mktemp("ina") / "Dataset"), "ina")


@pytest.fixture(scope="module")
def tegra_root(tmp_path_factory):
    return _generate(str(tmp_path_factory.mktemp("tegrastats") / "Dataset"), "tegrastats")


def _load(path):
    with open(path) as handle:
        return json.load(handle)


def _raw(root):
    return {os.path.basename(p): _load(p) for p in glob.glob(os.path.join(root, "Multinet", "Mode1", "*_class*.json"))}


def _processed(root, *parts):
    return os.path.join(root, "Multinet", "Processed", "Orin", *parts)


def _mean(values):
    return sum(values) / float(len(values))


def _line_means(record):
    lines = [parse_line(s["raw"]) for s in record["tegrastats"]["samples"]]
    return {rail: _mean([p[rail + "_mW"] for p in lines]) for rail in RAILS}


def test_ina_runs_write_format_3_files_with_every_reading_of_the_window(ina_root):
    raw = _raw(ina_root)
    assert sorted(raw) == FILES
    for name, record in raw.items():
        assert read_raw(os.path.join(ina_root, "Multinet", "Mode1", name), 1) == record
        power, window = record["power"], record["window"]
        assert record["format_version"] >= 3 and power_sampler_of(record) == "ina"
        assert (power["sampler"], power["telemetry"], power["rate_hz"]) == ("ina", "simulated", 500.0)
        assert power["rails"] == list(RAILS)
        times = [s["t"] for s in power["samples"]]
        assert len(times) >= 200, (name, len(times))  # 500/s over a 1 s window, on a busy 2-core host
        assert all(a < b for a, b in zip(times, times[1:]))
        assert window["t_start"] <= times[0] < window["t_start"] + 0.1
        assert window["t_end"] - 0.1 < times[-1] <= window["t_end"]
        assert all(sorted(s["values"]) == sorted(r + "_mW" for r in RAILS) for s in power["samples"])
        assert len(record["tegrastats"]["samples"]) >= 10  # tegrastats runs too, its lines kept whole
    (run_file,) = glob.glob(os.path.join(ina_root, "Multinet", "Mode1", "run-*.json"))
    meta = _load(run_file)
    assert meta["status"] == "finished" and meta["power_sampler"] == "ina" and meta["power_telemetry"] == "simulated"
    assert meta["power_rate_hz"] == 500.0 and [r["rail"] for r in meta["power_rails"]] == list(RAILS)
    assert not glob.glob(os.path.join(ina_root, "Multinet", "Mode1", ".simulated_*"))  # removed at the end


def test_processed_rails_are_the_means_of_the_readings(ina_root):
    differs = []
    rows = {}
    with open(_processed(ina_root, "Mode1.csv")) as handle:
        for row in csv.DictReader(handle):
            rows[row["file"]] = row
    for name, record in _raw(ina_root).items():
        sample = _load(_processed(ina_root, "Mode1", name))
        assert list(sample) == ["mapping", "stageSummary", "samplingDuration", "Mode", "Device", "Tegrastats",
                                "ModelInfo"]
        tegra = sample["Tegrastats"]
        assert list(tegra)[-3:] == list(RAILS.values())  # the seed's names and places
        lines = _line_means(record)
        for rail, friendly in RAILS.items():
            readings = _mean([s["values"][rail + "_mW"] for s in record["power"]["samples"]])
            assert tegra[friendly] == pytest.approx(readings, abs=1e-4)
            assert float(rows[name][friendly.replace(" ", "_") + "_mW"]) == pytest.approx(tegra[friendly], abs=1e-4)
            differs.append(abs(readings - lines[rail]) > 1e-3)
        assert tegra["RAM"] == pytest.approx(_mean([parse_line(s["raw"])["RAM_used_MB"]
                                                    for s in record["tegrastats"]["samples"]]), abs=1e-4)
    assert any(differs)  # the values are the readings', not the lines'
    provenance = _load(_processed(ina_root, "Mode1.provenance.json"))
    assert provenance["power_samplers"] == ["ina"] and provenance["simulated"] is True
    assert list(provenance)[:4] == ["Device", "mode", "telemetry", "power_samplers"]


def test_tegrastats_sampler_keeps_the_old_behaviour(tegra_root):
    raw = _raw(tegra_root)
    assert sorted(raw) == FILES
    for name, record in raw.items():
        assert record["format_version"] >= 3 and record["power"] is None
        assert power_sampler_of(record) == "tegrastats"
        tegra = _load(_processed(tegra_root, "Mode1", name))["Tegrastats"]
        for rail, mean in _line_means(record).items():
            assert tegra[RAILS[rail]] == pytest.approx(mean, abs=1e-4)
    (run_file,) = glob.glob(os.path.join(tegra_root, "Multinet", "Mode1", "run-*.json"))
    meta = _load(run_file)
    assert meta["power_sampler"] == "tegrastats" and "power_rails" not in meta
    assert _load(_processed(tegra_root, "Mode1.provenance.json"))["power_samplers"] == ["tegrastats"]


def test_a_folder_of_both_samplers_lists_both(tmp_path, ina_root, tegra_root):
    folder = tmp_path / "Multinet" / "Mode1"
    shutil.copytree(os.path.join(ina_root, "Multinet", "Mode1"), str(folder))
    tegra_file = os.path.join(tegra_root, "Multinet", "Mode1", FILES[0])
    shutil.copy(tegra_file, str(folder / FILES[0].replace("Map2", "Map7")))
    done = run_main(POST, "--input_file_root", str(tmp_path / "Multinet"))
    assert done.returncode == 0, done.stderr
    out = tmp_path / "Multinet" / "Processed" / "Orin"
    assert _load(str(out / "Mode1.provenance.json"))["power_samplers"] == ["ina", "tegrastats"]
    tegra = _load(str(out / "Mode1" / FILES[0].replace("Map2", "Map7")))["Tegrastats"]
    assert tegra["IN Power"] == pytest.approx(_line_means(_load(tegra_file))["VDD_IN"], abs=1e-4)


def test_format_2_files_still_process(tmp_path):
    raw = str(tmp_path / "raw")
    shutil.copytree(COMPAT_RAW, raw)
    for path in glob.glob(os.path.join(raw, "Multinet", "Mode0", "*_class*.json")):
        record = read_raw(path, 0)
        assert record["format_version"] == 2 and "power" not in record and power_sampler_of(record) == "tegrastats"
    done = run_main(POST, "--input_file_root", os.path.join(raw, "Multinet"), "--output_file_root",
                    str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    provenance = _load(str(tmp_path / "out" / "Orin" / "Mode0.provenance.json"))
    assert provenance["power_samplers"] == ["tegrastats"] and provenance["samples"] == 10


def _power_record(ina_root):
    return _load(os.path.join(ina_root, "Multinet", "Mode1", FILES[1]))


def _set(record, path, value):
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return record


@pytest.mark.parametrize("path, value, message", [
    (["power"], [], "power is a list, not an object"),
    (["power", "sampler"], "tegrastats", "power.sampler is 'tegrastats', not one of ina"),
    (["power", "telemetry"], "replay", "power.telemetry is 'replay', not one of ina, simulated"),
    (["power", "rate_hz"], 0, "power.rate_hz is 0, not a finite number > 0"),
    (["power", "rails"], [], "power.rails is a list, not a non-empty list"),
    (["power", "rails", 0], "../x", "power.rails[0] is '../x', not a name of letters"),
    (["power", "samples"], [], "power.samples is a list, not a non-empty list"),
    (["power", "samples", 3], None, "power.samples[3] is null, not an object"),
    (["power", "samples", 3, "t"], float("nan"), "power.samples[3].t is NaN, not a finite number"),
    (["power", "samples", 3, "t"], 0.5, "power.samples[3].t is 0.5, not a time after the reading before"),
    (["power", "samples", 0, "t"], 1.0, "power.samples[0].t is 1.0, not a time inside the window"),
    (["power", "samples", 3, "values"], {}, "power.samples[3].values is empty"),
    (["power", "samples", 3, "values", "VDD_IN_mW"], float("inf"),
     "power.samples[3].values.VDD_IN_mW is Infinity, not a finite number"),
    (["power", "samples", 3, "values", "VDD_IN_mW"], "5000", "power.samples[3].values.VDD_IN_mW is '5000'"),
    (["power", "samples", 3, "values", "VDD_GPU_mW"], 1.0, "power.samples[3].values has 'VDD_GPU_mW', not a"),
])
def test_a_corrupt_power_block_is_named(ina_root, path, value, message):
    record = _set(copy.deepcopy(_power_record(ina_root)), path, value)
    with pytest.raises(RawFileError, match="^" + re.escape("x.json: " + message)):
        check_record("x.json", record, 1)


def test_post_processing_skips_a_file_whose_power_block_is_corrupt(tmp_path, ina_root):
    folder = tmp_path / "Multinet" / "Mode1"
    shutil.copytree(os.path.join(ina_root, "Multinet", "Mode1"), str(folder))
    record = _power_record(ina_root)
    del record["power"]["samples"][5]["t"]
    (folder / FILES[1]).write_text(json.dumps(record))
    done = run_main(POST, "--input_file_root", str(tmp_path / "Multinet"))
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert "{}: power.samples[5].t is null, not a finite number".format(folder / FILES[1]) in done.stderr
    assert sorted(os.listdir(str(tmp_path / "Multinet" / "Processed" / "Orin" / "Mode1"))) == [FILES[0], FILES[2]]


def _dry_run(root, *args):
    return run_main(GENERATOR, "--output_root", root, "--dry_run", *args, env=ENV, blocked=())


@pytest.mark.parametrize("sampler, other", [("ina", "tegrastats"), ("tegrastats", "ina")])
def test_resume_keeps_files_of_either_sampler_with_auto_and_stops_on_the_other_named_one(
        sampler, other, ina_root, tegra_root):
    root = ina_root if sampler == "ina" else tegra_root
    for same in (sampler, "auto"):
        done = _dry_run(root, "--power_sampler", same, *RUN)
        assert done.returncode == 0, done.stderr
        assert "3 done (a run skips them), 0 unreadable" in done.stdout.splitlines()[-2]
    before = {name: os.stat(os.path.join(root, "Multinet", "Mode1", name)).st_mtime_ns for name in FILES}
    done = _dry_run(root, "--power_sampler", other, *RUN)
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
    assert done.returncode == 2 and len(errors) == 1, done.stderr
    assert "was measured with power from {} (now --power_sampler {}; --power_sampler auto keeps files of " \
           "either)".format(sampler, other) in errors[0]
    assert {name: os.stat(os.path.join(root, "Multinet", "Mode1", name)).st_mtime_ns for name in FILES} == before


def test_format_2_files_count_as_done_and_as_tegrastats_power(tmp_path):
    raw = str(tmp_path / "raw")
    shutil.copytree(COMPAT_RAW, raw)
    env = dict(ENV, FAKE_NVPMODEL_MODE="0")
    done = run_main(GENERATOR, "--output_root", raw, "--dry_run", *COMPAT_RUN, env=env, blocked=())
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "10 done (a run skips them), 0 unreadable" in lines[-2]
    assert lines[-3].startswith("# power: the simulated INA3221/INA238 monitors at up to 500 readings/s "
                                "(--power_sampler auto), else tegrastats lines")
    done = run_main(GENERATOR, "--output_root", raw, "--dry_run", "--power_sampler", "ina", *COMPAT_RUN, env=env,
                    blocked=())
    assert done.returncode == 2 and "was measured with power from tegrastats (now --power_sampler ina" in done.stderr


def test_ina_with_a_replayed_log_is_refused_before_anything_runs(tmp_path):
    log = [path for path in corpus_files() if "orin" in os.path.basename(path).lower()][0]
    done = run_main(GENERATOR, "--output_root", str(tmp_path / "out"), "--jetsonDevice", "auto", "--mode", "1",
                    "--model_list", "squeezenet1_0", "--single_nets", "--num_samples", "0", "--device_list", "cpu",
                    "--eval_tgr", "--replay", log, "--power_sampler", "ina", env=ENV, blocked=())
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
    assert done.returncode == 2 and len(errors) == 1, done.stderr
    assert "--power_sampler ina reads the board's power monitors, which a replayed log does not have" in errors[0]
    assert not glob.glob(str(tmp_path / "out" / "Multinet" / "Mode1" / "*.json"))  # no run file, no raw file
