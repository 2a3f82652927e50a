"""Shared test helpers: the real tegrastats corpus and running the CLI as a user does."""
import contextlib
import glob
import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "tests", "fixtures", "tegrastats")
sys.path.insert(0, ROOT)


def corpus_files():
    """Every real tegrastats log of the corpus (see tests/fixtures/tegrastats/SOURCES.md)."""
    return sorted(glob.glob(os.path.join(CORPUS, "*.log")))


def corpus_line(name, number=1):
    """Line ``number`` (1-based) of corpus file ``name``, without newline."""
    with open(os.path.join(CORPUS, name)) as handle:
        return handle.read().splitlines()[number - 1]


def cli(*args, **kwargs):
    """Run ``python -m layer_stats.tegrastats ARGS`` from the repo root; CompletedProcess."""
    kwargs.setdefault("timeout", 60)
    return subprocess.run([sys.executable, "-m", "layer_stats.tegrastats"] + [str(a) for a in args],
                          cwd=kwargs.pop("cwd", ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, **kwargs)


#: Modules a laptop without the measurement stack lacks: post-processing must run without them.
NO_TORCH = ("torch", "torchvision", "ptflops")
FAKE_BIN = os.path.join(ROOT, "tests", "fixtures", "fake")


def run_script(path, *args, **kwargs):
    """Run the script at ``path`` with ``args`` as a user does, with the modules in
    ``blocked`` (default :data:`NO_TORCH`) made unimportable; CompletedProcess.  ``env``
    is added to the environment, whose PATH starts with the fake nvpmodel/tegrastats."""
    blocked = kwargs.get("blocked", NO_TORCH)
    code = ("import runpy, sys\nfor name in sys.argv[1].split(','):\n    if name: sys.modules[name] = None\n"
            "sys.argv = sys.argv[2:]\nrunpy.run_path(sys.argv[0], run_name='__main__')")
    env = dict(os.environ, PATH=FAKE_BIN + os.pathsep + os.environ.get("PATH", ""))
    env.update(kwargs.get("env", {}))
    return subprocess.run([sys.executable, "-c", code, ",".join(blocked), path] + [str(a) for a in args], cwd=ROOT,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=kwargs.get("timeout", 120))


@pytest.fixture
def corpus():
    return corpus_files()


def wait_for_files(pattern, proc, timeout_s=120):
    """Paths matching ``pattern`` once some exist; fails if ``proc`` ends first or time runs out."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        found = glob.glob(pattern)
        if found:
            return found
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.05)
    raise AssertionError("nothing matched " + pattern)


def kill_after_first_file(argv, env, pattern):
    """Start ``argv``, SIGKILL it as soon as a file matches ``pattern``; returns
    ``{path: mtime_ns}`` of the files it had finished."""
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    try:
        wait_for_files(pattern, proc)
    finally:
        proc.kill()
        proc.communicate()
    return mtimes(glob.glob(pattern))


@contextlib.contextmanager
def child(argv, env=None):
    """``with child(argv) as proc:`` a process started as a user would (text pipes, repo cwd),
    killed on the way out if it is still running, whatever failed inside the block."""
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def signal_and_wait(proc, signum, timeout_s):
    """Send ``signum`` to ``proc`` and wait for it to end; its remaining stderr."""
    proc.send_signal(signum)
    return proc.communicate(timeout=timeout_s)[1]


def simulators(seed):
    """``ps`` lines of running simulators started with noise seed ``seed`` (none left after a stop)."""
    listing = subprocess.run(["ps", "-ww", "-eo", "pid,args"], stdout=subprocess.PIPE, universal_newlines=True).stdout
    return [line for line in listing.splitlines() if "simulate" in line and "--seed {}".format(seed) in line]


def mtimes(paths):
    """``{path: st_mtime_ns}``: compare before and after to prove files were not rewritten."""
    return {path: os.stat(path).st_mtime_ns for path in paths}
