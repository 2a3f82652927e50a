"""``pip install .`` gives working commands: the project installed (not editable) into a fresh
venv, then every console script run from a folder outside the checkout, on the seed's
inputs shipped inside the package; and ``pip install -e .`` runs the checkout.  Slow (about a
minute): CI runs it after the default suite.

The venv sees this interpreter's site-packages through a ``.pth`` file (torch, pandas, pip
and setuptools come from there: nothing is downloaded) and gets the project itself from
``pip install --no-deps --no-build-isolation`` of a copy of the checkout."""
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig

import pytest

from conftest import FAKE_BIN, ROOT
from test_compat import COMPAT, _as_recorded, _same_tree

pytestmark = pytest.mark.slow

#: The console scripts and a ``--help`` text each must show.
COMMANDS = {
    "dnn-stats-layerwise": "--eval_latency",
    "dnn-stats-layerwise-process": "--input_root",
    "dnn-stats-multinet": "--jetsonDevice",
    "dnn-stats-multinet-process": "--input_file_root",
    "dnn-stats-tegrastats": "record",
    "dnn-stats-models": "check",
    "dnn-stats-power": "rails",
    "dnn-stats-report": "--input_root",
}
#: What the copy of the checkout leaves out: only the project's own files are built.
NOT_COPIED = (".git", ".venv*", "Dataset", "build", "dist", "*.egg-info", "__pycache__", "tests", ".ci")


def _venv_with(folder, *pip_args):
    """A venv in ``folder`` seeing this interpreter's packages, after ``pip install PIP_ARGS``
    (nothing downloaded); returns (its bin folder, a work folder outside the checkout, the
    environment to run in)."""
    if sys.version_info < (3, 7):
        pytest.skip("building needs setuptools >= 61, which needs Python >= 3.7 (README, 'Python 3.6')")
    venv, work = os.path.join(folder, "venv"), os.path.join(folder, "work")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    python = os.path.join(venv, "bin", "python")
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()
    outer = site.getsitepackages() + [sysconfig.get_paths()["purelib"]]
    with open(os.path.join(purelib, "outer.pth"), "w") as handle:
        handle.write("\n".join(sorted(set(outer))) + "\n")
    done = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                           "--no-build-isolation", "--no-index"] + list(pip_args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    os.makedirs(work)
    env = dict(os.environ, PATH=FAKE_BIN + os.pathsep + os.environ.get("PATH", ""), FAKE_NVPMODEL_MODE="0")
    env.pop("PYTHONPATH", None)
    return os.path.join(venv, "bin"), work, env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``pip install .`` of a copy of the checkout: (venv bin folder, work folder, environment)."""
    base = str(tmp_path_factory.mktemp("install"))
    source = os.path.join(base, "source")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_COPIED))
    return _venv_with(base, source)


def _where(installed):
    """(layer_stats' file, multi_network_stats' file, PROJECT_ROOT, IMAGE_DIR, AVAILABLE_FILE)
    as the venv's Python sees them from the work folder."""
    bin_dir, work, env = installed
    code = ("import json, layer_stats, layer_stats.paths as p, multi_network_stats as m; "
            "print(json.dumps([layer_stats.__file__, m.__file__, p.PROJECT_ROOT, p.IMAGE_DIR, p.AVAILABLE_FILE]))")
    done = subprocess.run([os.path.join(bin_dir, "python"), "-c", code], cwd=work, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def command(installed, name, *args):
    bin_dir, work, env = installed
    return subprocess.run([os.path.join(bin_dir, name)] + [str(a) for a in args], cwd=work, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600)


def test_the_package_and_its_inputs_come_from_the_venv(installed):
    package, product, root, images, available = _where(installed)
    venv = os.path.dirname(installed[0])
    assert package.startswith(venv + os.sep) and product.startswith(venv + os.sep)
    assert root == os.path.join(os.path.dirname(package), "_inputs")
    for name in ("img1.jpg", "img2.jpg", "img3.jpg"):
        with open(os.path.join(images, name), "rb") as got, open(os.path.join(ROOT, "data", "imagenet", name),
                                                                  "rb") as want:
            assert got.read() == want.read(), name
    with open(available) as got, open(os.path.join(ROOT, "AvailableModel.txt")) as want:
        assert got.read() == want.read()
    assert os.path.isfile(os.path.join(os.path.dirname(package), "models", "layer_counts.json"))


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_helps_under_its_own_name(installed, name):
    done = command(installed, name, "--help")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage: {}".format(name)) and COMMANDS[name] in done.stdout


def test_the_layerwise_dry_run_plans_the_shipped_models_and_images(installed):
    from layer_stats.models.registry import available_models

    done = command(installed, "dnn-stats-layerwise", "--mode", "0", "--eval_latency", "--dry_run")
    assert done.returncode == 0, done.stderr[-2000:]
    files = [line.split("\t") for line in done.stdout.splitlines() if not line.startswith("#")]
    assert {state for state, _ in files} == {"todo"}
    assert done.stdout.splitlines()[-1].startswith("# timed runs a layer: fixed 100")  # the device-time estimate
    assert len(files) == len(available_models()) * 3  # every model, img1-img3, latency on the cpu
    assert all(path.startswith(os.path.join("Dataset", "LayerStats", "Mode0", "cpu", "latency"))
               for _, path in files)
    assert not os.path.exists(os.path.join(installed[1], "Dataset"))


def test_the_seeds_multinet_dry_run(installed):
    done = command(installed, "dnn-stats-multinet", "--jetsonDevice", "Orin", "--mode", "1", "--num_samples",
                   "2000", "--eval_tgr", "--eval_thr", "--max_split_nets", "5", "--device_priorities", "0.4,0.6",
                   "--numNetsRange", "2", "6", "--single_nets", "--gpu_only_maps", "--samples_per_set", "20",
                   "--seed", "5", "--funcLayerCount", "--smpl_duration", "30", "--warmup", "--dry_run")
    assert done.returncode == 0, done.stderr[-2000:]
    assert len([line for line in done.stdout.splitlines() if line.startswith("{")]) == 2046


def test_post_processing_commands_give_the_recorded_outputs(installed, tmp_path):
    raw = str(tmp_path / "raw")
    shutil.copytree(os.path.join(COMPAT, "raw"), raw)
    done = command(installed, "dnn-stats-layerwise-process", "--input_root", raw, "--output_root", tmp_path / "lw")
    assert done.returncode == 0, done.stderr[-2000:]
    _as_recorded(str(tmp_path / "lw"))  # the feature columns and format_version of processed format 2 taken out
    _same_tree(os.path.join(COMPAT, "expected_layerwise"), str(tmp_path / "lw"))
    done = command(installed, "dnn-stats-multinet-process", "--input_file_root", os.path.join(raw, "Multinet"),
                   "--output_file_root", tmp_path / "mn")
    assert done.returncode == 0, done.stderr[-2000:]
    _same_tree(os.path.join(COMPAT, "expected_multinet"), str(tmp_path / "mn"))


def test_telemetry_and_models_commands(installed):
    done = command(installed, "dnn-stats-tegrastats", "params", "--board", "tx2")
    assert done.returncode == 0 and "VDD_SYS_CPU" in done.stdout, done.stderr[-2000:]
    done = command(installed, "dnn-stats-tegrastats", "simulate", "--board", "orin", "--count", "2",
                   "--interval", "50")
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 2 and "VDD_IN" in done.stdout
    done = command(installed, "dnn-stats-tegrastats", "record", "--simulate", "tx2", "--interval", "100",
                   "--duration", "1", "--out", "tx2.jsonl")  # the simulator child finds the installed package
    assert done.returncode == 0, done.stderr[-2000:]
    with open(os.path.join(installed[1], "tx2.jsonl")) as handle:
        samples = [json.loads(line) for line in handle]
    assert len(samples) >= 3 and {s["telemetry"] for s in samples} == {"simulated"}
    done = command(installed, "dnn-stats-models", "check", "--models", "squeezenet1_0", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    assert [(r["model"], r["layers"], r["ok"]) for r in json.loads(done.stdout)] == [("squeezenet1_0", 17, True)]
    done = command(installed, "dnn-stats-models", "check", "--tolerance", "-1")
    assert done.returncode == 2 and done.stderr.startswith("ERROR: argument --tolerance") and \
        "(see dnn-stats-models check --help)" in done.stderr


def test_an_editable_install_runs_the_checkout(tmp_path):
    """README's set-up (``pip install -e .``): the code and the seed's inputs are the checkout's."""
    editable = _venv_with(str(tmp_path), "-e", ROOT)
    package, product, root, images, available = _where(editable)
    assert (package, product) == (os.path.join(ROOT, "layer_stats", "__init__.py"),
                                  os.path.join(ROOT, "multi_network_stats", "__init__.py"))
    assert (root, images, available) == (ROOT, os.path.join(ROOT, "data", "imagenet"),
                                          os.path.join(ROOT, "AvailableModel.txt"))
    done = command(editable, "dnn-stats-tegrastats", "params", "--board", "orin")
    assert done.returncode == 0 and "VDD_CPU_GPU_CV" in done.stdout, done.stderr[-2000:]
