"""Bad input, class by class: every numeric flag of every script, file-system trouble, images
that collide or cannot be read, one run per output root, progress lines.  Library-level
checks run in-process; the generator's end-to-end refusals are in test_layerwise_input.py."""
import argparse
import errno
import importlib.util
import io
import json
import logging
import os
import warnings

import pytest

from conftest import ROOT, cli
from layer_stats.cli import ArgumentParser, number, number_list
from layer_stats.errors import DnnStatsError
from layer_stats.fsutil import LOCK_NAME, AtomicFile, OutputLock, atomic_write, check_writable
from layer_stats.progress import Progress

SCRIPTS = {
    "layerwise": os.path.join(ROOT, "layer_stats", "rawDataGeneration", "PowerLatencyDatasetGenerator.py"),
    "processData": os.path.join(ROOT, "layer_stats", "processedDataGeneration", "processData.py"),
    "mapping": os.path.join(ROOT, "multi_network_stats", "MappingDBGenerator.py"),
    "postprocess": os.path.join(ROOT, "multi_network_stats", "postProcessMultinetDB.py"),
}


def _load(path):
    spec = importlib.util.spec_from_file_location("script_" + os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parsers():
    """(name, parser) for every script and module command line, sub-commands included."""
    found = []
    for name, path in SCRIPTS.items():
        found.append((name, _load(path)._parser()))
    from layer_stats.models.__main__ import _parser as models_parser
    from layer_stats.tegrastats.__main__ import build_parser
    for name, parser in (("models", models_parser()), ("tegrastats", build_parser())):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for sub in subs:
            found.extend(("{} {}".format(name, cmd), p) for cmd, p in sub.choices.items())
    return found


def _numeric_actions():
    out = []
    for name, parser in _parsers():
        for action in parser._actions:
            if action.option_strings and getattr(action.type, "__name__", "") in ("int", "float", "number",
                                                                                  "number list", "check"):
                out.append((name, parser, action))
    return out


def test_every_numeric_flag_uses_the_checked_number_types():
    loose = ["{} {}".format(name, a.option_strings[0]) for name, _, a in _numeric_actions()
             if a.type in (int, float)]
    assert loose == []


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e999", "x", ""])
def test_every_numeric_flag_refuses_non_finite_values(text):
    actions = _numeric_actions()
    assert len(actions) >= 25
    for name, _, action in actions:
        with pytest.raises(argparse.ArgumentTypeError, match="must be|give comma-separated"):
            action.type(text)


def test_number_types_name_the_rule_and_the_value():
    parser = ArgumentParser(prog="demo")
    parser.add_argument("--duration", type=number(low=0, low_open=True))
    parser.add_argument("--nets", type=number(int, low=1, special=(-1,)))
    parser.add_argument("--weights", type=number_list(low=0))
    assert parser.parse_args(["--nets", "-1", "--weights", "0.4,0.6"]).weights == [0.4, 0.6]
    for argv, text in ((["--duration", "nan"], "argument --duration: must be a number > 0, got 'nan'"),
                       (["--duration", "0"], "must be a number > 0, got '0'"),
                       (["--nets", "0"], "argument --nets: must be an integer >= 1 or -1, got '0'"),
                       (["--nets", "2.5"], "must be an integer"),
                       (["--weights", "nan,1"], "argument --weights: must be a number >= 0, got 'nan'"),
                       (["--weights", ","], "give comma-separated numbers"),
                       (["--bogus"], "unrecognized arguments: --bogus (see demo --help)")):
        with pytest.raises(DnnStatsError) as err:
            parser.parse_args(argv)
        assert text in str(err.value) and "\n" not in str(err.value)


# -- file system ---------------------------------------------------------------------------------

def test_output_root_that_is_or_sits_under_a_file(tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("x")
    with pytest.raises(DnnStatsError, match="is a file, not a folder: pass another --output_root"):
        check_writable(str(afile))
    with pytest.raises(DnnStatsError, match="a part of the path is a file: pass another --output_root"):
        check_writable(str(afile / "Dataset"))
    check_writable(str(tmp_path / "new" / "Dataset"))
    assert os.listdir(str(tmp_path / "new" / "Dataset")) == []


@pytest.mark.parametrize("code, fix", [(errno.EROFS, "read-only"), (errno.ENOSPC, "free some space"),
                                       (errno.EACCES, "permissions")])
def test_unwritable_or_full_output_root_is_one_line(tmp_path, monkeypatch, code, fix):
    real_open = io.open

    def failing_open(path, *args, **kwargs):
        if ".write-probe-" in str(path):
            raise OSError(code, os.strerror(code))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(io, "open", failing_open)
    with pytest.raises(DnnStatsError) as err:
        check_writable(str(tmp_path), "--output_root")
    assert fix in str(err.value) and str(tmp_path) in str(err.value) and "\n" not in str(err.value)


def test_a_full_disk_during_an_atomic_write_leaves_the_target_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "Mode0.json"
    target.write_text("old")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(DnnStatsError, match="No space left on device"):
        atomic_write(str(target), "new")
    assert target.read_text() == "old" and os.listdir(str(tmp_path)) == ["Mode0.json"]


def test_atomic_write_onto_a_folder_names_it(tmp_path):
    (tmp_path / "Mode0.json").mkdir()
    with pytest.raises(DnnStatsError, match="it is a folder"):
        with AtomicFile(str(tmp_path / "Mode0.json")) as handle:
            handle.write("x")


def test_log_file_that_is_a_folder_is_one_line(tmp_path):
    from layer_stats.cli import setup_logging
    with pytest.raises(DnnStatsError, match="--log_file"):
        setup_logging("INFO", str(tmp_path))
    logging.getLogger().handlers[:] = []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_under_the_log_file_is_one_warning_not_a_traceback_per_record(capfd):
    from layer_stats.cli import setup_logging
    handlers = list(logging.getLogger().handlers)
    try:
        setup_logging("INFO", "/dev/full")
        for count in range(3):
            logging.getLogger("layer_stats.test").info("record %d", count)
    finally:
        logging.getLogger().handlers[:] = handlers
    err = capfd.readouterr().err
    assert err.count("WARNING: cannot write the log file /dev/full (No space left on device)") == 1
    assert "Traceback" not in err and "record 2" in err


def test_one_run_per_output_root(tmp_path):
    with OutputLock(str(tmp_path)):
        with pytest.raises(DnnStatsError) as err:
            with OutputLock(str(tmp_path)):
                pass
        assert "another run (pid {} ".format(os.getpid()) in str(err.value)
        assert "pass another --output_root" in str(err.value)
    with OutputLock(str(tmp_path)):  # released on exit
        pass
    assert os.path.isfile(str(tmp_path / LOCK_NAME))


# -- images --------------------------------------------------------------------------------------

def test_two_images_filed_under_one_name_are_refused(tmp_path):
    from layer_stats.models.inputs import IMAGE_DIR, find_images
    other = tmp_path / "img1.png"
    other.write_bytes(b"")
    assert find_images("img1.jpg " + os.path.join(IMAGE_DIR, "img1.jpg")) == [os.path.join(IMAGE_DIR, "img1.jpg")]
    with pytest.raises(DnnStatsError, match="would both be filed as 'img1': rename one"):
        find_images("img1.jpg,{}".format(other))


def test_every_image_is_decoded_before_anything_runs(tmp_path):
    pytest.importorskip("PIL")
    from layer_stats.models.inputs import check_images, find_images
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    with pytest.raises(DnnStatsError, match="cannot read image .*broken.jpg"):
        check_images(find_images("img1.jpg,img2.jpg,{}".format(bad)))


def test_a_huge_image_gives_one_log_line_not_pils_warning(tmp_path, caplog):
    Image = pytest.importorskip("PIL.Image")
    from layer_stats.models.inputs import check_images
    path = str(tmp_path / "huge.png")
    Image.new("L", (10000, 9000)).save(path)  # 90 Mpx: over PIL's warning limit, under its error limit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.WARNING):
            check_images([path])
    assert [r.getMessage() for r in caplog.records] == [
        "image {} is very large (10000 x 9000): decoding it takes a while".format(path)]


# -- progress ------------------------------------------------------------------------------------

def test_progress_off_a_terminal_logs_once_at_the_end_and_says_s_per_file_when_slow(caplog, monkeypatch):
    import layer_stats.progress as progress
    now = [100.0]
    monkeypatch.setattr(progress, "monotonic", lambda: now[0])
    with caplog.at_level(logging.INFO, logger="layer_stats.progress"):
        bar = Progress("layer-wise", total=4, unit="file", every_s=30.0, stream=io.StringIO())
        for _ in range(4):
            now[0] += 40.0
            bar.update()
        bar.close()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "layer-wise: 1 file of 4 (25%) in 40 s (40.0 s/file, about 2.0 min left)"
    assert lines[-1] == "layer-wise: 4 files of 4 (100%) in 2.7 min (40.0 s/file)"
    assert len(lines) == 4  # no second line at 100 %


def test_resuming_with_another_board_is_a_mismatch_but_an_unknown_board_is_not(tmp_path):
    from layer_stats.layerwise.raw import FORMAT_VERSION, check_file, write_lines

    def line(layer, board):
        return {"format_version": FORMAT_VERSION, "layer": layer, "network": "toynet", "board": board,
                "granularity": "block", "samples_s": [0.01]}

    tx2, unknown = str(tmp_path / "tx2.jsonl"), str(tmp_path / "unknown.jsonl")
    write_lines(tx2, [line(0, "tx2"), line("model", "tx2")])
    write_lines(unknown, [line(0, "unavailable"), line("model", "unavailable")])
    assert check_file(tx2, "latency", {"board": "tx2", "granularity": "block"}) == ("ok", None)
    state, why = check_file(tx2, "latency", {"board": "xavier"})
    assert state == "mismatch" and "board 'tx2' where this run asks 'xavier'" in why
    assert check_file(unknown, "latency", {"board": "xavier"}) == ("ok", None)
    state, why = check_file(tx2, "latency", {"granularity": "fine"})
    assert state == "mismatch" and "granularity" in why


def test_an_integer_too_large_for_a_float_is_named_not_a_traceback(tmp_path):
    from layer_stats.layerwise.raw import FORMAT_VERSION, RawFileError, read_lines
    from multi_network_stats.raw import RawFileError as MultiRawFileError, read_raw

    huge = "1" + "0" * 400  # JSON spells it; float() cannot hold it
    path = tmp_path / "img1.jsonl"
    path.write_text('{"format_version": %d, "layer": 0, "samples_s": [0.1, %s]}\n' % (FORMAT_VERSION, huge))
    with pytest.raises(RawFileError, match="line 1: samples_s holds a value that is not a duration in s"):
        read_lines(str(path), "latency")
    record = {"format_version": 2, "class": "A", "mapping": {"n": {"3": "cpu"}}, "samplingDuration": 1.0,
              "Mode": 0, "Device": "Orin", "networks": {"n": {"passes": 1, "throughput_per_s": 1.0, "stages": [
                  {"device": "cpu", "infCount": 1, "inf_times_s": ["HUGE"], "transfer_times_s": [],
                   "first_layer": 0, "last_layer": 3}]}}}
    mapping = tmp_path / "SingleNet_Map0_nm_1_set_0_classA.json"
    mapping.write_text(json.dumps(record).replace('"HUGE"', huge))
    with pytest.raises(MultiRawFileError, match=r"inf_times_s\[0\] is 1000.*, not a finite number >= 0"):
        read_raw(str(mapping), 0)


def test_a_mapping_of_no_network_is_not_a_sample(tmp_path):
    from multi_network_stats.raw import RawFileError, read_raw, write_record

    path = str(tmp_path / "MultiNet_Map3_nm_2_set_0_classC.json")
    write_record(path, {"format_version": 2, "class": "C", "mapping": {}, "networks": {}, "samplingDuration": 1.0,
                        "Mode": 0, "Device": "Orin"})
    with pytest.raises(RawFileError, match="mapping names no network"):
        read_raw(path, 0)


# -- found by a new user's trial of the README ---------------------------------------------------

GENERATOR = os.path.join(ROOT, "layer_stats", "rawDataGeneration", "PowerLatencyDatasetGenerator.py")
PROCESS = os.path.join(ROOT, "layer_stats", "processedDataGeneration", "processData.py")
MULTI = os.path.join(ROOT, "multi_network_stats", "MappingDBGenerator.py")
MULTI_PROCESS = os.path.join(ROOT, "multi_network_stats", "postProcessMultinetDB.py")
COMPAT_RAW = os.path.join(ROOT, "tests", "fixtures", "compat", "raw")
DATA = os.path.join(ROOT, "data")


def _data_files():
    return sorted(os.path.join(folder, name) for folder, _, names in os.walk(DATA) for name in names)


def test_argv_items_split_on_commas_only_so_quoted_names_keep_their_spaces():
    from layer_stats.cli import split_list
    assert split_list(["CPU Power", "GPU Power,IN Power"]) == ["CPU Power", "GPU Power", "IN Power"]
    assert split_list(["/tmp/my photo.jpg"]) == ["/tmp/my photo.jpg"]
    assert split_list("img1.jpg,img2.jpg img3.jpg") == ["img1.jpg", "img2.jpg", "img3.jpg"]


def test_friendly_tgr_params_with_spaces_are_accepted(tmp_path):
    from conftest import run_main
    done = run_main(GENERATOR, "--mode", "0", "--simulate", "tx2", "--models", "squeezenet1_0", "--imgs", "img1.jpg",
                    "--eval_tgr", "--tgr_params", "CPU Power", "GPU Power", "--dry_run", "--output_root",
                    str(tmp_path / "out"), blocked=())
    assert done.returncode == 0, done.stderr
    assert "todo" in done.stdout and "unknown tegrastats parameter" not in done.stderr


@pytest.mark.parametrize("devices", ["cpu,", ",cpu", "cpu,,cpu"])
def test_an_empty_list_entry_is_refused(tmp_path, devices):
    from conftest import run_main
    done = run_main(MULTI, "--jetsonDevice", "Orin", "--mode", "0", "--num_samples", "2", "--device_list", devices,
                    "--dry_run", "--output_root", str(tmp_path / "out"), blocked=())
    assert done.returncode == 2
    assert done.stderr.strip() == "ERROR: --device_list {!r} has an empty entry: remove the extra comma".format(devices)


def test_post_processing_never_writes_into_the_input_images(tmp_path):
    from conftest import run_main
    before = _data_files()
    for script, args in ((PROCESS, ["--input_root", COMPAT_RAW, "--output_root", os.path.join(DATA, "p")]),
                         (MULTI_PROCESS, ["--input_file_root", os.path.join(COMPAT_RAW, "Multinet"),
                                          "--output_file_root", os.path.join(DATA, "imagenet", "p")])):
        done = run_main(script, *args)
        assert done.returncode == 2 and "inside the input images' folder" in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert _data_files() == before


def test_a_log_file_in_the_input_images_is_refused(tmp_path):
    from conftest import run_main
    done = run_main(GENERATOR, "--mode", "0", "--simulate", "tx2", "--models", "squeezenet1_0", "--imgs", "img1.jpg",
                    "--eval_latency", "--output_root", str(tmp_path / "out"),
                    "--log_file", os.path.join(DATA, "imagenet", "new.log"), blocked=())
    assert done.returncode == 2
    assert done.stderr.startswith("ERROR: --log_file ") and "inside the input images' folder" in done.stderr
    assert not os.path.exists(os.path.join(DATA, "imagenet", "new.log"))


def test_tegrastats_parse_never_writes_over_a_file(tmp_path):
    log = os.path.join(ROOT, "tests", "fixtures", "tegrastats", "tx2_jp4_ssaraff98-tegrastats-parser.log")
    out = str(tmp_path / "parsed.csv")
    first = cli("parse", "--format", "csv", "--out", out, log)
    assert first.returncode == 0, first.stderr
    with open(out) as handle:
        text = handle.read()
    again = cli("parse", "--format", "jsonl", "--out", out, log)
    assert again.returncode == 2 and again.stderr.strip().endswith("exists: name a new file, or move the old one away")
    image = os.path.join(DATA, "imagenet", "img1.jpg")
    with open(image, "rb") as handle:
        pixels = handle.read()
    into_data = cli("parse", "--out", image, log)
    assert into_data.returncode == 2 and "inside the input images' folder" in into_data.stderr
    with open(out) as handle:
        assert handle.read() == text
    with open(image, "rb") as handle:
        assert handle.read() == pixels


@pytest.mark.parametrize("blocked, name", [(("pandas",), "pandas"), (("pandas", "numpy"), "numpy")])
def test_a_missing_package_is_one_line_naming_it(tmp_path, blocked, name):
    from conftest import run_main
    done = run_main(PROCESS, "--input_root", COMPAT_RAW, "--output_root", str(tmp_path / "p"), blocked=blocked)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("ERROR: the Python package ") and "is not installed" in line and "pip install" in line
    assert name in line or "pandas" in line


def test_a_missing_torch_is_one_line_naming_where_to_get_it(tmp_path):
    from conftest import run_main
    done = run_main(GENERATOR, "--mode", "0", "--simulate", "tx2", "--models", "squeezenet1_0", "--imgs", "img1.jpg",
                    "--eval_latency", "--output_root", str(tmp_path / "out"), blocked=("torch", "torchvision"))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()[-1:]
    assert line.startswith("ERROR: the Python package 'torch") and "JetPack wheels" in line
    assert "Traceback" not in done.stderr
