"""The recorder and the record CLI: time windows, errors, and no child left behind."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import CORPUS, ROOT, cli
from layer_stats.clock import monotonic
from layer_stats.errors import TelemetryError
from layer_stats.tegrastats.parse import parse_line
from layer_stats.tegrastats.recorder import Recorder
from layer_stats.tegrastats.sources import Source, replay_source, simulated_source, tegrastats_source

FAKE = os.path.join(ROOT, "tests", "fixtures", "fake", "dying_tegrastats.py")


def children_of(pid):
    """Live (non-zombie) processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/{}/stat".format(entry)) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (IOError, OSError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


def alive(pid):
    try:
        with open("/proc/{}/stat".format(pid)) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (IOError, OSError):
        return False


def wait_until(predicate, timeout_s=10.0):
    deadline = monotonic() + timeout_s
    while monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_windows_are_cut_by_time():
    with Recorder(simulated_source("tx2", 50, seed=1)) as rec:
        assert rec.wait_for(3, 15)
        t0 = monotonic()
        time.sleep(1.0)
        t1 = monotonic()
        assert rec.wait_past(t1)
        inside = rec.window(t0, t1)
        with_next = rec.window(t0, t1, include_next=True)
        child = rec.pid
        assert alive(child)
    assert not alive(child)
    assert 14 <= len(inside) <= 22  # 1 s at 50 ms, allowing for a loaded CI machine
    assert all(t0 <= s.t_mono <= t1 for s in inside)
    assert with_next[:-1] == inside and with_next[-1].t_mono > t1
    assert [s.t_mono for s in inside] == sorted(s.t_mono for s in inside)
    assert all(abs((s.t_wall - s.t_mono) - (inside[0].t_wall - inside[0].t_mono)) < 1e-6 for s in inside)
    assert all(parse_line(s.raw)["VDD_SYS_CPU_mW"] > 0 for s in inside)


def test_dead_tegrastats_raises_a_clear_error():
    source = Source("tegrastats", [sys.executable, FAKE], None, FAKE, True)
    with Recorder(source) as rec:
        assert wait_until(lambda: rec.ended)
        with pytest.raises(TelemetryError) as err:
            rec.window(0, monotonic())
    message = str(err.value)
    assert "exited with status 1" in message and "Please run as root" in message and "sudo" in message


def test_missing_tegrastats_names_simulate(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("layer_stats.tegrastats.sources._FALLBACK_PATHS", ())
    with pytest.raises(TelemetryError) as err:
        tegrastats_source(20)
    assert "--simulate" in str(err.value)


def test_record_cli_without_tegrastats_fails_at_once(tmp_path):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable))
    out = tmp_path / "run.jsonl"
    result = cli("record", "--out", out, "--duration", 1, env=env)
    if os.path.exists("/usr/bin/tegrastats"):
        pytest.skip("this host has tegrastats")
    assert result.returncode == 2
    assert result.stderr.startswith("ERROR: no tegrastats binary") and "--simulate" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and not out.exists()


def test_record_cli_writes_labelled_samples(tmp_path):
    out = tmp_path / "sub" / "run.jsonl"
    result = cli("record", "--simulate", "xavier", "--interval", 100, "--duration", 1.5, "--out", out)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert 8 <= len(rows) <= 17
    assert all(r["telemetry"] == "simulated" and r["board"] == "xavier" for r in rows)
    assert all(r["unparsed"] == [] and r["raw"] and "CPU_mW" in r for r in rows)
    assert [r["t_mono"] for r in rows] == sorted(r["t_mono"] for r in rows)
    assert not (tmp_path / "sub" / "run.jsonl.partial").exists()


def test_record_cli_replays_a_real_log(tmp_path):
    log = tmp_path / "tx2.log"
    with open(os.path.join(CORPUS, "tx2_jp4_ssaraff98-tegrastats-parser.log")) as handle:
        lines = handle.read().splitlines()[:5]
    log.write_text("\n".join(lines) + "\n")
    out = tmp_path / "replayed.jsonl"
    result = cli("record", "--replay", log, "--interval", 50, "--out", out)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["raw"] for r in rows] == lines
    assert all(r["telemetry"] == "replay" and r["board"] == "tx2" for r in rows)
    gaps = [b["t_mono"] - a["t_mono"] for a, b in zip(rows, rows[1:])]
    assert min(gaps) > 0.02


def test_replay_keeps_the_pace_of_timestamps():
    from layer_stats.tegrastats.replay import _offsets
    lines = ["01-01-2025 00:00:00 RAM 1/2MB"] * 2 + ["01-01-2025 00:00:01 RAM 1/2MB"] + ["01-01-2025 00:00:04 x"]
    assert _offsets(lines, 1.0) == [0.5, 1.0, 2.0, 5.0]
    assert _offsets(["RAM 1/2MB"] * 3, 0.2) == [0.2, 0.4, pytest.approx(0.6)]


def test_replay_of_missing_log_is_an_error():
    with pytest.raises(TelemetryError):
        replay_source("/nonexistent/log")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL],
                         ids=lambda s: signal.Signals(s).name)
def test_no_child_left_after_signal(sig, tmp_path):
    out = tmp_path / "run.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "layer_stats.tegrastats", "record", "--simulate", "tx2",
                             "--interval", "50", "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_until(lambda: children_of(proc.pid)), "the simulator child never started"
        child = children_of(proc.pid)[0]
        partial = tmp_path / "run.jsonl.partial"
        assert wait_until(lambda: partial.exists() and partial.stat().st_size > 0)
        proc.send_signal(sig)
        proc.wait(15)
        assert wait_until(lambda: not alive(child), 10), "simulator child survived " + signal.Signals(sig).name
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if sig == signal.SIGKILL:
        assert partial.exists()  # nothing renamed, nothing lost: the samples so far stay
    else:
        assert proc.returncode == 0
        assert out.exists() and not partial.exists()
        assert all(json.loads(line)["telemetry"] == "simulated" for line in out.read_text().splitlines())


def test_child_dies_with_a_sigkilled_parent_even_when_silent():
    """A child that would not notice a closed pipe (it never writes again) still dies:
    the kernel's parent-death signal, not a broken pipe, ends it."""
    quiet = [sys.executable, "-c", "import time; print('RAM 1/2MB', flush=True); time.sleep(120)"]
    parent_code = (
        "import time\n"
        "from layer_stats.tegrastats.recorder import Recorder\n"
        "from layer_stats.tegrastats.sources import Source\n"
        "rec = Recorder(Source('tegrastats', {argv!r}, None, 'x', True)).start()\n"
        "print(rec.pid, flush=True)\n"
        "time.sleep(120)\n").format(argv=quiet)
    parent = subprocess.Popen([sys.executable, "-c", parent_code], cwd=ROOT, stdout=subprocess.PIPE,
                              universal_newlines=True)
    try:
        child = int(parent.stdout.readline())
        assert alive(child)
        parent.kill()
        parent.wait(10)
        assert wait_until(lambda: not alive(child), 10), "child outlived its SIGKILLed parent"
    finally:
        if parent.poll() is None:
            parent.kill()


@pytest.mark.slow
def test_real_cpu_load_raises_the_simulated_cpu_rail(tmp_path):
    """The README's promise: load the CPU while recording and the CPU rail rises.  Slow: it
    needs an otherwise idle host (on a loaded one the rail is already high: 3,887 mW seen);
    test_simulate.py checks the same rule deterministically on a fake /proc."""
    out = tmp_path / "run.jsonl"
    rec = subprocess.Popen([sys.executable, "-m", "layer_stats.tegrastats", "record", "--simulate", "orin",
                            "--interval", "100", "--duration", "4", "--out", str(out)], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)
    burners = [subprocess.Popen([sys.executable, "-c", "import time\nt=time.monotonic()\n"
                                 "while time.monotonic()-t<1.5: pass"]) for _ in range(os.cpu_count() or 2)]
    for burner in burners:
        burner.wait()
    assert rec.wait(30) == 0, rec.stderr.read()
    rail = [json.loads(line)["VDD_CPU_GPU_CV_mW"] for line in out.read_text().splitlines()]
    assert max(rail) > min(rail) + 2000, rail


@pytest.mark.slow
def test_recorder_keeps_up_at_20ms_and_bounds_memory():
    """30 s at the layer-wise default interval: no lost lines, old samples dropped."""
    with Recorder(simulated_source("tx2", 20, seed=2), max_age_s=5.0) as rec:
        start = monotonic()
        time.sleep(30)
        end = monotonic()
        rec.wait_past(end)
        recent = rec.window(end - 4.0, end)
        assert rec.window(start, start + 10.0) == []  # trimmed: older than max_age_s
        gaps = [b.t_mono - a.t_mono for a, b in zip(recent, recent[1:])]
        assert 150 <= len(recent) <= 210 and max(gaps) < 0.2
        assert all(parse_line(s.raw)["unparsed"] == [] for s in recent)
