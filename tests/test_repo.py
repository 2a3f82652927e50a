"""The repository keeps its promises: README's commands are the ones CI runs, pyproject.toml
installs what the code is (packages, version, dependencies, console scripts), and only the
seed's four script shims edit the import path."""
import glob
import importlib
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT
from layer_stats.cli import COMMAND_PREFIX

try:
    import tomllib
except ImportError:  # Python < 3.11: tomli, which pytest itself needs there
    import tomli as tomllib

#: The seed's scripts, each with the one guarded import-path shim of the project.
SEED_SCRIPTS = ["layer_stats/processedDataGeneration/processData.py",
                "layer_stats/rawDataGeneration/PowerLatencyDatasetGenerator.py",
                "multi_network_stats/MappingDBGenerator.py",
                "multi_network_stats/postProcessMultinetDB.py"]
SHIM_GUARD = 'if __name__ == "__main__" and not __package__:'


def read(*parts):
    with open(os.path.join(ROOT, *parts)) as handle:
        return handle.read()


def pyproject():
    return tomllib.loads(read("pyproject.toml"))


def readme_commands():
    return re.findall(r"```sh\n(.*?)\n```", read("README.md"), re.S)


def requirement_lines(*parts):
    return [line.strip() for line in read(*parts).splitlines() if line.strip() and not line.startswith("#")]


def requirement_name(line):
    return re.split(r"[<>=!~;\s\[]", line)[0].lower()


def test_readme_gives_two_commands_and_ci_runs_the_test_one():
    setup, test = readme_commands()[:2]
    assert "pip install -e ." in setup and "--simulate" in setup
    assert "pytest" in test
    ci_lines = [line.strip() for line in read(".ci", "run").splitlines()]
    assert test.strip() in ci_lines
    assert any(re.search(r"\.venv/bin/python -m pip install .*-e \.( |$)", line) for line in ci_lines)


def test_requirements_never_pull_torch():
    names = [requirement_name(line) for line in requirement_lines("requirements.txt")]
    assert "torch" not in names and "torchvision" not in names
    assert {"numpy", "pandas", "tqdm"} <= set(names)
    project = pyproject()["project"]
    for extra, lines in sorted(project.get("optional-dependencies", {}).items()):
        assert not {"torch", "torchvision"} & {requirement_name(line) for line in lines}, extra


def test_pyproject_dependencies_are_requirements_txt():
    assert sorted(pyproject()["project"]["dependencies"]) == sorted(requirement_lines("requirements.txt"))


def test_the_test_extra_is_what_the_tests_need_less_torch():
    wanted = [line for line in requirement_lines("tests", "requirements.txt")
              if requirement_name(line) not in ("torch", "torchvision")]
    assert sorted(pyproject()["project"]["optional-dependencies"]["test"]) == sorted(wanted)


def test_version_has_one_source():
    config = pyproject()
    assert "version" not in config["project"] and "version" in config["project"]["dynamic"]
    assert config["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "layer_stats.__version__"}
    assert re.match(r"\d+\.\d+\.\d+$", importlib.import_module("layer_stats").__version__)


def test_every_package_folder_is_installed():
    """A new subpackage left out of pyproject.toml would be missing from an installed copy."""
    found = sorted(os.path.relpath(os.path.dirname(path), ROOT).replace(os.sep, ".")
                   for top in ("layer_stats", "multi_network_stats")
                   for path in glob.glob(os.path.join(ROOT, top, "**", "__init__.py"), recursive=True))
    setuptools = pyproject()["tool"]["setuptools"]
    assert sorted(setuptools["packages"]) == sorted(found + ["layer_stats._inputs"])
    assert setuptools["package-dir"] == {"layer_stats._inputs": "."}
    data = setuptools["package-data"]
    assert data["layer_stats.models"] == ["layer_counts.json"]
    for pattern in data["layer_stats._inputs"]:  # the seed's inputs, as layer_stats/paths.py names them
        assert glob.glob(os.path.join(ROOT, pattern)), pattern


def test_console_scripts_are_the_scripts_console_functions_and_readme_names_them():
    scripts = pyproject()["project"]["scripts"]
    readme = read("README.md")
    targets = set()
    for name, target in scripts.items():
        assert name.startswith(COMMAND_PREFIX) and "`{}`".format(name) in readme, name
        module, function = target.split(":")
        assert function == "console" and callable(getattr(importlib.import_module(module), "console")), target
        targets.add(module)
    assert {path[:-3].replace("/", ".") for path in SEED_SCRIPTS} | {
        "layer_stats.tegrastats.__main__", "layer_stats.power.__main__", "layer_stats.models.__main__",
        "layer_stats.report.__main__"} == targets


def test_readme_layout_lists_every_module_and_nothing_else():
    section = read("README.md").split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    listed = [line.split()[0] for line in re.search(r"```\n(.*?)\n```", section, re.S).group(1).splitlines()]
    modules = sorted(os.path.relpath(path, ROOT).replace(os.sep, "/")
                     for top in ("layer_stats", "multi_network_stats")
                     for path in glob.glob(os.path.join(ROOT, top, "**", "*.py"), recursive=True)
                     if os.path.basename(path) != "__init__.py" or os.path.dirname(path) == os.path.join(ROOT, top))
    assert sorted(name for name in listed if name.endswith(".py")) == modules
    for name in listed:
        assert os.path.exists(os.path.join(ROOT, name)) and listed.count(name) == 1, name


def test_only_the_seed_script_shims_edit_the_import_path():
    """Tests, benchmarks and the simulator child find the package as any user's Python does."""
    try:
        done = subprocess.run(["git", "grep", "-n", "--untracked", r"sys[.]path", "--", "*.py"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    except OSError:
        pytest.skip("no git here")
    if done.returncode not in (0, 1) or not os.path.isdir(os.path.join(ROOT, ".git")):
        pytest.skip("not a git checkout: {}".format(done.stderr.strip()))
    hits = [line.split(":", 2) for line in done.stdout.splitlines()]
    assert sorted(path for path, _, _ in hits) == SEED_SCRIPTS, done.stdout
    for path, number, text in hits:
        lines = read(path).splitlines()
        assert lines[int(number) - 2].strip().startswith(SHIM_GUARD), (path, number)
        assert re.match(r"sys[.]path\[0\] = os[.]path[.]dirname\(", text.strip()), (path, text)


def test_benchmarks_run_as_modules_from_the_checkout():
    """README's and the benchmarks' own command, ``python3 -m tests.benchmarks.NAME`` from the root."""
    outputs = {}
    for args in (["tests.benchmarks.bench_parse", "--repeat", "1"], ["tests.benchmarks.bench_mapping_cost", "--help"]):
        done = subprocess.run([sys.executable, "-m"] + args, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
        assert done.returncode == 0, (args, done.stderr[-2000:])
        command = "python3 -m " + args[0]
        assert command in read(os.path.join(*args[0].split(".")) + ".py") and command in read("README.md")
        outputs[args[0]] = done.stdout
    assert "(4111 lines)" in outputs["tests.benchmarks.bench_parse"]
    assert "--mappings" in outputs["tests.benchmarks.bench_mapping_cost"]


def test_no_shell_in_code():
    for top in ("layer_stats", "multi_network_stats"):
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if name.endswith(".py"):
                    text = read(folder, name)
                    assert "shell=True" not in text and "os.system(" not in text, name
