"""The measurement path stays light: the generators and both raw formats run where neither
pandas nor numpy is installed (a Jetson's system Python may lack them); only
post-processing, on a laptop, needs them."""
import os

import pytest

from conftest import NO_TORCH, ROOT, run_script

#: What the board's Python may lack: any import of these on the measurement path fails.
NO_PANDAS = ("pandas", "numpy")
LAYERWISE = os.path.join(ROOT, "layer_stats", "rawDataGeneration", "PowerLatencyDatasetGenerator.py")
MAPPING = os.path.join(ROOT, "multi_network_stats", "MappingDBGenerator.py")

#: Writes and reads back one raw file of each product with the real writers and readers.
RAW_ROUND_TRIP = """
import json, os, sys
from layer_stats.layerwise import layout
from layer_stats.layerwise.raw import FORMAT_VERSION, check_file, read_lines, write_lines
from multi_network_stats import raw as multi_raw

root = sys.argv[1]
line = {"format_version": FORMAT_VERSION, "network": "toynet", "image": "img1", "device": "cpu",
        "layer": 0, "name": "block0", "batch_size": 1, "samples_s": [0.01, 0.02]}
path = layout.raw_file(root, 0, "cpu", "latency", "toynet", "img1")
write_lines(path, [line, dict(line, layer="model", samples_s=[0.05])])
assert read_lines(path, "latency")[1]["samples_s"] == [0.05]
assert check_file(path, "latency") == ("ok", None)

record = {"format_version": multi_raw.FORMAT_VERSION, "class": "A", "mapping": {"toynet": {"3": "cpu"}},
          "samplingDuration": 1.0, "stop": "fixed", "ci_target": None, "Mode": 0, "Device": "Orin",
          "networks": {"toynet": {"passes": 2, "throughput_per_s": 2.0, "ci_rel": None, "stages": [
              {"device": "cpu", "infCount": 2, "inf_times_s": [0.4, 0.5], "transfer_times_s": [0.0, 0.0],
               "first_layer": 0, "last_layer": 3}]}}}
mapping = os.path.join(root, "SingleNet_Map0_nm_1_set_0_classA.json")
multi_raw.write_record(mapping, record)
assert multi_raw.read_raw(mapping, 0) == record
print("round trip ok", sorted(name for name in ("pandas", "numpy") if sys.modules.get(name)))
"""


def test_raw_files_are_written_and_read_without_pandas_or_numpy(tmp_path):
    script = tmp_path / "round_trip.py"
    script.write_text(RAW_ROUND_TRIP)
    done = run_script(str(script), str(tmp_path / "Dataset"), blocked=NO_PANDAS + NO_TORCH)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "round trip ok []"


def test_the_blocked_import_is_seen(tmp_path):
    script = tmp_path / "post.py"
    script.write_text("import multi_network_stats.postprocess\n")
    done = run_script(str(script), blocked=NO_PANDAS)
    assert done.returncode == 1 and "halted; None in sys.modules" in done.stderr and "numpy" in done.stderr


def _raw_path(root, kind):
    return os.path.join(str(root), "LayerStats", "Mode0", "cpu", kind, "squeezenet1_0", "img1.jsonl")


def test_layerwise_dry_run_without_pandas_or_numpy(tmp_path):
    """As on the board: torch and torchvision there (the models are checked), pandas and numpy not."""
    pytest.importorskip("torch")
    out = tmp_path / "Dataset"
    done = run_script(LAYERWISE, "--mode", "0", "--simulate", "tx2", "--models", "squeezenet1_0", "--imgs",
                      "img1.jpg", "--dry_run", "--output_root", out, blocked=NO_PANDAS)
    assert done.returncode == 0, done.stderr[-3000:]
    files = [line.split() for line in done.stdout.splitlines() if not line.startswith("#")]
    assert files == [["todo", _raw_path(out, "latency")], ["todo", _raw_path(out, "power")]]
    estimate = [line for line in done.stdout.splitlines() if line.startswith("#")]
    assert estimate[0] == "# 17 power layers, 18 timed layers still to measure" and "power windows: fixed" in estimate[1]
    assert not out.exists()


def test_multinet_dry_run_without_pandas_or_numpy(tmp_path):
    done = run_script(MAPPING, "--jetsonDevice", "Orin", "--mode", "1", "--num_samples", "2", "--numNetsRange",
                      "2", "2", "--samples_per_set", "1", "--model_list", "squeezenet1_0,mnasnet0_5",
                      "--device_list", "cpu", "--simulate", "orin", "--eval_tgr", "--dry_run", "--output_root",
                      tmp_path / "Dataset", blocked=NO_PANDAS + NO_TORCH, env={"FAKE_NVPMODEL_MODE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "MultiNet_Map" in done.stdout and "Traceback" not in done.stderr
