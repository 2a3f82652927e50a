"""Bad input for the multi-DNN scripts, class by class, without torch (every refusal below
comes before a network is built): numbers, model and device lists, the plan's end, telemetry
that cannot serve, the output root, images, files of another plan; and hostile raw files for
postProcessMultinetDB.py (every field it reads).  The many checks of one rule call the
script's ``main`` in this process (:func:`call`); the output root, the lock, the images, a
file of another plan, the seed's dry run and the every-field hostile run start the script
as a user does (:func:`script`)."""
import copy
import csv
import glob
import json
import math
import os
import time

import pytest

from conftest import NO_TORCH, ROOT, corpus_line, run_main, run_script
from layer_stats.fsutil import OutputLock

GENERATOR = os.path.join(ROOT, "multi_network_stats", "MappingDBGenerator.py")
POST = os.path.join(ROOT, "multi_network_stats", "postProcessMultinetDB.py")
SEED_DRY_RUN = ["--jetsonDevice", "Orin", "--mode", "1", "--num_samples", "2000", "--eval_tgr", "--eval_thr",
                "--max_split_nets", "5", "--device_priorities", "0.4,0.6", "--numNetsRange", "2", "6",
                "--single_nets", "--gpu_only_maps", "--samples_per_set", "20", "--seed", "5", "--funcLayerCount",
                "--smpl_duration", "30", "--warmup", "--dry_run"]
#: A small valid plan (4 + 2 mappings, CPU only); bad flags are appended (the last value wins).
BASE = ["--jetsonDevice", "Orin", "--mode", "1", "--num_samples", "2", "--numNetsRange", "2", "2",
        "--samples_per_set", "2", "--single_nets", "--model_list", "mnasnet0_5,squeezenet1_0", "--device_list", "cpu",
        "--smpl_duration", "1", "--tgr_smpl_boundry", "0.3", "--seed", "3", "--eval_thr"]
BLOCKED = NO_TORCH


def script(path, *args, **kwargs):
    """Run ``path ARGS`` as a user does on mode 1, with torch unimportable unless ``blocked`` says."""
    return run_script(path, *args, blocked=kwargs.get("blocked", BLOCKED), env={"FAKE_NVPMODEL_MODE": "1"},
                      timeout=kwargs.get("timeout", 120))


def call(path, *args, **kwargs):
    """:func:`script` in this process (``main(argv)`` through ``cli.run``, see conftest.run_main):
    for the many checks of input; the tests marked "as a user runs it" keep a new interpreter."""
    return run_main(path, *args, blocked=kwargs.get("blocked", BLOCKED), env={"FAKE_NVPMODEL_MODE": "1"})


def assert_one_line_error(done, *fragments):
    """Exit 2, and stderr ends with one ``ERROR:`` line holding every fragment (log lines may come first)."""
    lines = done.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("ERROR: ")]
    assert done.returncode == 2 and errors == lines[-1:] and "Traceback" not in done.stderr, done.stderr[-2000:]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


# -- the generator: numbers ----------------------------------------------------------------------

@pytest.mark.parametrize("flag, values", [
    ("--device_priorities", ["nan,1", "1,inf", "-1,1", "0.4,x"]),
    ("--max_split_nets", ["0", "-2", "nan", "1.5"]),
    ("--smpl_duration", ["nan", "inf", "0", "-1", "1e9"]),
    ("--num_samples", ["-1", "nan", "2.5", "1e999"]),
    ("--samples_per_set", ["0", "inf"]),
    ("--batch_size", ["0", "1000", "1.5", "nan"]),
    ("--start_idx", ["-1", "nan"]),
    ("--seed", ["nan", "inf", "x"]),
    ("--mode", ["-1", "nan"]),
    ("--tgr_interval", ["nan", "0", "-5"]),
    ("--tgr_smpl_boundry", ["nan", "-1", "inf"]),
    ("--cache_mb", ["-1", "nan", "inf"]),
])
def test_every_numeric_flag_refuses_nan_inf_and_out_of_range(tmp_path, flag, values):
    for value in values:
        done = call(GENERATOR, "--output_root", tmp_path, *(BASE + ["--dry_run", "{}={}".format(flag, value)]))
        assert_one_line_error(done, flag, "got '")


def test_num_nets_range_checks_both_values(tmp_path):
    for pair in (["0", "2"], ["2", "nan"], ["3", "2"], ["3", "3"]):
        done = call(GENERATOR, "--output_root", tmp_path, *(BASE + ["--dry_run", "--numNetsRange"] + pair))
        assert_one_line_error(done, "--numNetsRange")


# -- the generator: lists, the plan, telemetry ---------------------------------------------------

@pytest.mark.parametrize("args, fragments", [
    (["--model_list", ""], ["--model_list '' names no model"]),
    (["--model_list", " , "], ["--model_list", "names no model"]),
    (["--model_list", "mnasnet0_5,squeezenet1_0,mnasnet0_5"], ["--model_list names mnasnet0_5 more than once"]),
    (["--model_list", "mnasnet0_5,lenet"], ["unknown model 'lenet'", "layer table"]),
    (["--device_list", "cpu,cpu"], ["--device_list names cpu more than once"]),
    (["--device_list", ","], ["--device_list ',' names no device"]),
    (["--device_list", "cpu,tpu"], ["unknown device 'tpu'"]),
    (["--device_priorities", "1,1"], ["--device_priorities has 2 values for 1 devices"]),
    (["--device_priorities", "0"], ["not all 0"]),
    (["--start_idx", "4"], ["--start_idx 4 is past the plan's end", "4 mappings (indices 0-3)"]),
    (["--eval_tgr", "--simulate", "orin", "--tgr_interval", "600"], ["--tgr_interval 600 ms", "--smpl_duration window (1 s)"]),
    (["--eval_tgr", "--simulate", "orin", "--tgr_params", "VDD_FOO"], ["VDD_FOO"]),
    (["--jetsonDevice", "Tx2", "--simulate", "orin"], ["--jetsonDevice Tx2 but this is orin"]),
])
def test_bad_lists_and_combinations_are_one_line_errors(tmp_path, args, fragments):
    done = call(GENERATOR, "--output_root", tmp_path, *(BASE + ["--dry_run"] + args))
    assert_one_line_error(done, *fragments)


def test_start_idx_past_the_end_of_the_seeds_plan(tmp_path):
    done = call(GENERATOR, "--output_root", tmp_path, *(SEED_DRY_RUN + ["--start_idx", "2046"]))
    assert_one_line_error(done, "--start_idx 2046 is past the plan's end: it has 2046 mappings (indices 0-2045)")
    done = call(GENERATOR, "--output_root", tmp_path, *(SEED_DRY_RUN + ["--start_idx", "2045"]))
    assert done.returncode == 0 and "for 1 mappings" in done.stdout.splitlines()[-1]


def test_replay_log_of_another_board_than_jetson_device(tmp_path):
    from layer_stats.tegrastats.sources import replay_source

    log = tmp_path / "orin.log"
    log.write_text((corpus_line("orinnx16_jp5_datadog-agent.log", 1) + "\n") * 5)
    if replay_source(str(log)).board is None:
        pytest.skip("replay sources do not tell their board yet")
    done = call(GENERATOR, "--output_root", tmp_path, *(BASE + ["--dry_run", "--jetsonDevice", "Tx2",
                                                                  "--replay", log]))
    assert_one_line_error(done, "--jetsonDevice Tx2 but this is orin (the replay telemetry)", "--replay")
    done = call(GENERATOR, "--output_root", tmp_path, *(BASE + ["--dry_run", "--jetsonDevice", "Orin",
                                                                  "--replay", log]))
    assert done.returncode == 0, done.stderr


# -- the generator: output root, lock, images, files of another plan (no measuring) --------------

def _nothing_measured(root):
    folder = os.path.join(str(root), "Multinet", "Mode1")
    return not glob.glob(os.path.join(folder, "run-*.json")) and not glob.glob(os.path.join(folder, "*_class*.json"))


def test_output_root_that_is_a_file(tmp_path):
    afile = tmp_path / "Dataset"
    afile.write_text("x")
    done = script(GENERATOR, "--output_root", afile, *BASE)
    assert_one_line_error(done, "--output_root")


def test_a_second_run_into_a_held_output_root_stops_before_measuring(tmp_path):
    root = tmp_path / "Dataset"
    with OutputLock(str(root)):
        done = script(GENERATOR, "--output_root", root, *BASE)
    assert_one_line_error(done, "another run (pid {}".format(os.getpid()), "--output_root")
    assert _nothing_measured(root)


def test_a_bad_second_image_stops_the_run_before_measuring(tmp_path):
    bad = tmp_path / "notaphoto.jpg"
    bad.write_text("this is text")
    root = tmp_path / "Dataset"
    done = script(GENERATOR, "--output_root", root, *(BASE + ["--imgs", "img1.jpg,{}".format(bad)]))
    assert_one_line_error(done, "cannot read image", "notaphoto.jpg")
    assert _nothing_measured(root)


def test_a_file_of_another_plan_stops_the_run_before_measuring(tmp_path):
    root = tmp_path / "Dataset"
    plan = [json.loads(line) for line in call(GENERATOR, "--output_root", root,
                                              *(BASE + ["--dry_run"])).stdout.splitlines() if line.startswith("{")]
    folder = root / "Multinet" / "Mode1"
    folder.mkdir(parents=True)
    other = {"format_version": 1, "mapping": {"squeezenet1_0": {"17": "cpu"}}, "samplingDuration": 1.0,
             "Device": "Orin", "networks": {"squeezenet1_0": {"batch_size": 1}}}
    assert plan[0]["mapping"] != other["mapping"]
    (folder / plan[0]["file"]).write_text(json.dumps(other))
    done = script(GENERATOR, "--output_root", root, *BASE)
    assert_one_line_error(done, plan[0]["file"], "was measured with mapping", "pass a new --output_root")
    assert json.loads((folder / plan[0]["file"]).read_text()) == other
    assert not glob.glob(str(folder / "run-*.json")) and len(os.listdir(str(folder))) == 2  # and mapping.log


# -- the plan without torch ----------------------------------------------------------------------

def test_seed_dry_run_without_torch_gives_the_plan_made_with_torch(tmp_path):
    pytest.importorskip("torchvision")
    start = time.time()
    without = script(GENERATOR, "--output_root", tmp_path, *SEED_DRY_RUN, blocked=BLOCKED + ("PIL",))
    seconds = time.time() - start
    with_torch = call(GENERATOR, "--output_root", tmp_path, *SEED_DRY_RUN, blocked=())
    assert without.returncode == 0 and with_torch.returncode == 0, without.stderr + with_torch.stderr
    assert without.stdout == with_torch.stdout
    assert len([line for line in without.stdout.splitlines() if line.startswith("{")]) == 2046
    assert seconds < 10, "the torch-free dry run took {:.1f} s".format(seconds)
    assert not os.path.exists(os.path.join(str(tmp_path), "Multinet"))


# -- post-processing: hostile raw content --------------------------------------------------------

def valid_record(index, cls="C"):
    """A raw mapping file as the generator writes it (two networks, one split), made by hand."""
    def stage(key, device, first, last):
        return {"key": key, "device": device, "first_layer": first, "last_layer": last, "infCount": 3,
                "inf_times_s": [0.01, 0.012, 0.011], "transfer_times_s": [0.001, 0.001, 0.002],
                "modelinfo": {"params": 1000, "macs": 200000, "flops": 400000, "flops_are": "x",
                              "backend": "test", "functionalLayerCount": 7}}

    def network(stages):
        return {"image": "img1.jpg", "batch_size": 1, "passes": 3, "throughput_per_s": 3.0, "images_per_s": 3.0,
                "stages": stages}

    name = "{}_Map{}_nm_2_set_0_class{}.json".format("SingleNet" if cls == "A" else "MultiNet", index, cls)
    return {"format_version": 1, "index": index, "class": cls, "k": 2, "set": 0, "file": name,
            "mapping": {"resnet18": {"14": "cpu"}, "alexnet": {"9": "cpu", "21": "cuda"}},
            "samplingDuration": 1.0, "Mode": 1, "Device": "Orin", "board": "orin", "telemetry": "simulated",
            "run": "run-x.json", "window": {"t_start": 1.0, "t_end": 2.0, "settle_s": 0.3},
            "networks": {"resnet18": network([stage("14", "cpu", 0, 13)]),
                         "alexnet": network([stage("9", "cpu", 0, 9), stage("21", "cuda", 10, 20)])},
            "tegrastats": {"interval_ms": 50, "params": [],
                           "samples": [{"t": 1.0 + i, "raw": corpus_line("orinnx16_jp5_datadog-agent.log", 1)}
                                       for i in range(3)]}}


#: Paths (into a raw record) of every value post-processing reads.
READ_PATHS = [
    ["format_version"], ["mapping"], ["mapping", "alexnet"], ["mapping", "alexnet", "21"], ["networks"],
    ["networks", "alexnet"], ["samplingDuration"], ["Mode"], ["Device"], ["class"], ["k"], ["set"], ["file"],
    ["board"], ["telemetry"], ["tegrastats"], ["tegrastats", "params"], ["tegrastats", "samples"],
    ["tegrastats", "samples", 1], ["tegrastats", "samples", 1, "raw"],
    ["networks", "alexnet", "passes"], ["networks", "alexnet", "throughput_per_s"],
    ["networks", "alexnet", "images_per_s"], ["networks", "alexnet", "stages"],
    ["networks", "alexnet", "stages", 1]] + [
    ["networks", "alexnet", "stages", 1, key] for key in ("device", "first_layer", "last_layer", "infCount",
                                                         "inf_times_s", "transfer_times_s", "modelinfo")] + [
    ["networks", "alexnet", "stages", 1, "inf_times_s", 2], ["networks", "alexnet", "stages", 1, "transfer_times_s", 0]
] + [["networks", "alexnet", "stages", 1, "modelinfo", key] for key in ("params", "macs", "flops",
                                                                        "functionalLayerCount")]
HOSTILE = [None, "7", float("nan"), float("inf"), -1, True, [], {}, 1.5, "../x"]
_MISSING = object()


def _mutated(record, path, value):
    out = copy.deepcopy(record)
    target = out
    for key in path[:-1]:
        target = target[key]
    if value is _MISSING:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


def _strict_json(path):
    def refuse(name):
        raise AssertionError("{} holds {}".format(path, name))
    with open(path) as handle:
        return json.loads(handle.read(), parse_constant=refuse)


def _write(folder, name, record):
    with open(os.path.join(folder, name), "w") as handle:
        handle.write(record if isinstance(record, str) else json.dumps(record))


def test_post_processing_survives_hostile_values_in_every_field_it_reads(tmp_path):
    folder = tmp_path / "Multinet" / "Mode1"
    folder.mkdir(parents=True)
    index = 0
    files = {}
    for path in READ_PATHS:
        for value in HOSTILE + [_MISSING]:
            index += 1
            name = valid_record(index)["file"]  # the mutation may hit "file" itself
            files[name] = (path, value)
            _write(str(folder), name, _mutated(valid_record(index), path, value))
    _write(str(folder), valid_record(0, "A")["file"], valid_record(0, "A"))
    done = script(POST, "--input_file_root", tmp_path / "Multinet")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    out = tmp_path / "Multinet" / "Processed"
    processed, rows = set(), []
    for path in glob.glob(str(out / "*" / "Mode1" / "*.json")) + glob.glob(str(out / "*" / "*.json")):
        _strict_json(path)
        if os.path.basename(os.path.dirname(path)) == "Mode1":
            processed.add(os.path.basename(path))
    for path in glob.glob(str(out / "*" / "Mode1.csv")):
        with open(path) as handle:
            rows.extend(csv.DictReader(handle))
    assert valid_record(0, "A")["file"] in processed
    for name, (path, value) in files.items():
        assert (name in processed) != (name in done.stderr), (path, value)
    assert len(rows) == 2 * len(processed)  # a row per network of every processed file, none of a skipped one
    assert not any(v.lower() in ("nan", "inf", "-inf", "infinity") for row in rows for v in row.values())


@pytest.mark.parametrize("path, value, message", [
    (["networks", "alexnet", "stages", 1, "inf_times_s", 2], float("nan"),
     "networks.alexnet.stages[1].inf_times_s[2] is NaN, not a finite number >= 0"),
    (["networks", "alexnet", "throughput_per_s"], float("inf"),
     "networks.alexnet.throughput_per_s is Infinity, not a finite number >= 0"),
    (["networks", "alexnet", "passes"], "3", "networks.alexnet.passes is '3', not an integer >= 0"),
    (["networks", "alexnet", "stages"], [], "networks.alexnet.stages is a list, not a non-empty list"),
    (["samplingDuration"], None, "samplingDuration is null, not a finite number > 0"),
    (["Mode"], 0, "Mode is 0 but the file is in the Mode1 folder"),
    (["Device"], "../../evil", "Device is '../../evil', not a name of letters"),
    (["mapping"], [], "mapping is a list, not an object"),
    (["tegrastats", "samples", 1, "raw"], 5, "tegrastats.samples[1].raw is 5, not a string"),
    (["networks", "alexnet", "stages", 1, "modelinfo", "macs"], "1 G",
     "networks.alexnet.stages[1].modelinfo.macs is '1 G', not a finite number >= 0"),
    (["networks", "alexnet"], _MISSING, "mapping names alexnet, resnet18 but networks holds resnet18"),
    (["format_version"], 99, "format_version 99 is not one this version reads"),
])
def test_a_hostile_file_is_named_with_what_is_wrong_and_the_rest_processed(tmp_path, path, value, message):
    folder = tmp_path / "Multinet" / "Mode1"
    folder.mkdir(parents=True)
    bad = _mutated(valid_record(5), path, value)
    _write(str(folder), bad["file"], bad)
    _write(str(folder), valid_record(0, "A")["file"], valid_record(0, "A"))
    done = call(POST, "--input_file_root", tmp_path / "Multinet")
    assert done.returncode == 0, done.stderr
    assert "{}: {}".format(os.path.join(str(folder), bad["file"]), message) in done.stderr
    out = tmp_path / "Multinet" / "Processed"
    assert sorted(os.listdir(str(out))) == ["Orin"]
    assert os.listdir(str(out / "Orin" / "Mode1")) == [valid_record(0, "A")["file"]]
    assert os.path.exists(str(out / "Orin" / "Mode1.csv"))
    assert os.path.exists(str(out / "Orin" / "Mode1.provenance.json"))


@pytest.mark.parametrize("text, message", [
    ('{"format_version": 1, "mapping": {', "not readable JSON"),
    ("[1, 2, 3]", "holds list, not a JSON object"),
    ("null", "holds NoneType, not a JSON object"),
    ("", "not readable JSON"),
    ("\udcff\x00binary", "not readable JSON"),
    ("deeply nested", "not readable JSON"),
], ids=["truncated", "list", "null", "empty", "binary", "deep"])
def test_files_that_are_not_json_objects_are_named_and_skipped(tmp_path, text, message):
    if text == "deeply nested":
        text = "[" * 100000 + "]" * 100000
    folder = tmp_path / "Multinet" / "Mode1"
    folder.mkdir(parents=True)
    name = "MultiNet_Map7_nm_2_set_0_classC.json"
    with open(str(folder / name), "w", errors="surrogateescape") as handle:
        handle.write(text)
    _write(str(folder), valid_record(0, "A")["file"], valid_record(0, "A"))
    done = call(POST, "--input_file_root", tmp_path / "Multinet")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "{}: {}".format(os.path.join(str(folder), name), message) in done.stderr


def test_a_nan_written_by_a_careless_tool_never_reaches_an_output(tmp_path):
    folder = tmp_path / "Multinet" / "Mode1"
    folder.mkdir(parents=True)
    record = valid_record(3)
    record["networks"]["alexnet"]["stages"][1]["inf_times_s"][0] = float("nan")
    _write(str(folder), record["file"], json.dumps(record))  # json.dumps writes a bare NaN
    assert "NaN" in (folder / record["file"]).read_text()
    _write(str(folder), valid_record(0, "A")["file"], valid_record(0, "A"))
    done = call(POST, "--input_file_root", tmp_path / "Multinet")
    assert done.returncode == 0 and record["file"] in done.stderr
    for path in glob.glob(str(tmp_path / "Multinet" / "Processed" / "Orin" / "**" / "*.json"), recursive=True):
        _strict_json(path)


def test_a_file_that_turns_bad_loses_its_stale_processed_copy(tmp_path):
    folder = tmp_path / "Multinet" / "Mode1"
    folder.mkdir(parents=True)
    good, later_bad = valid_record(0, "A"), valid_record(4)
    for record in (good, later_bad):
        _write(str(folder), record["file"], record)
    assert call(POST, "--input_file_root", tmp_path / "Multinet").returncode == 0
    out = tmp_path / "Multinet" / "Processed" / "Orin"
    assert sorted(os.listdir(str(out / "Mode1"))) == sorted([good["file"], later_bad["file"]])
    _write(str(folder), later_bad["file"], '{"truncated": ')
    done = call(POST, "--input_file_root", tmp_path / "Multinet")
    assert done.returncode == 0 and later_bad["file"] in done.stderr
    assert os.listdir(str(out / "Mode1")) == [good["file"]]
    with open(str(out / "Mode1.csv")) as handle:
        assert {row["file"] for row in csv.DictReader(handle)} == {good["file"]}


def test_output_root_that_would_overwrite_or_mix_raw_files(tmp_path):
    raw = tmp_path / "Orin"  # a raw root named like a Device folder
    folder = raw / "Mode1"
    folder.mkdir(parents=True)
    record = valid_record(4)
    _write(str(folder), record["file"], record)
    before = (folder / record["file"]).read_text()
    for out, message in ((raw, "is --input_file_root"), (folder / "Processed", "is inside the raw folder"),
                         (folder, "is inside the raw folder"), (tmp_path, "the raw folder")):
        done = call(POST, "--input_file_root", raw, "--output_file_root", out)
        assert_one_line_error(done, message)
        assert (folder / record["file"]).read_text() == before and os.listdir(str(folder)) == [record["file"]]
    done = call(POST, "--input_file_root", raw, "--output_file_root", tmp_path / "elsewhere")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("args, fragment", [
    (["--orinModes", "nan"], "--orinModes"), (["--tx2Modes", "-1"], "--tx2Modes"), (["--xavierModes", "1.5"],
                                                                                    "--xavierModes")])
def test_post_processing_mode_numbers(tmp_path, args, fragment):
    assert_one_line_error(call(POST, "--input_file_root", tmp_path, *args), fragment)


def test_hostile_values_stay_finite_in_the_csv(tmp_path):
    folder = tmp_path / "Multinet" / "Mode1"
    folder.mkdir(parents=True)
    record = valid_record(0, "A")
    record["networks"]["alexnet"]["passes"] = 0
    record["networks"]["alexnet"]["throughput_per_s"] = 0.0
    for stage in record["networks"]["alexnet"]["stages"]:
        stage.update(infCount=0, inf_times_s=[], transfer_times_s=[])
    _write(str(folder), record["file"], record)
    done = call(POST, "--input_file_root", tmp_path / "Multinet")
    assert done.returncode == 0, done.stderr
    sample = _strict_json(str(tmp_path / "Multinet" / "Processed" / "Orin" / "Mode1" / record["file"]))
    assert sample["stageSummary"]["alexnet"]["cpu"]["avgInfTime"] is None
    with open(str(tmp_path / "Multinet" / "Processed" / "Orin" / "Mode1.csv")) as handle:
        rows = {row["network"]: row for row in csv.DictReader(handle)}
    assert rows["alexnet"]["slowdown"] == "" and math.isclose(float(rows["resnet18"]["slowdown"]), 1.0)
