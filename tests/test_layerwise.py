"""PowerLatencyDatasetGenerator.py end to end on the simulator, as a user runs it, then
processData.py; mode checks, bad input, resume after a kill, signals, sudo ownership."""
import csv
import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("torch")
pytest.importorskip("torchvision")

from conftest import ROOT, kill_after_first_file, mtimes, run_main, simulators, wait_for_files  # noqa: E402
from layer_stats.layerwise.raw import read_lines
from layer_stats.measure.window import in_core  # noqa: E402

GENERATOR = os.path.join(ROOT, "layer_stats", "rawDataGeneration", "PowerLatencyDatasetGenerator.py")
PROCESS = os.path.join(ROOT, "layer_stats", "processedDataGeneration", "processData.py")
TX2_ROOT = os.path.join(ROOT, "tests", "fixtures", "jetson_root", "tx2")
FAKE_BIN = os.path.join(ROOT, "tests", "fixtures", "fake")
#: Short runs; the wait for power to settle after a layer is cut at 0.5 s (on a busy test host
#: it may never come back near the idle baseline).  Power from tegrastats lines (the power
#: sampler's runs: test_power_layerwise.py).
QUICK = ["--tgr_smpl_duration", "0.3", "--tgr_smpl_boundry", "0.1", "--idle_duration", "0.4",
         "--settle_timeout", "0.5", "--lt_smpl_count", "4", "--lt_warmup", "1", "--sys_root", TX2_ROOT,
         "--power_sampler", "tegrastats"]
#: The full run below: shorter power windows (0.05 s boundaries around 0.2 s measured) and
#: 10 timed runs per layer, whose minimum stays meaningful on a busy host.
WINDOW = ["--tgr_smpl_duration", "0.2", "--tgr_smpl_boundry", "0.05", "--lt_smpl_count", "10"]


def env(mode="0", **extra):
    """The fake nvpmodel reporting ``mode``, and torch on one thread: on a small shared test
    host two intra-op threads spin against every other process, which slows the runs and
    makes a layer's timed runs swing far more than the layer does."""
    out = dict(os.environ, PATH=FAKE_BIN + os.pathsep + os.environ.get("PATH", ""), FAKE_NVPMODEL_MODE=mode,
               OMP_NUM_THREADS="1")
    out.update(extra)
    return out


def generate(root, *args, **kwargs):
    return subprocess.run([sys.executable, GENERATOR, "--output_root", root] + QUICK + list(args),
                          env=kwargs.pop("env", env()), cwd=kwargs.pop("cwd", ROOT), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=kwargs.pop("timeout", 300))


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("layerwise") / "Dataset")
    done = generate(root, "--mode", "0", "--simulate", "tx2", "--models", "regnet_x_400mf",
                    "--imgs", "img1.jpg", "img2.jpg", "--eval_tgr", "--eval_latency", "--sim_seed", "7", *WINDOW)
    assert done.returncode == 0, done.stderr[-3000:]
    processed = subprocess.run([sys.executable, PROCESS, "--input_root", root], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert processed.returncode == 0, processed.stderr
    return root


def test_raw_layout_and_lines(simulated_run):
    base = os.path.join(simulated_run, "LayerStats", "Mode0", "cpu")
    files = sorted(os.path.relpath(p, base) for p in glob.glob(os.path.join(base, "*", "*", "*.jsonl")))
    assert files == [os.path.join(k, "regnet_x_400mf", i + ".jsonl") for k in ("latency", "power")
                     for i in ("img1", "img2")]
    power = read_lines(os.path.join(base, "power", "regnet_x_400mf", "img1.jsonl"))
    assert [p["layer"] for p in power] == list(range(9))
    for line in power:
        assert line["telemetry"] == "simulated" and line["board"] == "tx2"
        assert line["params"] == {"VDD_SYS_CPU": ["VDD_SYS_CPU_mW"]}  # TX2 + cpu -> VDD_SYS_CPU
        assert line["iterations"] >= 1 and line["t_end"] - line["t_start"] >= 0.3
        times = [s["t"] for s in line["samples"]]
        assert times == sorted(times) and times[0] >= line["t_start"] and times[-1] > line["t_end"]
        assert len(times) >= 10  # 20 ms default interval over a 0.3 s window: about 15
        for sample in line["samples"]:
            assert sample["boundary"] == (not in_core(sample["t"], line["t_start"], line["t_end"], 0.05))
        assert line["idle"]["n"] >= 5 and line["idle"]["lead_s"] == 0.4 and line["settle_s"] >= 0
        assert line["idle"]["t_end"] < line["t_start"]
    latency = read_lines(os.path.join(base, "latency", "regnet_x_400mf", "img2.jsonl"))
    assert [line["layer"] for line in latency] == list(range(9)) + ["model"]
    assert all(len(line["samples_s"]) == 10 and min(line["samples_s"]) > 0 for line in latency)
    assert latency[0]["input_shape"] == [1, 3, 224, 224] and latency[-1]["name"] == "whole model"
    layers_sum = sum(min(line["samples_s"]) for line in latency[:-1])
    assert 0.2 < layers_sum / min(latency[-1]["samples_s"]) < 5


def test_run_metadata_and_mode_conf(simulated_run):
    mode_dir = os.path.join(simulated_run, "LayerStats", "Mode0")
    (run_file,) = glob.glob(os.path.join(mode_dir, "run-*.json"))
    with open(run_file) as handle:
        meta = json.load(handle)
    assert meta["status"] == "finished" and meta["end"] >= meta["start"]
    assert meta["telemetry"] == "simulated" and meta["simulated"] is True and meta["board"] == "tx2"
    assert meta["mode"] == 0 and meta["nvpmodel_mode"] == 0 and meta["mode_check"] == "match"
    assert meta["l4t_release"] == "32.7.1" and meta["board_model"] == "quill"
    assert meta["torch"] != "unavailable" and meta["files_written"] == 4
    assert meta["clocks_seen_MHz"]["CPU"][1] >= meta["clocks_seen_MHz"]["CPU"][0] > 0
    assert meta["args"]["models"] == "regnet_x_400mf" and meta["tgr_params"] == ["VDD_SYS_CPU"]
    with open(os.path.join(mode_dir, "Mode0.conf")) as handle:
        assert handle.read().startswith("< POWER_MODEL ID=0 NAME=MAXN >")
    assert os.path.getsize(os.path.join(mode_dir, "layerwise.log")) > 0


def test_processed_values_match_the_raw_files(simulated_run):
    base = os.path.join(simulated_run, "LayerStats", "Mode0", "cpu")
    power = [read_lines(os.path.join(base, "power", "regnet_x_400mf", i + ".jsonl")) for i in ("img1", "img2")]
    latency = [read_lines(os.path.join(base, "latency", "regnet_x_400mf", i + ".jsonl")) for i in ("img1", "img2")]
    with open(os.path.join(simulated_run, "Processed", "Mode0.json")) as handle:
        data = json.load(handle)
    cpu = data["regnet_x_400mf"]["cpu"]
    assert list(data) == ["regnet_x_400mf"] and list(cpu) == ["power", "latency"]
    assert list(cpu["power"]) == [str(i) for i in range(9)] == list(cpu["latency"])
    for layer in range(9):
        core = [s["values"]["VDD_SYS_CPU_mW"] for lines in power for s in lines[layer]["samples"]
                if not s["boundary"]]
        assert cpu["power"][str(layer)] == {"VDD_SYS_CPU": round(sum(core) / len(core), 2)}
        runs = [t for lines in latency for t in lines[layer]["samples_s"]]
        assert cpu["latency"][str(layer)] == pytest.approx(sum(runs) / len(runs), rel=1e-12)
    with open(os.path.join(simulated_run, "Processed", "LayerStats.csv")) as handle:
        rows = list(csv.DictReader(handle))
    assert [r["layer"] for r in rows] == [str(i) for i in range(9)] + ["model"]
    assert all(r["telemetry"] == "simulated" for r in rows)
    dynamic = []
    for row in rows[:-1]:
        mean, idle = float(row["VDD_SYS_CPU_mean_mW"]), float(row["VDD_SYS_CPU_idle_mW"])
        assert float(row["VDD_SYS_CPU_dynamic_mW"]) == pytest.approx(mean - idle)
        assert float(row["VDD_SYS_CPU_energy_mJ"]) == pytest.approx(mean * float(row["latency_mean_s"]))
        dynamic.append(mean - idle)
    # The layers load this host's CPU (one core), which the simulator turns into TX2 power.  Judged over
    # the network: on a host that other jobs already saturate, one short layer can sit at idle.
    assert sum(dynamic) > 0
    with open(os.path.join(simulated_run, "Processed", "Mode0.provenance.json")) as handle:
        assert json.load(handle)["simulated"] is True


def test_rerun_skips_finished_files(simulated_run):
    before = mtimes(glob.glob(os.path.join(simulated_run, "LayerStats", "Mode0", "cpu", "*", "*", "*.jsonl")))
    done = generate(simulated_run, "--mode", "0", "--simulate", "tx2", "--models", "regnet_x_400mf",
                    "--imgs", "img1.jpg,img2.jpg", "--eval_tgr", "--eval_latency", *WINDOW)
    assert done.returncode == 0, done.stderr
    assert mtimes(before) == before
    assert done.stderr.count("skipping (finished by an earlier run)") == 4


@pytest.mark.parametrize("args, expected", [
    (["--mode", "0", "--models", "resnet17", "--eval_latency"], "ERROR: unknown model 'resnet17'"),
    (["--mode", "0", "--models", "resnet18", "--imgs", "dog.jpg", "--eval_latency"],
     "ERROR: image 'dog.jpg' not found"),
    (["--mode", "0", "--models", "resnet18", "--simulate", "tx2", "--eval_tgr", "--tgr_params", "VDD_FOO"],
     "ERROR: unknown tegrastats parameter 'VDD_FOO' for tx2"),
    (["--mode", "1", "--models", "resnet18", "--eval_latency"], "ERROR: mode mismatch: --mode 1 but nvpmodel "
                                                                "reports mode 0 (MAXN): run 'sudo nvpmodel -m 1'"),
    (["--mode", "0", "--models", "resnet18", "--eval_tgr", "--tegrastats", "/nonexistent/tegrastats"],
     "ERROR: tegrastats binary '/nonexistent/tegrastats' is not an executable file"),
])
def test_bad_input_is_one_clear_line(tmp_path, args, expected):
    done = run_main(GENERATOR, "--output_root", str(tmp_path), *(QUICK + args), env=env(), blocked=())
    assert done.returncode == 2
    assert expected in done.stderr and "Traceback" not in done.stderr


def test_cuda_without_a_gpu_is_refused(tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this host has CUDA")
    done = run_main(GENERATOR, "--output_root", str(tmp_path), *(QUICK + ["--mode", "0", "--device", "cuda",
                    "--models", "resnet18", "--eval_latency"]), env=env(), blocked=())
    assert done.returncode == 2 and "ERROR: --device asks for cuda" in done.stderr


def test_force_mode_records_and_says_so(tmp_path):
    done = generate(str(tmp_path), "--mode", "1", "--force_mode", "--models", "squeezenet1_0", "--imgs",
                    "img3.jpg", "--eval_latency")
    assert done.returncode == 0, done.stderr
    (run_file,) = glob.glob(os.path.join(str(tmp_path), "LayerStats", "Mode1", "run-*.json"))
    with open(run_file) as handle:
        meta = json.load(handle)
    assert meta["mode_check"] == "forced" and meta["nvpmodel_mode"] == 0 and meta["telemetry"] == "none"
    assert "mode mismatch" in done.stderr


def _start(root, *args):
    return subprocess.Popen([sys.executable, GENERATOR, "--output_root", root] + QUICK + list(args), env=env(),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)


def test_resume_after_kill(tmp_path):
    root = str(tmp_path)
    args = ["--mode", "0", "--models", "mnasnet0_5,mobilenet_v3_small", "--imgs", "img1.jpg,img2.jpg",
            "--eval_latency", "--lt_smpl_count", "20"]
    pattern = os.path.join(root, "LayerStats", "Mode0", "cpu", "latency", "*", "*.jsonl")
    finished = kill_after_first_file([sys.executable, GENERATOR, "--output_root", root] + QUICK + args, env(),
                                     pattern)
    assert 1 <= len(finished) < 4
    done = generate(root, *args)
    assert done.returncode == 0, done.stderr
    assert mtimes(finished) == finished
    assert done.stderr.count("skipping (finished by an earlier run)") == len(finished)
    assert len(glob.glob(pattern)) == 4
    for path in glob.glob(pattern):
        assert len(read_lines(path)) in (20, 19)  # mnasnet0_5: 19 layers + model; mobilenet_v3_small: 18 + model


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signals_stop_cleanly(tmp_path, signum):
    root = str(tmp_path)
    seed = 4000 + int(signum)
    proc = _start(root, "--mode", "0", "--models", "resnet18", "--imgs", "img1.jpg", "--simulate", "tx2",
                  "--sim_seed", str(seed), "--eval_tgr", "--tgr_smpl_duration", "5")
    try:
        wait_for_files(os.path.join(root, "LayerStats", "Mode0", "run-*.json"), proc)
        time.sleep(1.0)
        assert simulators(seed)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signum, err[-2000:]
    assert "Traceback" not in err
    (run_file,) = glob.glob(os.path.join(root, "LayerStats", "Mode0", "run-*.json"))
    with open(run_file) as handle:
        assert json.load(handle)["status"] == "interrupted"
    assert not glob.glob(os.path.join(root, "LayerStats", "Mode0", "cpu", "power", "*", "*.jsonl"))
    time.sleep(0.5)
    assert not simulators(seed)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_files_belong_to_the_sudo_invoker(tmp_path):
    root = str(tmp_path / "Dataset")
    done = generate(root, "--mode", "0", "--models", "squeezenet1_0", "--imgs", "img1.jpg", "--eval_latency",
                    env=env(SUDO_UID="65534", SUDO_GID="65534"))
    assert done.returncode == 0, done.stderr
    owners = set()
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            st = os.stat(os.path.join(folder, name))
            owners.add((st.st_uid, st.st_gid))
    assert owners == {(65534, 65534)}
