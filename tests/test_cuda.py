"""The CUDA paths, end to end on the simulator as a user runs them: layer-wise latency and
power windows with ``--device cuda``, a multi-DNN mapping split between the CPU and the GPU
(with transfers), and a mapping skipped because CUDA ran out of memory.  Skipped on a
host without a CUDA GPU (CI has none: run these on a board or a GPU machine)."""
import csv
import glob
import json
import os
import statistics
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

from conftest import ROOT  # noqa: E402
from layer_stats.layerwise.raw import read_lines  # noqa: E402
from layer_stats.tegrastats.parse import parse_line  # noqa: E402

LAYERWISE = os.path.join(ROOT, "layer_stats", "rawDataGeneration", "PowerLatencyDatasetGenerator.py")
PROCESS = os.path.join(ROOT, "layer_stats", "processedDataGeneration", "processData.py")
MAPPING = os.path.join(ROOT, "multi_network_stats", "MappingDBGenerator.py")
POST = os.path.join(ROOT, "multi_network_stats", "postProcessMultinetDB.py")
TX2_ROOT = os.path.join(ROOT, "tests", "fixtures", "jetson_root", "tx2")
FAKE_BIN = os.path.join(ROOT, "tests", "fixtures", "fake")
MULTINET = ["--jetsonDevice", "Orin", "--mode", "1", "--simulate", "orin", "--eval_tgr", "--eval_thr",
            "--num_samples", "2", "--numNetsRange", "2", "2", "--samples_per_set", "2", "--single_nets",
            "--max_split_nets", "1", "--model_list", "mnasnet0_5,squeezenet1_0", "--device_list", "cpu,cuda",
            "--smpl_duration", "1", "--tgr_smpl_boundry", "0.3", "--funcLayerCount", "--seed", "3"]
#: Runs the script given as the first argument after capping this process's CUDA memory
#: at ``DNN_STATS_TEST_CUDA_BYTES`` bytes.  Below 2 MiB (the caching allocator's smallest
#: segment) every CUDA allocation runs out, so every mapping with a GPU stage does.
CAPPED = ("import os, runpy, sys, torch; "
          "torch.cuda.set_per_process_memory_fraction(int(os.environ['DNN_STATS_TEST_CUDA_BYTES']) / "
          "float(torch.cuda.get_device_properties(0).total_memory)); "
          "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")


def _env(mode, **extra):
    out = dict(os.environ, PATH=FAKE_BIN + os.pathsep + os.environ.get("PATH", ""), FAKE_NVPMODEL_MODE=mode)
    out.pop("DNN_STATS_TEST_DEVICES", None)
    out.update(extra)
    return out


def _run(argv, env=None, timeout=600):
    done = subprocess.run([sys.executable] + argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _load(path):
    with open(path) as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def layerwise_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("cuda_layerwise") / "Dataset")
    _run([LAYERWISE, "--output_root", root, "--mode", "0", "--device", "cuda", "--simulate", "tx2",
          "--models", "resnet18", "--imgs", "img1.jpg", "--eval_latency", "--eval_tgr", "--sys_root", TX2_ROOT,
          "--tgr_smpl_duration", "0.5", "--tgr_smpl_boundry", "0.1", "--idle_duration", "0.4",
          "--lt_smpl_count", "5", "--lt_warmup", "2"], env=_env("0"))
    _run([PROCESS, "--input_root", root])
    return root


def test_layerwise_cuda_latency(layerwise_root):
    lines = read_lines(os.path.join(layerwise_root, "LayerStats", "Mode0", "gpu", "latency", "resnet18",
                                    "img1.jsonl"))
    assert [line["layer"] for line in lines] == list(range(14)) + ["model"]  # resnet18: 14 block layers
    assert all(len(line["samples_s"]) == 5 and min(line["samples_s"]) > 0 for line in lines)
    # every layer is timed between torch.cuda.synchronize() calls: the sum stays near the whole model
    layers_sum = sum(statistics.median(line["samples_s"]) for line in lines[:-1])
    assert 0.2 < layers_sum / statistics.median(lines[-1]["samples_s"]) < 5


def test_layerwise_cuda_power_windows_see_the_gpu(layerwise_root):
    mode_dir = os.path.join(layerwise_root, "LayerStats", "Mode0")
    power = read_lines(os.path.join(mode_dir, "gpu", "power", "resnet18", "img1.jsonl"))
    assert [line["layer"] for line in power] == list(range(14))
    for line in power:
        assert line["params"] == {"VDD_SYS_GPU": ["VDD_SYS_GPU_mW"]}  # TX2 + cuda -> the GPU rail
        assert line["iterations"] >= 1 and line["t_end"] - line["t_start"] >= 0.69
        core = [s["values"]["VDD_SYS_GPU_mW"] for s in line["samples"] if not s["boundary"]]
        # the simulator shows the GPU fully loaded while a layer loops on CUDA (idle ~150 mW, loaded ~6650 mW)
        assert len(core) >= 10 and statistics.median(core) > 3000
    meta = _load(glob.glob(os.path.join(mode_dir, "run-*.json"))[0])
    assert meta["status"] == "finished" and meta["tgr_params"] == ["VDD_SYS_GPU"]
    low, high = meta["clocks_seen_MHz"]["GR3D_FREQ"]
    assert high > low  # minimum clock when idle, top clock while layers ran
    processed = _load(os.path.join(layerwise_root, "Processed", "Mode0.json"))
    assert list(processed) == ["resnet18"] and list(processed["resnet18"]) == ["gpu"]
    assert sorted(processed["resnet18"]["gpu"]["power"], key=int) == [str(i) for i in range(14)]
    with open(os.path.join(layerwise_root, "Processed", "LayerStats.csv")) as handle:
        rows = [row for row in csv.DictReader(handle) if row["layer"] != "model"]
    assert len(rows) == 14 and all(float(r["VDD_SYS_GPU_mean_mW"]) > float(r["VDD_SYS_GPU_idle_mW"]) for r in rows)


@pytest.fixture(scope="module")
def multinet_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("cuda_multinet") / "Dataset")
    _run([MAPPING, "--output_root", root] + MULTINET, env=_env("1"))
    _run([POST, "--orinModes", "1", "--input_file_root", os.path.join(root, "Multinet")])
    return root


def _raw_records(root):
    return {os.path.basename(p): _load(p) for p in glob.glob(os.path.join(root, "Multinet", "Mode1", "*_class*.json"))}


def test_split_mapping_moves_tensors_between_cpu_and_gpu(multinet_root):
    records = _raw_records(multinet_root)
    split = [(name, network, result) for name, record in records.items()
             for network, result in record["networks"].items() if len(result["stages"]) == 2]
    assert split, "the plan has a class D mapping with a network cut between cpu and cuda"
    for name, network, result in split:
        first, second = result["stages"]
        assert {first["device"], second["device"]} == {"cpu", "cuda"}
        assert second["first_layer"] == first["last_layer"] + 1 and result["passes"] >= 1
        for stage in result["stages"]:
            assert len(stage["transfer_times_s"]) == len(stage["inf_times_s"]) == result["passes"]
            assert min(stage["inf_times_s"]) > 0
        # the stage fed across devices pays a real copy (plus a synchronisation)
        assert min(second["transfer_times_s"]) > 0
        lines = [parse_line(s["raw"]) for s in records[name]["tegrastats"]["samples"]]
        assert max(p["GR3D_FREQ_util_pct"] for p in lines) >= 99  # a stage ran on the GPU
        sample = _load(os.path.join(multinet_root, "Multinet", "Processed", "Orin", "Mode1", name))
        summary = sample["stageSummary"][network]
        assert set(summary) == {"cpu", "cuda"} and summary[second["device"]]["avgTransferTime"] > 0
        assert set(sample["ModelInfo"][network]) == {"cpu", "cuda"}


def test_gpu_only_and_single_gpu_mappings_record_cuda(multinet_root):
    records = _raw_records(multinet_root)
    alone_on_gpu = [r for r in records.values() if r["class"] == "A" and
                    all(s["device"] == "cuda" for n in r["networks"].values() for s in n["stages"])]
    assert len(alone_on_gpu) == 2  # mnasnet0_5 and squeezenet1_0, each alone on cuda
    for record in alone_on_gpu:
        (result,) = record["networks"].values()
        assert result["passes"] >= 1 and result["throughput_per_s"] > 0


def test_out_of_memory_skips_the_mapping(tmp_path):
    root = str(tmp_path / "Dataset")
    done = _run(["-c", CAPPED, MAPPING, "--output_root", root] + MULTINET,
                env=_env("1", DNN_STATS_TEST_CUDA_BYTES=str(2 ** 20)))
    records = _raw_records(root)
    meta = _load(glob.glob(os.path.join(root, "Multinet", "Mode1", "run-*.json"))[0])
    assert meta["status"] == "finished" and meta["out_of_memory"]
    for name in meta["out_of_memory"]:
        assert name not in records  # skipped: no file, so a rerun tries it again
    assert records and all(s["device"] == "cpu" for r in records.values() for n in r["networks"].values()
                           for s in n["stages"])  # every mapping with a GPU stage ran out of memory
    with open(os.path.join(root, "Multinet", "Mode1", "mapping.log")) as handle:
        log = handle.read()
    assert "skipped: CUDA out of memory" in log and "Traceback" not in done.stderr
