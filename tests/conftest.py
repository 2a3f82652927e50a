"""Shared test helpers: the real tegrastats corpus and running the CLI as a user does.

The suite imports the project as a user's Python finds it, without editing the import
path: run from the checkout's root as ``python -m pytest`` (``-m`` puts the working folder
first on the path), or with the project installed (``pip install -e .``).
"""
import contextlib
import glob
import importlib.util
import io
import logging
import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if importlib.util.find_spec("layer_stats") is None:
    raise pytest.UsageError("cannot import layer_stats: run the tests from the checkout's root as "
                            "'python -m pytest', or install the project first (pip install -e .)")
CORPUS = os.path.join(ROOT, "tests", "fixtures", "tegrastats")


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


_SCRIPTS = {}


def load_script(path):
    """The script at ``path`` as a module (loaded once; its ``__main__`` block does not run)."""
    if path not in _SCRIPTS:
        spec = importlib.util.spec_from_file_location("script_" + os.path.basename(path)[:-3], path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _SCRIPTS[path] = module
    return _SCRIPTS[path]


def run_main(script, *args, **kwargs):
    """What :func:`run_script` gives, without a new interpreter: the ``main(argv)`` of
    ``script`` (a script's path, or a command's module such as ``layer_stats.models.__main__``)
    called through :func:`layer_stats.cli.run` in this process, as its ``console()`` calls
    it; a CompletedProcess with the exit status and the text written to stdout and stderr
    (log lines included).  For checks of arguments and input, many per script: the same
    code as a user's run but no interpreter start or torch import per case.  Every script
    keeps real runs through :func:`run_script` as end-to-end checks.

    As in :func:`run_script`: ``blocked`` modules (default :data:`NO_TORCH`) cannot be
    imported during the call, PATH starts with the fake nvpmodel/tegrastats, ``env`` is
    added to the environment, the working folder is the checkout, ``sys.argv[0]`` the
    script.  All of it, and the logging set-up, is put back afterwards.
    """
    from layer_stats.cli import run

    module = load_script(script) if isinstance(script, str) else script
    path, main, argv = module.__file__, module.main, [str(a) for a in args]
    env = dict(kwargs.get("env", {}), PATH=FAKE_BIN + os.pathsep + os.environ.get("PATH", ""))
    blocked = {name: sys.modules.get(name) for name in kwargs.get("blocked", NO_TORCH)}
    saved_env = {name: os.environ.get(name) for name in env}
    root = logging.getLogger()
    handlers, level, saved_argv, cwd = list(root.handlers), root.level, sys.argv, os.getcwd()
    out, err, status = io.StringIO(), io.StringIO(), 0
    try:
        os.environ.update(env)
        sys.modules.update((name, None) for name in blocked)
        sys.argv = [path] + argv
        os.chdir(ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            run(main, argv)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(cwd)
        sys.argv = saved_argv
        for name, module in blocked.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
    return subprocess.CompletedProcess([path] + argv, status, out.getvalue(), err.getvalue())


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
