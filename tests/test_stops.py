"""Stops cannot be swallowed: a SIGTERM landing inside torch.fx tracing, ptflops, the
tegrastats parser, logging or a power window ends the block as ``Interrupted`` with
a one-line message, and the signal handlers are back afterwards.

Each in-process test is deterministic: a function deep inside the code under test
is patched to send SIGTERM to this process on its first call, inside
``stop_on_signals()``, exactly where a timer's signal could land.
"""
import glob
import io
import logging
import os
import pickle
import signal
import sys
import time

import pytest

from conftest import ROOT, child, corpus_line, signal_and_wait, simulators
from layer_stats.cli import run
from layer_stats.errors import DnnStatsError, Interrupted
from layer_stats.lifecycle import STOP_SIGNALS, stop_on_signals
from layer_stats.tegrastats import grammar, parse


def sigterm_on_first_call(monkeypatch, owner, name):
    """Patch ``owner.name`` so that its first call sends SIGTERM to this process
    (then carries on, as the real function would); returns the list of calls."""
    original = getattr(owner, name)
    calls = []

    def patched(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)  # the handler runs at the latest here, still inside the patched call
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, patched)
    return calls


def handlers():
    return {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}


def assert_stopped(block, *args, **kwargs):
    """Run ``block`` inside stop_on_signals(); it must end by the SIGTERM, as
    Interrupted with a one-line message, and leave the handlers as they were."""
    before = handlers()
    with pytest.raises(Interrupted) as info:
        with stop_on_signals():
            block(*args, **kwargs)
    assert info.value.signum == signal.SIGTERM
    assert str(info.value) == "stopped by SIGTERM"
    assert handlers() == before
    return info.value


# -- the exception itself and the CLI's report ------------------------------------


def test_interrupted_is_a_base_exception_with_a_fixed_one_line_message():
    stop = Interrupted(signal.SIGTERM)
    assert isinstance(stop, BaseException) and not isinstance(stop, Exception)
    assert not isinstance(stop, DnnStatsError)
    stop.args = ("stopped by SIGTERM\n\nWhile executing %x\nUse tlparse to see full graph.",)
    assert str(stop) == "stopped by SIGTERM" and stop.signame == "SIGTERM"
    copy = pickle.loads(pickle.dumps(Interrupted(signal.SIGHUP)))
    assert copy.signum == signal.SIGHUP and str(copy) == "stopped by SIGHUP"
    assert str(Interrupted(99)) == "stopped by 99"


def test_an_except_exception_handler_cannot_keep_a_stop():
    def swallow():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)
        except Exception:
            pass

    assert_stopped(swallow)


def _exit_status(main, capsys):
    with pytest.raises(SystemExit) as info:
        run(main, [])
    return info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_cli_run_reports_a_stop_on_one_line_built_from_the_signal(capsys, signum):
    def main(argv):
        stop = Interrupted(signum)
        stop.args = ("stopped\nWhile executing %conv\nUse tlparse to see full graph.",)
        raise stop

    code, err = _exit_status(main, capsys)
    assert code == 128 + signum
    assert err == "stopped: {}\n".format(signal.Signals(signum).name)


def test_cli_run_folds_an_error_message_onto_one_line(capsys):
    def main(argv):
        raise DnnStatsError("bad line\nsecond line\r\nthird")

    code, err = _exit_status(main, capsys)
    assert code == 2 and err == "ERROR: bad line second line third\n"


def test_handlers_are_restored_after_a_block_left_normally_or_by_error():
    before = handlers()
    with stop_on_signals():
        assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
    assert handlers() == before
    with pytest.raises(ValueError):
        with stop_on_signals():
            raise ValueError("x")
    assert handlers() == before


# -- the tegrastats parser and logging ------------------------------------------


def test_stop_inside_the_parser_is_not_an_unparsed_entry(monkeypatch):
    line = corpus_line("tx2_jp4_ssaraff98-tegrastats-parser.log")
    calls = sigterm_on_first_call(monkeypatch, grammar, "_token")
    assert_stopped(parse.LineParser().parse, line)
    assert calls == [1]


def test_stop_inside_parse_file(monkeypatch, tmp_path):
    log = tmp_path / "tx2.log"
    log.write_text(corpus_line("tx2_jp4_ssaraff98-tegrastats-parser.log") + "\n")
    sigterm_on_first_call(monkeypatch, parse, "read_tokens")
    assert_stopped(lambda: list(parse.parse_file(str(log))))


def test_stop_inside_a_log_handler(monkeypatch):
    """logging.Handler.emit turns an Exception into "--- Logging error ---"; a stop passes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("test_stops.handler")
    logger.addHandler(handler)
    monkeypatch.setattr(logger, "propagate", False)
    try:
        sigterm_on_first_call(monkeypatch, stream, "write")
        assert_stopped(logger.warning, "a message")
    finally:
        logger.removeHandler(handler)


# -- torch.fx tracing, the fx interpreter, ptflops ------------------------------


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _small_model(torch):
    nn = torch.nn
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 2)).eval()


@pytest.mark.parametrize("granularity", ["fine", "block"])
def test_stop_inside_fx_tracing_is_not_a_trace_error(monkeypatch, torch, granularity):
    import torch.fx as fx
    from layer_stats.models import split

    calls = sigterm_on_first_call(monkeypatch, fx.Tracer, "create_proxy")
    model = _small_model(torch)
    stop = assert_stopped(split.split_model, model, granularity, torch.randn(1, 3, 16, 16))
    assert calls == [1] and "cannot trace" not in str(stop)
    assert model.training is False  # the training flag is restored on the way out


def test_stop_inside_the_fx_interpreter_keeps_its_message(monkeypatch, torch):
    """split_model runs the traced graph through fx.Interpreter, whose handler adds
    "While executing ..." to an Exception's message."""
    from layer_stats.models import split

    sigterm_on_first_call(monkeypatch, torch.nn.ReLU, "forward")
    stop = assert_stopped(split.split_model, _small_model(torch), "fine", torch.randn(1, 3, 16, 16))
    assert "\n" not in str(stop) and "While executing" not in str(stop)


def test_stop_inside_leaf_operations(monkeypatch, torch):
    import torch.fx as fx
    from layer_stats.models import split

    sigterm_on_first_call(monkeypatch, fx.Tracer, "is_leaf_module")
    assert_stopped(split.leaf_operations, _small_model(torch))


def test_stop_inside_densenet_fine_split(monkeypatch, torch):
    """The case of the report: densenet121 at fine granularity, stopped during tracing."""
    torchvision = pytest.importorskip("torchvision")
    import torch.fx as fx
    from layer_stats.models import split

    model = torchvision.models.densenet121(weights=None) if hasattr(torchvision.models, "get_model") else \
        torchvision.models.densenet121()
    original = fx.Tracer.create_proxy
    calls = []

    def late(*args, **kwargs):  # deep into the trace: the 200th node
        calls.append(1)
        if len(calls) == 200:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)
        return original(*args, **kwargs)

    monkeypatch.setattr(fx.Tracer, "create_proxy", late)
    stop = assert_stopped(split.split_model, model, "fine")
    assert "DenseNet" not in str(stop) and len(calls) == 200


def test_stop_inside_stage_info(monkeypatch, torch):
    """The multi-DNN ModelInfo (MACs, parameters, leaf operations) of a stage."""
    from multi_network_stats.modelinfo import stage_info

    model = _small_model(torch)
    calls = sigterm_on_first_call(monkeypatch, torch.nn.Conv2d, "forward")
    assert_stopped(stage_info, model, torch.randn(1, 3, 16, 16), None, [model])
    assert calls == [1]


def _ptflops_backends():
    import inspect

    ptflops = pytest.importorskip("ptflops")
    params = inspect.signature(ptflops.get_model_complexity_info).parameters
    return ["pytorch", "aten"] if "backend" in params else [None]


@pytest.fixture
def unpatched_ptflops():
    """Undo what ptflops' pytorch backend leaves patched when a stop cuts it short."""
    yield
    import torch
    try:
        from ptflops import pytorch_engine
    except ImportError:
        return
    if hasattr(torch.nn.functional.relu, "op") and hasattr(pytorch_engine, "unpatch_functional"):
        pytorch_engine.unpatch_functional()
    if hasattr(torch.matmul, "op") and hasattr(pytorch_engine, "unpatch_tensor_ops"):
        pytorch_engine.unpatch_tensor_ops()


@pytest.mark.parametrize("backend", ["pytorch", "aten"])
def test_stop_inside_ptflops(monkeypatch, torch, backend, unpatched_ptflops):
    """ptflops catches Exception, prints it and returns None: a stop must pass."""
    backends = _ptflops_backends()
    if backend not in backends and backends != [None]:
        pytest.skip("this ptflops has no {} backend".format(backend))
    import ptflops

    kwargs = {"as_strings": False, "print_per_layer_stat": False, "ost": io.StringIO()}
    if backends != [None]:
        kwargs["backend"] = backend
    sigterm_on_first_call(monkeypatch, torch.nn.Conv2d, "forward")
    assert_stopped(ptflops.get_model_complexity_info, _small_model(torch), (3, 16, 16), **kwargs)


# -- a power window ---------------------------------------------------------------


def test_stop_inside_a_timed_layer_loop(torch):
    from layer_stats.measure.power import run_for

    calls = []

    def layer(x):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)
        return x * 2

    assert_stopped(run_for, layer, torch.ones(2), 30.0)
    assert len(calls) == 3


def test_stop_inside_an_idle_baseline_stops_the_telemetry_child(monkeypatch):
    from layer_stats.measure.power import SampleReader, idle_baseline
    from layer_stats.tegrastats.params import resolve_params
    from layer_stats.tegrastats.recorder import Recorder
    from layer_stats.tegrastats.sources import simulated_source

    reader = SampleReader(resolve_params("tx2", ["VDD_SYS_CPU"]))
    sigterm_on_first_call(monkeypatch, grammar, "_token")  # the reader parses the window's lines
    recorder = Recorder(simulated_source("tx2", 50, seed=11))

    def window():
        with recorder:
            assert recorder.wait_for(1, 20)
            idle_baseline(recorder, reader, 0.3, lead_s=0.0)

    assert_stopped(window)
    assert recorder._proc.poll() is not None  # the simulator was stopped on the way out


# -- telemetry: starting it, and the stand-in children ---------------------------------


def test_stop_while_telemetry_starts_stops_the_child(monkeypatch):
    from layer_stats.tegrastats.start import start_telemetry
    from layer_stats.tegrastats.recorder import Recorder
    from layer_stats.tegrastats.sources import simulated_source

    started = []
    original_start = Recorder.start

    def start(self):
        started.append(self)
        return original_start(self)

    monkeypatch.setattr(Recorder, "start", start)
    sigterm_on_first_call(monkeypatch, Recorder, "wait_for")
    assert_stopped(start_telemetry, simulated_source("tx2", 50, seed=12), ["cpu"])
    (recorder,) = started
    assert recorder._proc.poll() is not None


@pytest.mark.parametrize("command", [["simulate", "--board", "tx2", "--interval", "50"],
                                     ["replay", "--loop", "--interval", "50", "LOG"]], ids=["simulate", "replay"])
def test_stand_in_children_end_quietly_on_sigterm(tmp_path, command):
    """The recorder stops its child with SIGTERM: it exits 0 at once, saying nothing."""
    log = tmp_path / "tx2.log"
    log.write_text(corpus_line("tx2_jp4_ssaraff98-tegrastats-parser.log") + "\n")
    argv = [sys.executable, "-m", "layer_stats.tegrastats"] + [str(log) if a == "LOG" else a for a in command]
    with child(argv) as proc:
        assert proc.stdout.readline().startswith("RAM ")
        err = signal_and_wait(proc, signal.SIGTERM, 20)
    assert proc.returncode == 0 and err == ""


# -- the layer-wise generator, stopped by a real SIGTERM while it traces ----------

GENERATOR = os.path.join(ROOT, "layer_stats", "rawDataGeneration", "PowerLatencyDatasetGenerator.py")
FAKE_BIN = os.path.join(ROOT, "tests", "fixtures", "fake")
TX2_ROOT = os.path.join(ROOT, "tests", "fixtures", "jetson_root", "tx2")

# Runs the generator as its own script, with torch.fx's tracer waiting inside its
# first create_proxy call (after saying so in a marker file) until a signal comes.
_WRAPPER = """
import os, runpy, sys, time
import torch.fx
marker = sys.argv.pop(1)
original = torch.fx.Tracer.create_proxy
def waiting(*args, **kwargs):
    if not os.path.exists(marker):
        open(marker, "w").close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)
    return original(*args, **kwargs)
torch.fx.Tracer.create_proxy = waiting
sys.argv[0] = {generator!r}
runpy.run_path({generator!r}, run_name="__main__")
"""


def test_generator_stopped_while_tracing_exits_143_with_one_line(tmp_path, torch):
    pytest.importorskip("torchvision")
    wrapper = tmp_path / "wrapped_generator.py"
    wrapper.write_text(_WRAPPER.format(generator=GENERATOR))
    marker = str(tmp_path / "tracing")
    seed = 4315
    env = dict(os.environ, PATH=FAKE_BIN + os.pathsep + os.environ.get("PATH", ""), FAKE_NVPMODEL_MODE="0",
               PYTHONPATH=ROOT)
    argv = [sys.executable, str(wrapper), marker, "--output_root", str(tmp_path / "Dataset"), "--mode", "0",
            "--models", "squeezenet1_0", "--imgs", "img1.jpg", "--granularity", "fine", "--eval_tgr",
            "--simulate", "tx2", "--sim_seed", str(seed), "--sys_root", TX2_ROOT, "--log_level", "WARNING"]
    with child(argv, env) as proc:
        deadline = time.monotonic() + 240
        while not os.path.exists(marker):
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the generator never started tracing"
            time.sleep(0.05)
        err = signal_and_wait(proc, signal.SIGTERM, 60)
    assert proc.returncode == 143, err[-3000:]
    lines = err.splitlines()
    assert lines.count("stopped: SIGTERM") == 1 and lines[-1] == "stopped: SIGTERM", err[-3000:]
    assert not [line for line in lines if line.startswith(("Traceback", "ERROR", "While executing", "Use tlparse"))]
    run_files = glob.glob(str(tmp_path / "Dataset" / "LayerStats" / "Mode0" / "run-*.json"))
    for path in run_files:  # where the run had begun, it says how it ended
        with open(path) as handle:
            assert '"status": "interrupted"' in handle.read()
    time.sleep(0.5)
    assert not simulators(seed)
