"""The layer-wise generator as a user runs it with bad input: one ``ERROR:`` line, exit 2,
nothing measured; stale or corrupt files on resume; one run per output root."""
import glob
import json
import logging
import os
import signal
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("torchvision")

from conftest import run_main, wait_for_files  # noqa: E402
from layer_stats.layerwise.raw import read_lines  # noqa: E402
from layer_stats.errors import DnnStatsError  # noqa: E402
from layer_stats.fsutil import OutputLock  # noqa: E402
from test_bad_input import SCRIPTS, _load  # noqa: E402
from test_layerwise import GENERATOR, QUICK, ROOT, env, generate  # noqa: E402


@pytest.fixture(scope="module")
def generator():
    return _load(SCRIPTS["layerwise"])


def refused(generator, root, *args):
    """Call the generator's ``main`` in-process (as the script does, without a new interpreter
    per case) and return the DnnStatsError it raises."""
    handlers = list(logging.getLogger().handlers)
    try:
        with pytest.raises(DnnStatsError) as err:
            generator.main(["--output_root", root] + QUICK + list(args))
    finally:
        logging.getLogger().handlers[:] = handlers
    assert "\n" not in str(err.value)
    return str(err.value)


def generate_here(root, *args):
    """:func:`~test_layerwise.generate` in this process (conftest.run_main): the same run,
    measuring included, without a new interpreter and torch import."""
    return run_main(GENERATOR, "--output_root", root, *(QUICK + list(args)), blocked=(),
                    env={"FAKE_NVPMODEL_MODE": "0"})


def _one_error_line(done, text):
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and text in errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr


def _measured(root):
    return glob.glob(os.path.join(root, "LayerStats", "Mode0", "*", "*", "*", "*.jsonl")) + \
        glob.glob(os.path.join(root, "LayerStats", "Mode0", "run-*.json"))


@pytest.mark.parametrize("args, text", [
    (["--tgr_smpl_duration", "nan"], "argument --tgr_smpl_duration: must be a number > 0 and <= 86400, got 'nan'"),
    (["--batch_size", "0"], "argument --batch_size: must be an integer >= 1 and <= 256, got '0'"),
    (["--models", ""], "--models is empty"),
    (["--models", " , "], "--models is empty"),
    (["--eval_tgr", "--simulate", "tx2", "--tgr_interval", "300", "--tgr_smpl_duration", "0.5"],
     "--tgr_interval 300 ms leaves fewer than 2 tegrastats samples in the --tgr_smpl_duration window (0.5 s)"),
    (["--eval_tgr", "--simulate", "tx2", "--tgr_interval", "150", "--idle_duration", "0.2"],
     "lower --tgr_interval or raise --idle_duration"),
    (["--imgs", "img1.jpg,img1.png"], "image 'img1.png' not found"),
    (["--weights", "/nonexistent/weights"], "weights path '/nonexistent/weights' does not exist"),
    (["--idle_duration", "1e300"], "argument --idle_duration: must be a number > 0 and <= 86400, got '1e300'"),
    (["--output_root", ""], "argument --output_root/--output-root: give a folder, got an empty name"),
    (["--output_root", os.path.join(ROOT, "data", "imagenet")], "is inside the input images' folder"),
])
def test_bad_options_are_refused_before_anything_is_written(generator, tmp_path, args, text):
    root = str(tmp_path / "Dataset")
    assert text in refused(generator, root, "--mode", "0", "--models", "squeezenet1_0", "--imgs", "img1.jpg",
                           "--eval_latency", *args)
    assert not os.path.exists(root)


@pytest.mark.parametrize("args, text", [
    (["--simulate", "tx2", "--tgr_params", "VDD_FOO"], "unknown tegrastats parameter 'VDD_FOO' for tx2"),
    (["--simulate", "nosuchboard"], "unknown board 'nosuchboard' given to --simulate"),
    (["--log_file", os.path.join(ROOT, "README.md")], "exists and is not a .log file"),
    (["--weights", "/nonexistent/weights"], "does not exist"),
])
def test_a_dry_run_refuses_what_the_run_would_refuse(generator, tmp_path, args, text):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for root in (str(tmp_path / "Dataset"), str(afile)):
        message = refused(generator, root, "--mode", "0", "--models", "squeezenet1_0", "--imgs", "img1.jpg",
                          "--dry_run", *args)
        assert text in message or (root == str(afile) and "is a file, not a folder" in message)
    assert not os.path.exists(str(tmp_path / "Dataset"))


def test_a_refusal_is_one_line_from_the_script(tmp_path):
    done = generate(str(tmp_path / "Dataset"), "--mode", "0", "--models", "", "--eval_latency")
    _one_error_line(done, "--models is empty")


def test_a_bad_second_image_is_found_before_the_first_is_measured(generator, tmp_path):
    bad = tmp_path / "img9.jpg"
    bad.write_bytes(b"\x00" * 100)
    root = str(tmp_path / "Dataset")
    assert "cannot read image {}".format(bad) in refused(
        generator, root, "--mode", "0", "--models", "squeezenet1_0", "--imgs", "img1.jpg,{}".format(bad),
        "--eval_latency")
    assert _measured(root) == []


@pytest.mark.parametrize("where, text", [
    ("file", "is a file, not a folder: pass another --output_root"),
    ("under_file", "a part of the path is a file: pass another --output_root"),
    ("log_dir", "it is a folder: name a file, for --log_file"),
    ("log_input", "is also an input of the run"),
    ("log_raw", "names a data file: name a .log file"),
    ("log_program", "exists and is not a .log file"),
])
def test_unusable_output_paths_are_one_line(generator, tmp_path, where, text):
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    root, extra = str(tmp_path / "Dataset"), []
    if where == "file":
        root = str(afile)
    elif where == "under_file":
        root = str(afile / "Dataset")
    elif where == "log_dir":
        extra = ["--log_file", str(tmp_path)]
    elif where == "log_input":
        extra = ["--log_file", os.path.join(ROOT, "data", "imagenet", "img1.jpg")]
    elif where == "log_raw":
        extra = ["--log_file", os.path.join(root, "LayerStats", "Mode0", "cpu", "latency", "x", "img1.jsonl")]
    else:
        extra = ["--log_file", str(afile)]
    assert text in refused(generator, root, "--mode", "0", "--models", "squeezenet1_0", "--imgs", "img1.jpg",
                           "--eval_latency", *extra)
    assert afile.read_text() == "keep me"


def test_corrupt_files_are_set_aside_and_redone_and_other_settings_stop_the_run(generator, tmp_path, capsys):
    root = str(tmp_path / "Dataset")
    args = ["--mode", "0", "--models", "squeezenet1_0", "--imgs", "img1.jpg,img2.jpg", "--eval_latency"]
    assert generate(root, *args).returncode == 0
    files = sorted(glob.glob(os.path.join(root, "LayerStats", "Mode0", "cpu", "latency", "*", "*.jsonl")))
    truncated, emptied = files
    with open(truncated) as handle:
        text = handle.read()
    with open(truncated, "w") as handle:
        handle.write(text[:len(text) // 2])
    open(emptied, "w").close()
    capsys.readouterr()
    assert generator.main(["--output_root", root] + QUICK + args + ["--dry_run"]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()
            if not line.startswith("#")] == ["redo", "redo"]
    done = generate_here(root, *args)
    assert done.returncode == 0, done.stderr[-2000:]
    for path in files:
        assert len(read_lines(path, "latency")) == 18  # 17 layers + the whole model
        assert os.path.exists(path + ".corrupt")
    for other in (["--granularity", "fine"], ["--batch_size", "2"]):
        before = {p: os.stat(p).st_mtime_ns for p in files}
        assert "measured with other settings" in refused(generator, root, *(args + other))
        assert {p: os.stat(p).st_mtime_ns for p in files} == before


def test_a_second_run_into_the_same_root_is_refused_until_the_first_ends(generator, tmp_path):
    root = str(tmp_path / "Dataset")
    first = subprocess.Popen([sys.executable, GENERATOR, "--output_root", root] + QUICK +
                             ["--mode", "0", "--models", "resnet18", "--imgs", "img1.jpg", "--simulate", "tx2",
                              "--eval_tgr", "--tgr_smpl_duration", "5"],
                             env=env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True)
    try:
        killed, = wait_for_files(os.path.join(root, "LayerStats", "Mode0", "run-*.json"), first)
        assert "another run (pid {} ".format(first.pid) in refused(
            generator, root, "--mode", "0", "--models", "squeezenet1_0", "--imgs", "img2.jpg", "--eval_latency")
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    finally:
        first.kill()
    with OutputLock(root):  # the kernel released the killed run's lock
        pass
    third = generate_here(root, "--mode", "0", "--models", "squeezenet1_0", "--imgs", "img2.jpg", "--eval_latency")
    assert third.returncode == 0, third.stderr[-2000:]
    # both may start in the same second: the third's run file is then run-<same time>-2.json
    finished, = set(glob.glob(os.path.join(root, "LayerStats", "Mode0", "run-*.json"))) - {killed}
    with open(killed) as handle:
        meta = json.load(handle)
    assert meta["status"] == "killed" and meta["closed_by"] == os.path.basename(finished)
    with open(finished) as handle:
        assert json.load(handle)["status"] == "finished"
