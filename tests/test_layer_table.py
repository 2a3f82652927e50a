"""The shipped layer-count table against torch.fx (every torchvision classifier in both
granularities in a slow test; the default models' block counts and some fine counts are
checked in test_models.py, on the chains it builds there anyway), its command, and model
names without torch."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT, run_main
from layer_stats.errors import DnnStatsError
from layer_stats.models import layer_table
from layer_stats.models.layer_table import check_count, load_table, planned_layer_counts, table_count, table_models
from layer_stats.models.registry import available_models

BLOCK_TORCH = "import sys; sys.modules['torch'] = None; sys.modules['torchvision'] = None; "


def _installed_torchvision():
    tv = pytest.importorskip("torchvision")
    if tv.__version__.split("+")[0] != load_table()["torchvision"]:
        pytest.skip("the table was made with torchvision {}, this is {}".format(load_table()["torchvision"],
                                                                                tv.__version__))


def _counted(name, granularity):
    from layer_stats.models.layer_table import count_layers
    return count_layers(name, granularity)


def test_table_records_how_it_was_made_and_covers_both_granularities():
    table = load_table()
    assert table["format_version"] == 1 and table["generated_by"] == "python3 -m layer_stats.models table"
    assert table["torch"] and table["torchvision"]
    assert set(table["counts"]) == {"block", "fine"}
    assert table_models(table, "block") == table_models(table, "fine")
    assert set(available_models()) <= set(table_models(table))


def test_table_lists_every_classifier_of_this_torchvision():
    _installed_torchvision()
    from layer_stats.models.registry import classification_models

    assert table_models() == classification_models()


@pytest.mark.slow
@pytest.mark.parametrize("granularity", ["block", "fine"])
def test_every_classifier_in_both_granularities_matches_torch_fx(granularity):
    _installed_torchvision()
    wrong = {name: (table_count(name, granularity), _counted(name, granularity)) for name in table_models()}
    assert {name: pair for name, pair in wrong.items() if pair[0] != pair[1]} == {}


def test_table_command_writes_a_table_and_verifies_one(tmp_path):
    """``table`` then ``table --verify`` (in this process: ``python -m layer_stats.models`` runs as
    a user's command in test_models.py) on two models, in both granularities."""
    _installed_torchvision()
    import layer_stats.models.__main__ as command

    out = str(tmp_path / "counts.json")
    args = ["table", "--models", "squeezenet1_0,mnasnet0_5", "--out", out]
    done = run_main(command, *args, blocked=())
    assert done.returncode == 0, done.stderr
    assert "wrote {} (2 models".format(out) in done.stderr
    with open(out) as handle:
        made = json.load(handle)
    shipped = load_table()
    assert made["torchvision"] == shipped["torchvision"]
    for granularity in ("block", "fine"):
        assert made["counts"][granularity] == {n: shipped["counts"][granularity][n]
                                               for n in ("squeezenet1_0", "mnasnet0_5")}
    made["counts"]["fine"]["mnasnet0_5"] += 1
    with open(out, "w") as handle:
        json.dump(made, handle)
    done = run_main(command, *(args + ["--verify"]), blocked=())
    assert done.returncode == 1 and "mnasnet0_5 fine: {} here, {} in the table".format(
        made["counts"]["fine"]["mnasnet0_5"] - 1, made["counts"]["fine"]["mnasnet0_5"]) in done.stderr


def test_planner_counts_come_from_the_table_and_a_missing_model_needs_torch(monkeypatch):
    table = {"format_version": 1, "torchvision": "0.0", "counts": {"block": {"resnet18": 14}}}
    assert planned_layer_counts(["resnet18"], table=table) == {"resnet18": 14}
    monkeypatch.setattr(layer_table, "_torch_missing", lambda: True)
    with pytest.raises(DnnStatsError) as err:
        planned_layer_counts(["resnet18", "alexnet"], table=table)
    assert "no block count for alexnet" in str(err.value) and "python3 -m layer_stats.models table" in str(err.value)


def test_planner_counts_a_model_the_table_lacks_when_torch_is_there():
    pytest.importorskip("torchvision")
    table = {"format_version": 1, "torchvision": "0.0", "counts": {"block": {}}}
    assert planned_layer_counts(["squeezenet1_0"], table=table) == {"squeezenet1_0": 17}


def test_a_count_that_differs_from_the_plan_says_to_regenerate_the_table():
    check_count("resnet18", 14, 14)
    with pytest.raises(DnnStatsError) as err:
        check_count("resnet18", 15, 14)
    message = str(err.value)
    assert "resnet18 has 15 block layers" in message and "the plan used 14" in message
    assert "regenerate the table with python3 -m layer_stats.models table" in message and "\n" not in message


def test_a_broken_table_is_one_line_error(tmp_path):
    for text in ("{", "[]", json.dumps({"format_version": 1, "counts": {"block": {"a": "x"}}})):
        path = str(tmp_path / "t{}.json".format(len(text)))
        with open(path, "w") as handle:
            handle.write(text)
        with pytest.raises(DnnStatsError, match="regenerate it with python3 -m layer_stats.models table"):
            load_table(path)


def _no_torch(code):
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH + code], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


def test_model_names_are_checked_against_the_table_without_torchvision():
    done = _no_torch("from layer_stats.models.registry import resolve_models; "
                     "from layer_stats.models.layer_table import table_models; "
                     "assert resolve_models('all') == table_models(); "
                     "print(resolve_models('resnet18,alexnet', option='--model_list')); "
                     "resolve_models('resnet18,lenet', option='--model_list')")
    assert "['resnet18', 'alexnet']" in done.stdout
    version = load_table()["torchvision"]
    assert "unknown model 'lenet' for the layer table (torchvision {}".format(version) in done.stderr


@pytest.mark.parametrize("spec, message", [("", "--model_list '' names no model"),
                                           (" , ", "names no model"),
                                           ("resnet18,alexnet,resnet18", "--model_list names resnet18 more than once")])
def test_empty_or_repeated_model_lists_are_refused(spec, message):
    from layer_stats.models.registry import resolve_models

    with pytest.raises(DnnStatsError) as err:
        resolve_models(spec, option="--model_list")
    assert message in str(err.value)
