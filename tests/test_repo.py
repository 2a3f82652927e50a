"""The repository keeps its promises: README's commands are the ones CI runs."""
import os
import re

from conftest import ROOT


def read(*parts):
    with open(os.path.join(ROOT, *parts)) as handle:
        return handle.read()


def readme_commands():
    return re.findall(r"```sh\n(.*?)\n```", read("README.md"), re.S)


def test_readme_gives_two_commands_and_ci_runs_the_test_one():
    setup, test = readme_commands()[:2]
    assert "requirements.txt" in setup and "--simulate" in setup
    assert "pytest" in test
    ci_lines = [line.strip() for line in read(".ci", "run").splitlines()]
    assert test.strip() in ci_lines


def test_requirements_never_pull_torch():
    names = [re.split(r"[<>=;\s\[]", line.strip())[0].lower()
             for line in read("requirements.txt").splitlines() if line.strip() and not line.startswith("#")]
    assert "torch" not in names and "torchvision" not in names
    assert {"numpy", "pandas", "tqdm"} <= set(names)


def test_no_shell_in_code():
    for folder, _, files in os.walk(os.path.join(ROOT, "layer_stats")):
        for name in files:
            if name.endswith(".py"):
                text = read(folder, name)
                assert "shell=True" not in text and "os.system(" not in text, name
