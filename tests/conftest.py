"""Shared test helpers: the real tegrastats corpus and running the CLI as a user does."""
import glob
import os
import subprocess
import sys

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


@pytest.fixture
def corpus():
    return corpus_files()
