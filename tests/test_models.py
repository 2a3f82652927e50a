"""Layer chains of real torchvision models: composition equals the model, the seed's layer counts
and the shipped layer-count table's, glue joining a neighbour, the registry and the check CLI.

Each model is built and split once per test: the split that is compared with the model is
also the one whose length is checked against the table (``layer_counts.json``, when this
torchvision is the one it was made with; every classifier in both granularities: the slow
test in test_layer_table.py)."""
import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
tv = pytest.importorskip("torchvision")

import layer_stats.models.__main__ as models_command  # noqa: E402
from conftest import ROOT, run_main  # noqa: E402
from layer_stats.errors import DnnStatsError  # noqa: E402
from layer_stats.models import (available_models, block_units, build_model, chain_inputs,  # noqa: E402
                                classification_models, max_abs_diff, resolve_models, split_model)
from layer_stats.models.layer_table import load_table, table_count  # noqa: E402
from layer_stats.models.registry import available_families, builder_kwargs  # noqa: E402

#: Layer counts of the seed's own data (its example mapping keys and stage indices).
SEED_COUNTS = {"resnet18": 14, "resnet50": 22, "alexnet": 21, "mobilenet_v2": 21, "mnasnet1_0": 19}

#: The seed's AvailableModel.txt, family by family.
SEED_FAMILIES = [
    ["alexnet"], ["densenet121"], ["efficientnet_b0", "efficientnet_b1", "efficientnet_b2"],
    ["mnasnet0_5", "mnasnet1_0"], ["mobilenet_v2"], ["mobilenet_v3_large", "mobilenet_v3_small"],
    ["regnet_y_400mf", "regnet_y_800mf", "regnet_y_1_6gf", "regnet_x_3_2gf", "regnet_x_800mf", "regnet_x_400mf"],
    ["resnet18", "resnet34", "resnet50", "resnet101"], ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0"],
    ["squeezenet1_0"]]


def _needs(name):
    """Skip on a torchvision that lacks ``name`` (the TX2's 0.11 has no vision transformers)."""
    if name not in classification_models():
        pytest.skip("torchvision {} has no {}".format(__import__("torchvision").__version__, name))


def _built(name):
    torch.manual_seed(0)
    return build_model(name)


def _split_and_compare(model, granularity):
    """The chain of ``model`` in ``granularity`` and max |model(x) - chain(x)| on a random batch
    of 2; the chain runs once, layer by layer, every input and its output a tensor."""
    chain = split_model(model, granularity)
    x = torch.randn(2, 3, 224, 224)
    inputs, out = chain_inputs(chain.layers, x)
    for arg in inputs:
        assert isinstance(arg, torch.Tensor)
    assert isinstance(out, torch.Tensor)
    with torch.no_grad():
        want = model(x)
    assert want.shape == out.shape
    return chain, float((want - out).abs().max())


def _table_agrees(name, granularity, count):
    """The shipped table's count for ``name`` is ``count`` (skipped on another torchvision
    than the table's, which may cut models differently: runs check their counts then)."""
    if tv.__version__.split("+")[0] == load_table()["torchvision"]:
        assert table_count(name, granularity) == count, (name, granularity)


def test_available_models_file_is_the_seed_list():
    assert available_families() == SEED_FAMILIES
    assert resolve_models(None) == [n for family in SEED_FAMILIES for n in family]


@pytest.mark.parametrize("name", [n for family in SEED_FAMILIES for n in family])
def test_block_chain_equals_model_for_every_default_model(name):
    model = _built(name)
    chain, diff = _split_and_compare(model, "block")
    assert diff <= 1e-4
    if name in SEED_COUNTS:
        assert len(chain.layers) == SEED_COUNTS[name]
    _table_agrees(name, "block", len(chain.layers))
    # block layers are exactly the model's units, flattened one level, in order (no merges here)
    assert [part for n in chain.names for part in n.split("+")] == block_units(model)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "googlenet", "inception_v3", "vit_b_32"])
def test_fine_chain_equals_model(name):
    _needs(name)
    model = _built(name)
    fine, diff = _split_and_compare(model, "fine")
    assert diff <= 1e-4
    block = split_model(model, "block")
    assert len(fine.layers) >= len(block.layers)
    _table_agrees(name, "fine", len(fine.layers))
    _table_agrees(name, "block", len(block.layers))


def test_max_abs_diff_compares_the_chain_with_the_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
    x = torch.randn(2, 3, 8, 8)
    layers = split_model(model).layers
    assert max_abs_diff(model, layers, x) == 0.0
    assert max_abs_diff(model, layers[:-1], x) == float("inf")  # another shape
    changed = torch.nn.Linear(4, 2)
    assert max_abs_diff(model, list(layers[:-1]) + [changed], x) > 1e-4


def test_glue_joins_a_neighbour_without_family_rules():
    torch.manual_seed(0)
    model = build_model("resnet18")
    chain = split_model(model)
    ops = [n.target for n in chain.layers[-1].graph.nodes if n.op in ("call_function", "call_module")]
    assert ops == [torch.flatten, "fc"]  # resnet's flatten rides with fc
    mnas = split_model(build_model("mnasnet1_0"))
    ops = [getattr(n.target, "__name__", n.target) for n in mnas.layers[-2].graph.nodes
           if n.op in ("call_method", "call_module")]
    assert ops == ["mean", "classifier.0"]  # the mean between children joins the next layer


def test_units_that_cannot_be_cut_apart_share_a_layer():
    _needs("vit_b_32")
    chain, diff = _split_and_compare(_built("vit_b_32"), "block")
    # the class token and batch size are live across conv_proj, so it shares a layer with the input glue
    assert diff <= 1e-4 and len(chain.layers) == 3


def test_layers_share_the_models_parameters():
    model = build_model("resnet18")
    chain = split_model(model)
    assert chain.layers[0].conv1.weight is model.conv1.weight


def test_unknown_model_suggests_the_nearest_name_and_where_the_list_is():
    with pytest.raises(DnnStatsError) as err:
        resolve_models("resnet18,resnet17")
    assert "'resnet17'" in str(err.value) and "did you mean resnet18?" in str(err.value)
    assert "python3 -m layer_stats.models list" in str(err.value)
    with pytest.raises(DnnStatsError) as err:
        resolve_models("zzzz")
    assert "did you mean" not in str(err.value)


def test_the_models_list_command_prints_every_name_models_takes():
    done = run_main(models_command, "list", blocked=())
    assert done.returncode == 0 and done.stdout.split() == classification_models(), done.stderr


def test_all_means_every_classification_model():
    names = resolve_models("all")
    assert names == classification_models() and len(names) >= 20
    assert set(available_models()) <= set(names)


def test_builder_kwargs_never_ask_for_downloads():
    kwargs = builder_kwargs("resnet18")
    assert kwargs.get("weights", "absent") is None or kwargs.get("pretrained") is False


def test_weights_from_a_folder_of_state_dicts(tmp_path):
    torch.manual_seed(1)
    source = build_model("resnet18")
    torch.save(source.state_dict(), str(tmp_path / "resnet18-0000.pth"))
    torch.manual_seed(2)
    loaded = build_model("resnet18", str(tmp_path))
    assert torch.equal(loaded.fc.weight, source.fc.weight)
    with pytest.raises(DnnStatsError) as err:
        build_model("alexnet", str(tmp_path))
    assert "alexnet" in str(err.value)


def _check_cli(*args):
    return subprocess.run([sys.executable, "-m", "layer_stats.models", "check"] + list(args), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300)


def test_check_cli_json():
    done = _check_cli("--models", "resnet18,mnasnet1_0", "--json")
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert [(r["model"], r["layers"], r["ok"]) for r in results] == [("resnet18", 14, True), ("mnasnet1_0", 19, True)]
    assert set(results[0]) == {"model", "granularity", "layers", "max_abs_diff", "ok"}


def test_check_cli_fails_when_a_model_fails(monkeypatch):
    """Every real model splits exactly (max |diff| 0), so the failing check is a stand-in."""
    failing = {"model": "squeezenet1_0", "granularity": "block", "layers": 17, "max_abs_diff": 0.5, "ok": False,
               "error": None}
    monkeypatch.setattr(models_command, "check_models", lambda names, granularity, tolerance: iter([failing]))
    done = run_main(models_command, "check", "--models", "squeezenet1_0", blocked=())
    assert done.returncode == 1
    assert "FAIL difference above tolerance" in done.stdout and "1 of 1 models failed: squeezenet1_0" in done.stderr


@pytest.mark.parametrize("args, status, error", [
    (["--models", "nosuchnet"], 2, "ERROR: unknown model 'nosuchnet'"),
    (["--tolerance", "-1"], 2, "ERROR: argument --tolerance: must be a number >= 0 and <= 1e+06, got '-1'"),
])
def test_check_cli_refusals_are_one_line(args, status, error):
    done = run_main(models_command, "check", *args, blocked=())
    assert done.returncode == status and done.stdout == ""
    assert done.stderr.startswith(error) and len(done.stderr.splitlines()) == 1, done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("granularity", ["block", "fine"])
def test_every_torchvision_classifier_splits(granularity):
    done = _check_cli("--all", "--granularity", granularity, "--json")
    results = json.loads(done.stdout)
    assert len(results) == len(classification_models())
    assert done.returncode == 0, [r for r in results if not r["ok"]]
