"""processData.py over hand-made raw files: exact averages, boundary trimming by timestamp,
corrupt files named and skipped, no torch needed."""
import csv
import json
import os

import pytest

from conftest import ROOT, run_script
from layer_stats.layerwise import layout
from layer_stats.layerwise.raw import FORMAT_VERSION, write_lines

SCRIPT = os.path.join(ROOT, "layer_stats", "processedDataGeneration", "processData.py")


def _power(layer, image, t0, samples, idle):
    """A power line; ``samples`` as (t, mW, flag): the flags deliberately disagree with
    the timestamps to show that trimming uses the timestamps."""
    return {"format_version": FORMAT_VERSION, "network": "toynet", "image": image, "device": "cpu",
            "layer": layer, "name": "block{}".format(layer), "batch_size": 1, "telemetry": "replay",
            "board": "tx2", "params": {"VDD_SYS_CPU": ["VDD_SYS_CPU_mW"]}, "t_start": t0, "t_end": t0 + 1.0,
            "boundary_s": 0.2, "duration_s": 0.6, "iterations": 10,
            "samples": [{"t": t, "boundary": flag, "values": {"VDD_SYS_CPU_mW": mw}} for t, mw, flag in samples],
            "idle": {"t_start": t0 - 3, "t_end": t0 - 1, "n": 50, "values": {"VDD_SYS_CPU_mW": idle}},
            "settle_s": 0.4, "settled": True, "power_sampler": "tegrastats"}


def _latency(layer, image, samples, device="cpu", network="toynet"):
    return {"format_version": FORMAT_VERSION, "network": network, "image": image, "device": device,
            "layer": layer, "name": "x", "batch_size": 1, "telemetry": "replay", "board": "tx2",
            "input_shape": [1, 3, 224, 224], "warmup": 2, "samples_s": samples}


@pytest.fixture
def dataset(tmp_path):
    root = str(tmp_path / "Dataset")

    def raw(kind, network, image, lines, device="cpu", mode=0):
        write_lines(layout.raw_file(root, mode, device, kind, network, image), lines)

    raw("power", "toynet", "img1", [
        _power(0, "img1", 100.0, [(100.1, 1000, False), (100.3, 2000, True), (100.5, 2200, False),
                                  (100.8, 2400, False), (100.9, 9000, False)], 500),
        _power(1, "img1", 110.0, [(110.3, 1000, False), (110.5, 1200, False), (111.0, 50, False)], 500)])
    raw("power", "toynet", "img2", [
        _power(0, "img2", 200.0, [(200.25, 3000, False), (200.75, 3400, False), (200.85, 100, False)], 700),
        _power(1, "img2", 210.0, [(210.2, 7, False), (210.4, 1100, False)], 700)])
    raw("latency", "toynet", "img1", [_latency(0, "img1", [0.01, 0.02]), _latency(1, "img1", [0.001, 0.003]),
                                      _latency("model", "img1", [0.025, 0.027])])
    raw("latency", "toynet", "img2", [_latency(0, "img2", [0.03]), _latency(1, "img2", [0.002]),
                                      _latency("model", "img2", [0.026])])
    raw("latency", "gpunet", "img1", [_latency(0, "img1", [0.5, 0.7], "cuda", "gpunet")], device="cuda")
    broken = layout.raw_file(root, 0, "cpu", "latency", "broken", "img1")
    os.makedirs(os.path.dirname(broken))
    with open(broken, "w") as handle:
        handle.write(json.dumps(_latency(0, "img1", [0.1])) + "\n" + '{"format_version": 1, "layer": 1, "sam')
    newer = layout.raw_file(root, 0, "cpu", "latency", "future", "img1")
    write_lines(newer, [dict(_latency(0, "img1", [0.1]), format_version=FORMAT_VERSION + 1)])
    return root


def process(*args):
    """Run processData.py with torch made unimportable, as on a laptop without it."""
    return run_script(SCRIPT, *args)


def test_mode_json_is_the_seed_shape_with_exact_means(dataset):
    done = process("--input_root", dataset)
    assert done.returncode == 0, done.stderr
    with open(os.path.join(dataset, "Processed", "Mode0.json")) as handle:
        data = json.load(handle)
    assert list(data) == ["gpunet", "toynet"]
    assert data["gpunet"] == {"gpu": {"latency": {"0": pytest.approx(0.6)}}}
    toy = data["toynet"]["cpu"]
    assert list(toy) == ["power", "latency"]
    # pooled core samples: (2000 + 2200 + 2400 + 3000 + 3400) / 5 and (1000 + 1200 + 1100) / 3
    assert toy["power"] == {"0": {"VDD_SYS_CPU": 2600.0}, "1": {"VDD_SYS_CPU": 1100.0}}
    assert toy["latency"] == {"0": pytest.approx(0.02), "1": pytest.approx(0.002)}


def test_the_tidy_frame_holds_every_sample_once_with_its_labels(dataset):
    from layer_stats.layerwise.postprocess import COLUMNS, samples_frame

    frame, problems = samples_frame(dataset)
    assert list(frame.columns) == list(COLUMNS) and len(problems) == 2  # broken, future
    assert frame["kind"].value_counts().to_dict() == {"power": 13, "latency": 11, "idle": 4}
    window = frame.loc[(frame["kind"] == "power") & (frame["image"] == "img1") & (frame["layer"] == "0")]
    assert window["value"].tolist() == [1000, 2000, 2200, 2400, 9000]
    # by timestamp, (100.2, 100.8]: the first and last samples, not the one the raw file flags
    assert window["boundary"].tolist() == [True, False, False, False, True]
    assert set(window["line"]) == {1} and set(window["key"]) == {"VDD_SYS_CPU_mW"}
    idle = frame.loc[frame["kind"] == "idle"].sort_values(["image", "layer"])
    assert idle["value"].tolist() == [500, 500, 700, 700] and idle["t_s"].isna().all()
    latency = frame.loc[(frame["kind"] == "latency") & (frame["network"] == "toynet") & (frame["layer"] == "model")]
    assert latency["value"].tolist() == [0.025, 0.027, 0.026] and latency["parameter"].isna().all()
    assert set(frame.loc[frame["network"] == "gpunet", "device"]) == {"gpu"}


def test_corrupt_and_newer_files_are_named_and_skipped(dataset):
    done = process("--input_root", dataset)
    assert done.returncode == 0
    assert "broken" + os.sep + "img1.jsonl line 2: not JSON" in done.stderr
    assert "future" + os.sep + "img1.jsonl line 1: format_version {}".format(FORMAT_VERSION + 1) in done.stderr
    with open(os.path.join(dataset, "Processed", "Mode0.json")) as handle:
        assert "broken" not in json.load(handle)


def test_tidy_csv_rows(dataset):
    assert process("--input_root", dataset).returncode == 0
    with open(os.path.join(dataset, "Processed", "LayerStats.csv")) as handle:
        rows = {(r["network"], r["layer"]): r for r in csv.DictReader(handle)}
    assert sorted(rows) == [("gpunet", "0"), ("toynet", "0"), ("toynet", "1"), ("toynet", "model")]
    row = rows[("toynet", "0")]
    assert float(row["latency_mean_s"]) == pytest.approx(0.02)
    assert float(row["latency_median_s"]) == pytest.approx(0.02) and row["latency_n"] == "3"
    assert float(row["VDD_SYS_CPU_mean_mW"]) == 2600.0 and row["VDD_SYS_CPU_n"] == "5"
    assert float(row["VDD_SYS_CPU_idle_mW"]) == 600.0 and float(row["VDD_SYS_CPU_dynamic_mW"]) == 2000.0
    assert float(row["VDD_SYS_CPU_energy_mJ"]) == pytest.approx(52.0)
    assert float(row["VDD_SYS_CPU_dynamic_energy_mJ"]) == pytest.approx(40.0)
    assert row["images"] == "2" and row["telemetry"] == "replay" and row["board"] == "tx2"
    assert "few_samples:VDD_SYS_CPU_mW" in row["flags"] and "latency_unstable" in row["flags"]
    model = rows[("toynet", "model")]
    assert float(model["latency_mean_s"]) == pytest.approx(0.026) and model["VDD_SYS_CPU_mean_mW"] == ""


def test_params_and_modes_are_checked(dataset):
    done = process("--input_root", dataset, "--params", "VDD_IN")
    assert done.returncode == 2 and "parameter VDD_IN not in the raw data: use one of VDD_SYS_CPU" in done.stderr
    done = process("--input_root", dataset, "--modes", "0", "3")
    assert done.returncode == 2 and "mode 3" in done.stderr and "modes found: 0" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_input_root_is_one_line(tmp_path):
    done = process("--input_root", str(tmp_path / "nope"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--input_root" in done.stderr


def _strict_json(path):
    def refuse(name):
        raise AssertionError("{} in {}".format(name, path))
    with open(path) as handle:
        return json.load(handle, parse_constant=refuse)


@pytest.mark.parametrize("kind, mutate, why", [
    ("power", lambda line: line.replace('"t_start":100.0', '"t_start":NaN'), "not JSON (NaN is not a number"),
    ("power", lambda line: line.replace('"t_end":101.0', '"t_end":Infinity'), "not JSON (Infinity is not"),
    ("power", lambda line: line.replace('"t_start":100.0', '"t_start":"100"'), "t_start is not a number"),
    ("power", lambda line: line.replace('"t_start":100.0', '"t_start":null'), "t_start is not a number"),
    ("power", lambda line: line.replace('"samples":[', '"samples":null,"x":['), "samples is not a list"),
    ("power", lambda line: line.replace('{"t":100.1,', '{"t":"soon",'), "a sample is not {t: number"),
    ("power", lambda line: line.replace('"VDD_SYS_CPU_mW":2000', '"VDD_SYS_CPU_mW":"2000"'),
     "a sample's VDD_SYS_CPU_mW is '2000', not a power in mW"),
    ("power", lambda line: line.replace('"params":{"VDD_SYS_CPU":["VDD_SYS_CPU_mW"]}', '"params":{"VDD_SYS_CPU":7}'),
     "params is not {parameter"),
    ("power", lambda line: line.replace('"telemetry":"replay"', '"telemetry":["replay"]'), "telemetry ['replay'] is"),
    ("power", lambda line: line.replace('"layer":0', '"layer":-1'), "layer -1 is not an index"),
    ("power", lambda line: line.replace('"layer":0', '"layer":true'), "layer True is not an index"),
    ("power", lambda line: "[" + line + "]", "not a JSON object"),
    ("latency", lambda line: line.replace('"samples_s":[0.01,0.02]', '"samples_s":[0.01,NaN]'), "not JSON"),
    ("latency", lambda line: line.replace('"samples_s":[0.01,0.02]', '"samples_s":[0.01,"fast"]'),
     "samples_s holds a value"),
    ("latency", lambda line: line.replace('"samples_s":[0.01,0.02]', '"samples_s":{}'), "samples_s is not"),
    ("latency", lambda line: line.replace('"format_version":{}'.format(FORMAT_VERSION), '"format_version":"1"'),
     "format_version '1'"),
    ("latency", lambda line: line.replace('"samples_s":[0.01,0.02]', '"samples_s":[-1e308]'), "samples_s holds"),
])
def test_hostile_raw_content_is_named_skipped_and_the_rest_processed(dataset, kind, mutate, why):
    path = layout.raw_file(dataset, 0, "cpu", kind, "toynet", "img1")
    with open(path) as handle:
        lines = handle.read().splitlines()
    lines[0] = mutate(lines[0])
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    done = process("--input_root", dataset)
    assert done.returncode == 0, done.stderr
    assert "{} line 1: {}".format(path, why) in done.stderr and "Traceback" not in done.stderr
    out = os.path.join(dataset, "Processed")
    data = _strict_json(os.path.join(out, "Mode0.json"))
    _strict_json(os.path.join(out, "Mode0.provenance.json"))
    other = "latency" if kind == "power" else "power"
    assert data["toynet"]["cpu"][other]  # the other kind of the same network is still there
    with open(os.path.join(out, "LayerStats.csv")) as handle:
        text = handle.read()
    assert "nan" not in text.lower() and "inf" not in text.lower()


def test_output_inside_the_raw_data_is_refused(dataset):
    done = process("--input_root", dataset, "--output_root", os.path.join(dataset, "LayerStats", "Mode0"))
    assert done.returncode == 2 and "is inside the raw data" in done.stderr and done.stderr.count("\n") == 1


def test_a_mode_folder_without_raw_files_is_named_not_processed_empty(dataset, tmp_path):
    """A run stopped before its first raw file leaves a Mode folder with only its run file and log."""
    stopped = layout.mode_dir(dataset, 4)
    os.makedirs(stopped)
    with open(os.path.join(stopped, "run-20261128T000000Z.json"), "w") as handle:
        json.dump({"status": "interrupted"}, handle)
    out = str(tmp_path / "out")
    done = process("--input_root", dataset, "--output_root", out)
    assert done.returncode == 0, done.stderr
    assert "Mode4 holds no finished layer-wise raw file" in done.stderr and "(left out)" in done.stderr
    assert os.path.exists(os.path.join(out, "Mode0.json")) and not os.path.exists(os.path.join(out, "Mode4.json"))
    done = process("--input_root", dataset, "--modes", "4", "--output_root", str(tmp_path / "out4"))
    errors = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(errors) == 1 and "leave mode 4 out of --modes" in errors[0]
    alone = str(tmp_path / "alone")
    os.makedirs(layout.mode_dir(alone, 0))
    done = process("--input_root", alone)
    errors = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(errors) == 1 and "rerun the generator's command to finish it" in errors[0]
    assert not os.path.exists(os.path.join(alone, "Processed", "LayerStats.csv"))
