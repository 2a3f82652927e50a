"""The run session both generators share, in-process with the real simulator: the run file's
status for each way out, the cleanup run whole with signals held, telemetry stopped and no
simulator left, the lock released, the mode check, and the simulator's GPU-load hint."""
import glob
import json
import os
import signal
import time

import pytest

from conftest import FAKE_BIN, ROOT, simulators
from layer_stats.errors import DnnStatsError, Interrupted
from layer_stats.fsutil import OutputLock
from layer_stats.lifecycle import STOP_SIGNALS
from layer_stats.session import RunSession
from layer_stats.tegrastats.parse import parse_line
from layer_stats.tegrastats.simulate import GPU_LOAD_FILE
from layer_stats.tegrastats.sources import replay_source, simulated_source

TX2_ROOT = os.path.join(ROOT, "tests", "fixtures", "jetson_root", "tx2")
TX2_LOG = os.path.join(ROOT, "tests", "fixtures", "tegrastats", "tx2_jp4_ssaraff98-tegrastats-parser.log")


@pytest.fixture(autouse=True)
def fake_nvpmodel(monkeypatch):
    """nvpmodel -q reports mode 0 (MAXN), as on a TX2 set with ``sudo nvpmodel -m 0``."""
    monkeypatch.setenv("PATH", FAKE_BIN + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("FAKE_NVPMODEL_MODE", "0")


def handlers():
    return {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}


def session(root, source=None, mode=0, **kwargs):
    folder = os.path.join(root, "Kind", "Mode{}".format(mode))
    return RunSession("test", root, folder, mode, source, sys_root=TX2_ROOT, **kwargs)


def run_file(root, mode=0):
    (path,) = glob.glob(os.path.join(root, "Kind", "Mode{}".format(mode), "run-*.json"))
    with open(path) as handle:
        return json.load(handle)


def lock_is_free(root):
    with OutputLock(root):
        return True


def stop_myself():
    """SIGTERM to this process, and time for its handler to run."""
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.3)


def assert_closed(run, root, seed):
    """Telemetry stopped, no simulator of ``seed`` left, the GPU-load file gone, the lock
    released, the handlers from before the session back."""
    assert run.recorder._proc.poll() is not None
    time.sleep(0.3)
    assert not simulators(seed)
    assert not os.path.exists(os.path.join(run.folder, GPU_LOAD_FILE))
    assert lock_is_free(root)


def test_a_finished_run_closes_its_file_and_stops_everything(tmp_path):
    root, seed, before = str(tmp_path), 5101, handlers()
    with session(root, simulated_source("tx2", 50, seed=seed)) as run:
        assert run.mode_status == "match" and run.queried == {"id": 0, "name": "MAXN"}
        with pytest.raises(DnnStatsError, match="another run"):  # the root is held
            OutputLock(root).__enter__()
        assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]  # stops are caught
        run.start_telemetry(["cpu"])
        assert run.board == "tx2" and [p.name for p in run.params] == ["VDD_SYS_CPU"] and simulators(seed)
        meta = run.begin(closing=lambda: {"files_written": 3}, device="cpu")
        assert meta["status"] == "running" and run_file(root)["status"] == "running"
        assert run.run_name == os.path.basename(glob.glob(os.path.join(run.folder, "run-*.json"))[0])
    assert run.status == "finished" and handlers() == before
    meta = run_file(root)
    assert meta["status"] == "finished" and meta["end"] >= meta["start"] and meta["kind"] == "test"
    assert (meta["files_written"], meta["device"], meta["board"], meta["tgr_params"]) == (
        3, "cpu", "tx2", ["VDD_SYS_CPU"])
    assert meta["telemetry"] == "simulated" and meta["mode_check"] == "match"
    assert_closed(run, root, seed)


def fail():
    raise ValueError("bad")


@pytest.mark.parametrize("stop, status", [(stop_myself, "interrupted"), (fail, "failed")], ids=["sigterm", "error"])
def test_a_run_ended_by_a_stop_or_an_error_says_so(tmp_path, stop, status):
    root, seed, before = str(tmp_path), 5102 if status == "failed" else 5103, handlers()
    with pytest.raises(Interrupted if status == "interrupted" else ValueError):
        with session(root, simulated_source("tx2", 50, seed=seed)) as run:
            run.start_telemetry(["cpu"])
            run.begin(closing=lambda: {"files_written": 0})
            stop()
            raise AssertionError("not stopped")
    assert run.status == status and handlers() == before
    assert run_file(root)["status"] == status and run_file(root)["files_written"] == 0
    assert_closed(run, root, seed)


def test_a_stop_before_the_run_file_leaves_none(tmp_path):
    root, seed = str(tmp_path), 5104
    with pytest.raises(Interrupted):
        with session(root, simulated_source("tx2", 50, seed=seed)) as run:
            run.start_telemetry(["cpu"])
            stop_myself()
    assert not glob.glob(os.path.join(root, "Kind", "Mode0", "run-*.json"))
    assert_closed(run, root, seed)


def test_a_stop_during_the_cleanup_waits_for_its_end(tmp_path):
    root, seed, before = str(tmp_path), 5105, handlers()
    done = []

    def closing():
        stop_myself()
        done.append(1)  # reached: the signal is held until the cleanup returns
        return {"files_written": 1}

    with pytest.raises(Interrupted) as info:
        with session(root, simulated_source("tx2", 50, seed=seed)) as run:
            run.start_telemetry(["cpu"])
            run.begin(closing=closing)
    assert info.value.signum == signal.SIGTERM and done == [1] and handlers() == before
    assert run_file(root)["status"] == "finished" and run_file(root)["files_written"] == 1  # written whole
    assert_closed(run, root, seed)


def test_a_failing_cleanup_does_not_replace_the_stop(tmp_path, caplog):
    root, seed = str(tmp_path), 5106

    def closing():
        raise OSError(28, "No space left on device")

    with pytest.raises(Interrupted):
        with session(root, simulated_source("tx2", 50, seed=seed)) as run:
            run.start_telemetry(["cpu"])
            run.begin(closing=closing)
            stop_myself()
    assert "cleaning up the interrupted run failed too" in caplog.text and "No space left" in caplog.text
    assert_closed(run, root, seed)  # the steps after the failing one ran too


def test_a_failing_cleanup_of_a_finished_run_is_raised(tmp_path):
    root = str(tmp_path)

    def closing():
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        with session(root) as run:
            run.begin(closing=closing)
    assert run.status == "finished" and lock_is_free(root)


def test_a_mode_mismatch_stops_before_anything_is_taken(tmp_path, monkeypatch):
    root, before = str(tmp_path / "Dataset"), handlers()
    monkeypatch.setenv("FAKE_NVPMODEL_MODE", "1")
    with pytest.raises(DnnStatsError, match="mode mismatch: --mode 0 but nvpmodel reports mode 1"):
        with session(root):
            raise AssertionError("entered")
    assert handlers() == before and not os.path.exists(root)
    with session(root, force_mode=True) as run:
        run.begin()
    assert run_file(root)["mode_check"] == "forced" and run_file(root)["telemetry"] == "none"


def test_a_held_root_is_refused_and_nothing_is_changed(tmp_path):
    root, before = str(tmp_path), handlers()
    with OutputLock(root):
        with pytest.raises(DnnStatsError, match="another run"):
            with session(root):
                raise AssertionError("entered")
    assert handlers() == before


def _gpu_load_seen(recorder, after):
    """GR3D load (%) of the first simulated line stamped after monotonic ``after``."""
    assert recorder.wait_past(after, 5.0)
    return parse_line(recorder.window(after, after + 60, include_next=True)[0].raw)["GR3D_FREQ_util_pct"]


def test_the_simulator_follows_the_gpu_load_of_the_session(tmp_path):
    from layer_stats.clock import monotonic

    root, seed = str(tmp_path), 5107
    hint = os.path.join(root, "Kind", "Mode0", GPU_LOAD_FILE)
    os.makedirs(os.path.dirname(hint))
    with open(hint, "w") as handle:
        handle.write("1\n")  # left by a killed run: must not show a loaded GPU
    with session(root, simulated_source("tx2", 50, seed=seed)) as run:
        assert run.source.gpu_load_file == hint and run.source.argv[-2:] == ["--gpu_load_file", hint]
        assert not os.path.exists(hint)
        run.start_telemetry(["gpu"])
        assert _gpu_load_seen(run.recorder, monotonic()) == 0
        with run.gpu_busy(0.0):
            assert not os.path.exists(hint)  # an idle GPU needs no file
        with run.gpu_busy(1.0):
            with open(hint) as handle:
                assert handle.read() == "1.0\n"
            assert _gpu_load_seen(run.recorder, monotonic() + 0.1) == 100
        assert _gpu_load_seen(run.recorder, monotonic() + 0.1) == 0
    assert_closed(run, root, seed)


def test_other_telemetry_gets_a_hint_that_does_nothing(tmp_path):
    root = str(tmp_path)
    source = replay_source(TX2_LOG, 50, loop=True)
    assert source.following_gpu_load(root) is source and source.gpu_load_hint().path is None
    with session(root, source) as run:
        with run.gpu_busy(1.0):
            assert not os.path.exists(os.path.join(run.folder, GPU_LOAD_FILE))
    with session(root) as run:  # no telemetry at all
        run.start_telemetry(["cpu"])
        assert run.recorder is None
        with run.gpu_busy(1.0):
            assert not os.path.exists(os.path.join(run.folder, GPU_LOAD_FILE))
