"""MappingDBGenerator.py and postProcessMultinetDB.py end to end on the simulator, the
split-stage path on a test device stand-in, ModelInfo against the seed, resume, bad input."""
import csv
import glob
import json
import os
import re
import subprocess
import sys
import time

import pytest

pytest.importorskip("torch")

from conftest import FAKE_BIN, ROOT, kill_after_first_file, mtimes, run_main, run_script, wait_for_files  # noqa: E402
from layer_stats.tegrastats.parse import parse_line  # noqa: E402

GENERATOR = os.path.join(ROOT, "multi_network_stats", "MappingDBGenerator.py")
POST = os.path.join(ROOT, "multi_network_stats", "postProcessMultinetDB.py")
SEED_COMMAND = ["--jetsonDevice", "Orin", "--mode", "1", "--num_samples", "2000", "--eval_tgr", "--eval_thr",
                "--max_split_nets", "5", "--device_priorities", "0.4,0.6", "--numNetsRange", "2", "6",
                "--single_nets", "--gpu_only_maps", "--samples_per_set", "20", "--seed", "5", "--funcLayerCount",
                "--log_level", "INFO", "--smpl_duration", "30", "--warmup"]
#: Keys of the seed's example Tegrastats block, in its order (an Orin NX/Nano).
SEED_TEGRASTATS = ["RAM", "SWAP", "CPU", "EMC_FREQ", "GR3D_FREQ", "NVDEC", "NVJPG", "NVJPG1", "VIC", "OFA", "APE",
                   "CPU Temperature", "SOC 2 Temperature", "SOC 0 Temperature", "GPU Temperature",
                   "Tjunction Temperature", "SOC 1 Temperature", "IN Power", "GPU CPU CV Power", "SOC Power"]


def env(**extra):
    """The fake nvpmodel (mode 1), the ``fakegpu`` stand-in device, and torch on one thread:
    concurrent networks with two intra-op threads each spin against each other on a small
    shared test host (no test here reads a timing as a figure)."""
    out = dict(os.environ, PATH=FAKE_BIN + os.pathsep + os.environ.get("PATH", ""), FAKE_NVPMODEL_MODE="1",
               DNN_STATS_TEST_DEVICES="fakegpu=cpu", OMP_NUM_THREADS="1")
    out.update(extra)
    return out


def generate(root, *args, **kwargs):
    return subprocess.run([sys.executable, GENERATOR, "--output_root", root] + list(args), env=env(), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=kwargs.get("timeout", 300))


def post(*args):
    return run_script(POST, *args)


#: 1 s windows (a whole number of seconds, as the seed's samplingDuration) after 0.1 s settling.
SMALL = ["--jetsonDevice", "Orin", "--mode", "1", "--num_samples", "2", "--eval_tgr", "--eval_thr",
         "--numNetsRange", "2", "2", "--samples_per_set", "2", "--single_nets", "--max_split_nets", "1",
         "--model_list", "mnasnet0_5,squeezenet1_0", "--smpl_duration", "1", "--tgr_smpl_boundry", "0.1",
         "--funcLayerCount", "--seed", "3", "--simulate", "orin", "--warmup"]


@pytest.fixture(scope="module")
def run_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("multinet") / "Dataset")
    done = generate(root, *(SMALL + ["--device_list", "cpu,fakegpu", "--power_sampler", "tegrastats"]))
    assert done.returncode == 0, done.stderr[-3000:]
    processed = post("--orinModes", "1", "--input_file_root", os.path.join(root, "Multinet"))
    assert processed.returncode == 0, processed.stderr
    return root


def _raw(root):
    files = sorted(glob.glob(os.path.join(root, "Multinet", "Mode1", "*_class*.json")))
    out = {}
    for path in files:
        with open(path) as handle:
            out[os.path.basename(path)] = json.load(handle)
    return out


def _processed(root, name):
    with open(os.path.join(root, "Multinet", "Processed", "Orin", "Mode1", name)) as handle:
        return json.load(handle)


def _mean(values):
    return sum(values) / float(len(values))


def test_a_dry_run_counts_the_files_there_and_stops_on_other_settings(run_root):
    planned = len(_raw(run_root))
    same = run_main(GENERATOR, "--output_root", run_root, *(SMALL + ["--device_list", "cpu,fakegpu", "--dry_run"]),
                    env=env(), blocked=())
    assert same.returncode == 0, same.stderr
    lines = same.stdout.splitlines()
    assert "# files already in {}: {} done (a run skips them), 0 unreadable".format(
        os.path.join(run_root, "Multinet", "Mode1"), planned) in lines[-2]
    assert lines[-1].startswith("# estimated device time: 0.0 h (0 s) for 0 mappings")
    other = run_main(GENERATOR, "--output_root", run_root, *(SMALL + ["--device_list", "cpu,fakegpu", "--dry_run",
                                                                      "--smpl_duration", "2"]), env=env(), blocked=())
    errors = [line for line in other.stderr.splitlines() if "ERROR" in line]
    assert other.returncode == 2 and len(errors) == 1 and "was measured with --smpl_duration 1" in errors[0]
    assert errors[0].startswith("ERROR: ") and "Traceback" not in other.stderr and len(_raw(run_root)) == planned


def test_raw_files_follow_the_plan(run_root):
    raw = _raw(run_root)
    assert sorted(raw) == sorted(["SingleNet_Map0_nm_1_set_0_classA.json", "SingleNet_Map1_nm_1_set_1_classA.json",
                                  "SingleNet_Map2_nm_1_set_2_classA.json", "SingleNet_Map3_nm_1_set_3_classA.json",
                                  "MultiNet_Map4_nm_2_set_0_classC.json", "MultiNet_Map5_nm_2_set_0_classD.json"])
    assert not os.path.exists(os.path.join(run_root, "Multinet", "Mode1", ".simulated_gpu_load"))  # removed at the end
    for record in raw.values():
        assert record["telemetry"] == "simulated" and record["board"] == "orin" and record["Device"] == "Orin"
        assert len(record["tegrastats"]["samples"]) >= 10  # 50 ms interval over a 1 s window
        times = [s["t"] for s in record["tegrastats"]["samples"]]
        assert times[0] >= record["window"]["t_start"] and times[-1] > record["window"]["t_end"]
        for result in record["networks"].values():
            assert result["passes"] >= 1
            assert result["throughput_per_s"] == pytest.approx(result["passes"] / 1.0)
            assert result["images_per_s"] == result["throughput_per_s"]  # batch size 1
            for stage in result["stages"]:
                assert len(stage["inf_times_s"]) == len(stage["transfer_times_s"]) == stage["infCount"] == result["passes"]


def test_split_network_runs_stages_on_two_devices(run_root):
    record = _raw(run_root)["MultiNet_Map5_nm_2_set_0_classD.json"]
    split = [n for n, stages in record["mapping"].items() if len(stages) == 2]
    assert len(split) == 1
    network = split[0]
    stages = record["networks"][network]["stages"]
    assert {s["device"] for s in stages} == {"cpu", "fakegpu"}
    assert stages[0]["first_layer"] == 0 and stages[1]["first_layer"] == stages[0]["last_layer"] + 1
    assert [s["key"] for s in stages] == list(record["mapping"][network])
    alone = [r for r in _raw(run_root).values() if r["class"] == "A" and network in r["mapping"]][0]
    whole = alone["networks"][network]["stages"][0]["modelinfo"]
    assert sum(s["modelinfo"]["params"] for s in stages) == whole["params"]
    assert sum(s["modelinfo"]["macs"] for s in stages) == whole["macs"]
    assert sum(s["modelinfo"]["functionalLayerCount"] for s in stages) == whole["functionalLayerCount"]
    sample = _processed(run_root, "MultiNet_Map5_nm_2_set_0_classD.json")
    assert set(sample["stageSummary"][network]) == {"cpu", "fakegpu"}
    assert set(sample["ModelInfo"][network]) == {"cpu", "fakegpu"}


def test_processed_sample_matches_the_raw_file_field_by_field(run_root):
    from multi_network_stats.modelinfo import human

    for name, record in _raw(run_root).items():
        sample = _processed(run_root, name)
        assert list(sample) == ["mapping", "stageSummary", "samplingDuration", "Mode", "Device", "Tegrastats",
                                "ModelInfo"]
        assert sample["mapping"] == record["mapping"]
        assert (sample["samplingDuration"], sample["Mode"], sample["Device"]) == (1, 1, "Orin")
        for network, result in record["networks"].items():
            for stage in result["stages"]:
                summary = sample["stageSummary"][network][stage["device"]]
                assert summary["infCount"] == stage["infCount"]
                assert summary["avgInfTime"] == pytest.approx(_mean(stage["inf_times_s"]))
                assert summary["avgTransferTime"] == pytest.approx(_mean(stage["transfer_times_s"]))
                info = sample["ModelInfo"][network][stage["device"]]
                mi = stage["modelinfo"]
                assert info == {"params": human(mi["params"]), "macs": human(mi["macs"]),
                                "flops": human(mi["flops"]), "functionalLayerCount": mi["functionalLayerCount"]}
        lines = [parse_line(s["raw"]) for s in record["tegrastats"]["samples"]]
        tegra = sample["Tegrastats"]
        assert [k for k in tegra if k != "SWAP"] == [k for k in SEED_TEGRASTATS if k != "SWAP"]
        assert tegra["RAM"] == pytest.approx(_mean([p["RAM_used_MB"] for p in lines]), abs=1e-4)
        assert tegra["IN Power"] == pytest.approx(_mean([p["VDD_IN_mW"] for p in lines]), abs=1e-4)
        assert tegra["CPU Temperature"] == pytest.approx(_mean([p["temp_cpu_C"] for p in lines]), abs=1e-4)
        assert tegra["CPU"]["Utilization"]["max"] == [max(p["CPU{}_util_pct".format(i)] for p in lines)
                                                      for i in range(6)]
        assert tegra["EMC_FREQ"]["Frequencies"]["min"] == min(p["EMC_FREQ_freq_MHz"] for p in lines)
        assert tegra["NVDEC"] == "off" and tegra["APE"] == 200.0
        on_gpu = any(s["device"] != "cpu" for r in record["networks"].values() for s in r["stages"])
        if on_gpu:  # the runner tells the simulator when a stage runs off the CPU
            assert tegra["GR3D_FREQ"]["Utilization"]["avg"] > 50
        else:
            assert tegra["GR3D_FREQ"]["Utilization"]["max"] == 0


def test_mode_csv_has_throughput_and_slowdown(run_root):
    with open(os.path.join(run_root, "Multinet", "Processed", "Orin", "Mode1.csv")) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 + 2 * 2
    for row in rows:
        if row["class"] == "A":
            assert float(row["slowdown"]) == 1.0
        if row["class"] == "C":  # whole on one device, and its class A run exists
            assert float(row["slowdown"]) == pytest.approx(float(row["alone_throughput_per_s"]) /
                                                           float(row["throughput_per_s"]))
        assert float(row["IN_Power_mW"]) > 0 and row["telemetry"] == "simulated"
    with open(os.path.join(run_root, "Multinet", "Processed", "Orin", "Mode1.provenance.json")) as handle:
        assert json.load(handle)["simulated"] is True


def test_run_file_records_the_run(run_root):
    from multi_network_stats.modelinfo import flops_backend

    (path,) = glob.glob(os.path.join(run_root, "Multinet", "Mode1", "run-*.json"))
    with open(path) as handle:
        meta = json.load(handle)
    assert meta["status"] == "finished" and meta["kind"] == "multinet" and meta["files_written"] == 6
    assert meta["mode_check"] == "match" and meta["telemetry"] == "simulated"
    assert meta["flops_backend"] == flops_backend()
    # each network built once (before the first mapping), then reused by all 9 of its uses (warm-up included)
    assert meta["network_builds"] == 2 and meta["network_cache_hits"] == 9 and meta["networks_evicted"] == 0
    assert meta["test_device_stand_ins"] == "fakegpu=cpu"
    with open(os.path.join(run_root, "Multinet", "Mode1", "mapping.log")) as handle:
        assert "warm-up: running SingleNet_Map0_nm_1_set_0_classA.json once, not recorded" in handle.read()


def test_out_of_memory_is_recognised():
    from multi_network_stats.execute import is_out_of_memory

    assert is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB"))
    assert not is_out_of_memory(RuntimeError("shape mismatch")) and not is_out_of_memory(MemoryError())


@pytest.mark.parametrize("name, params, macs", [("alexnet", 61.1e6, 714.19e6), ("mobilenet_v2", 3.5e6, 300.77e6),
                                                ("mnasnet1_0", 4.38e6, 314.42e6), ("resnet50", 25.56e6, 4.09e9)])
def test_model_info_reproduces_the_seeds_figures(name, params, macs):
    import torch

    from layer_stats.models import build_model, split_model
    from multi_network_stats.modelinfo import stage_info

    chain = split_model(build_model(name))
    info = stage_info(torch.nn.Sequential(*chain.layers), torch.randn(1, 3, 224, 224))
    assert info["params"] == pytest.approx(params, rel=0.01) and info["macs"] == pytest.approx(macs, rel=0.01)


def test_dry_run_of_the_seed_command(tmp_path):
    done = generate(str(tmp_path), *(SEED_COMMAND + ["--dry_run"]))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    plan = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(plan) == 2000 + 23 * 2  # num_samples plus every model alone on cpu and cuda
    assert {p["class"] for p in plan} == {"A", "B", "C", "D"}
    assert set(plan[0]) == {"file", "class", "set", "mapping"}
    assert plan[-1]["file"].startswith("MultiNet_Map2045_nm_6_set_")
    assert lines[-1].startswith("# estimated device time: ") and "2046 mappings" in lines[-1]
    assert not os.path.exists(os.path.join(str(tmp_path), "Multinet"))


@pytest.mark.parametrize("args, message", [
    (["--numNetsRange", "4", "2"], "--numNetsRange 4 2"),
    (["--device_priorities", "0.4,0.3,0.3"], "--device_priorities has 3 values for 2 devices"),
    (["--model_list", "resnet18,lenet"], "unknown model 'lenet'"),
    (["--jetsonDevice", "Tx2"], "--jetsonDevice Tx2 but this is orin"),
])
def test_bad_combinations_fail_at_once(tmp_path, args, message):
    done = run_main(GENERATOR, "--output_root", str(tmp_path), *(SMALL + ["--device_list", "cpu,fakegpu"] + args),
                    env=env(), blocked=())
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_cuda_without_a_gpu_fails_unless_dry_run(tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this host has CUDA")
    done = generate(str(tmp_path), *SMALL)  # default --device_list cpu,cuda
    assert done.returncode == 2 and "--device_list asks for cuda" in done.stderr


def _planned_files(args):
    """The raw file names the plan of ``args`` has, in plan order (computed here, no run)."""
    from multi_network_stats import MappingDBGenerator

    return [entry.file for entry in MappingDBGenerator.plan_from_args(MappingDBGenerator._parser().parse_args(args))]


def test_resume_after_kill_and_start_idx(tmp_path):
    root = str(tmp_path / "a")
    # 6 mappings of 0.2 s after 0.05 s settling
    args = [a for a in SMALL if a != "--warmup"] + ["--device_list", "cpu", "--num_samples", "4",
                                                    "--samples_per_set", "1", "--smpl_duration", "0.2",
                                                    "--tgr_smpl_boundry", "0.05"]
    folder = os.path.join(root, "Multinet", "Mode1")
    pattern = os.path.join(folder, "*_class*.json")
    first = kill_after_first_file([sys.executable, GENERATOR, "--output_root", root] + args, env(), pattern)
    assert 1 <= len(first) < 6
    last = os.path.join(folder, _planned_files(args)[-1])  # mappings run in plan order: not done by the killed run
    assert last not in first
    with open(last, "w") as handle:
        handle.write('{"format_version": 1, "mapping": {')  # truncated by hand: not a finished file
    done = generate(root, *args)
    assert done.returncode == 0, done.stderr
    assert mtimes(first) == first
    assert len(glob.glob(pattern)) == 6 and "{} mappings already have files: skipping".format(len(first)) in done.stderr
    assert "set aside as {}.corrupt".format(os.path.basename(last)) in done.stderr
    assert os.path.exists(last + ".corrupt")
    with open(last) as handle:
        assert json.load(handle)["file"] == os.path.basename(last)
    other = str(tmp_path / "b")
    done = generate(other, *(args + ["--start_idx", "4"]))
    assert done.returncode == 0, done.stderr
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(other, "Multinet", "Mode1", "*_class*.json")))
    assert [int(n.split("_Map")[1].split("_")[0]) for n in names] == [4, 5]


def test_sigterm_stops_threads_and_telemetry(tmp_path):
    import signal

    root = str(tmp_path)
    args = SMALL + ["--device_list", "cpu", "--smpl_duration", "20", "--sim_seed", "4242"]
    proc = subprocess.Popen([sys.executable, GENERATOR, "--output_root", root] + args, env=env(), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        wait_for_files(os.path.join(root, "Multinet", "Mode1", "run-*.json"), proc)
        time.sleep(2.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err
    (run_file,) = glob.glob(os.path.join(root, "Multinet", "Mode1", "run-*.json"))
    with open(run_file) as handle:
        assert json.load(handle)["status"] == "interrupted"
    assert not glob.glob(os.path.join(root, "Multinet", "Mode1", "*_class*.json"))
    listing = subprocess.run(["ps", "-ww", "-eo", "args"], stdout=subprocess.PIPE, universal_newlines=True).stdout
    assert "--seed 4242" not in listing


def test_post_processing_skips_corrupt_files(tmp_path, run_root):
    import shutil
    source = os.path.join(run_root, "Multinet", "Mode1")
    target = os.path.join(str(tmp_path), "Multinet", "Mode1")
    shutil.copytree(source, target)
    with open(os.path.join(target, "MultiNet_Map4_nm_2_set_0_classC.json"), "w") as handle:
        handle.write('{"format_version": 1, "mapping": {')
    done = post("--input_file_root", os.path.join(str(tmp_path), "Multinet"))
    assert done.returncode == 0
    assert "MultiNet_Map4_nm_2_set_0_classC.json: not readable JSON" in done.stderr
    out = os.path.join(str(tmp_path), "Multinet", "Processed", "Orin", "Mode1")
    assert len(os.listdir(out)) == 5
    done = post("--tx2Modes", "3", "--input_file_root", os.path.join(str(tmp_path), "Multinet"))
    assert done.returncode == 2 and "no Mode3 folder" in done.stderr


def _shape(value, levels=()):
    """The structure of ``value`` with values replaced by type names, and dict keys at the
    levels named in ``levels`` (network, device, stage) replaced by placeholders."""
    if isinstance(value, dict):
        placeholder = levels[0] if levels else None
        items = [((placeholder or key), _shape(sub, levels[1:])) for key, sub in value.items()]
        return ("dict", sorted(set((k, json.dumps(v)) for k, v in items)) if placeholder else items)
    if isinstance(value, list):
        return ("list", sorted(set(json.dumps(_shape(v)) for v in value)))
    return type(value).__name__


def test_processed_sample_has_the_seeds_golden_shape(run_root):
    with open(os.path.join(ROOT, "tests", "fixtures", "seed", "multinet_sample_orin.json")) as handle:
        golden = json.load(handle)
    sample = _processed(run_root, "MultiNet_Map5_nm_2_set_0_classD.json")
    if "SWAP" not in sample["Tegrastats"]:  # this host has no swap, and tegrastats prints none then
        del golden["Tegrastats"]["SWAP"]
    levels = {"mapping": ("<net>", "<stage>"), "stageSummary": ("<net>", "<device>"),
              "ModelInfo": ("<net>", "<device>")}
    assert list(sample) == list(golden)
    for key in golden:
        assert _shape(sample[key], levels.get(key, ())) == _shape(golden[key], levels.get(key, ())), key
    for network in sample["ModelInfo"].values():
        for info in network.values():
            assert all(re.match(r"^\d+(\.\d+)?( [KMGT])?$", info[k]) for k in ("params", "macs", "flops"))


# -- networks built once: the cache ---------------------------------------------------------------

SMALL_COUNTS = {"squeezenet1_0": 17, "mnasnet0_5": 19, "shufflenet_v2_x0_5": 24}


def _cache(budget, counts=SMALL_COUNTS):
    import torch

    from multi_network_stats.netcache import NetworkCache

    torch.manual_seed(0)
    return NetworkCache(dict(counts), torch.randn(1, 3, 224, 224), True, budget)


def test_network_cache_builds_once_and_drops_the_least_recently_used():
    cache = _cache(10 ** 12)
    squeeze, mnas = cache.get("squeezenet1_0"), cache.get("mnasnet0_5")
    assert cache.get("squeezenet1_0") is squeeze and (cache.builds, cache.hits) == (2, 1)
    assert squeeze.nbytes == 4 * 1248424  # squeezenet1_0's float32 parameters (it has no buffers)
    cache.budget = squeeze.nbytes + mnas.nbytes
    cache.get("shufflenet_v2_x0_5", keep=("mnasnet0_5",))  # fits before the build: nothing dropped yet
    assert list(cache.nets) == ["mnasnet0_5", "squeezenet1_0", "shufflenet_v2_x0_5"]
    cache.trim()  # after the mapping: mnasnet0_5 was used least recently
    assert list(cache.nets) == ["squeezenet1_0", "shufflenet_v2_x0_5"] and cache.evictions == 1
    cache.budget = 0
    cache.trim(keep=("shufflenet_v2_x0_5",))  # the running mapping's networks stay
    assert list(cache.nets) == ["shufflenet_v2_x0_5"]
    cache.trim()
    assert not cache.nets and cache.total_bytes == 0
    cache.get("squeezenet1_0")
    assert cache.builds == 4


def test_stage_figures_are_the_sums_of_their_layers():
    import torch

    from layer_stats.models import chain_inputs
    from multi_network_stats.modelinfo import stage_info

    cache = _cache(10 ** 12)
    net = cache.get("mnasnet0_5")
    inputs, _ = chain_inputs(net.chain.layers, cache.example)
    for first, last in ((0, 18), (0, 6), (7, 18), (3, 3)):
        layers = net.chain.layers[first:last + 1]
        whole = stage_info(torch.nn.Sequential(*layers), inputs[first], None, layers)
        assert cache.stage_info(net, first, last) == whole


def test_a_network_with_another_layer_count_than_the_plan_stops_the_run():
    from layer_stats.errors import DnnStatsError

    cache = _cache(10 ** 12, {"squeezenet1_0": 16})
    with pytest.raises(DnnStatsError) as err:
        cache.get("squeezenet1_0")
    assert "squeezenet1_0 has 17 block layers" in str(err.value) and "regenerate the table" in str(err.value)


def test_stages_of_later_mappings_reuse_the_cached_layers(monkeypatch):
    from multi_network_stats.stages import build_stages

    monkeypatch.setenv("DNN_STATS_TEST_DEVICES", "fakegpu=cpu")
    cache = _cache(10 ** 12)
    net = cache.get("squeezenet1_0")
    split = build_stages(net.chain, {"5": "cpu", "17": "fakegpu"})
    whole = build_stages(cache.get("squeezenet1_0").chain, {"17": "fakegpu"})
    assert split[0].module[0] is net.chain.layers[0] and split[1].module[-1] is net.chain.layers[-1]
    assert list(whole[0].module) == list(net.chain.layers) and cache.builds == 1


def test_default_budget_is_an_eighth_of_the_memory(tmp_path):
    from multi_network_stats.netcache import FALLBACK_BUDGET, default_budget_bytes

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:        4039540 kB\nMemFree:          100000 kB\n")
    assert default_budget_bytes(str(meminfo)) == 4039540 * 1024 // 8
    assert default_budget_bytes(str(tmp_path / "none")) == FALLBACK_BUDGET
