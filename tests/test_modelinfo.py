"""ModelInfo (params, MACs, FLOPs): the seed's figures, the same integers on every torch
(this module runs in CI on Python 3.11/torch 2 and on the TX2 stack, Python 3.6/torch
1.10), stages that sum to the whole network, the counting rules on small modules, and
agreement with ptflops' aten backend where it is installed."""
import functools
import io
import json
import os

import pytest

torch = pytest.importorskip("torch")

from conftest import ROOT  # noqa: E402
from layer_stats.errors import DnnStatsError  # noqa: E402
from layer_stats.models import build_model, chain_inputs, split_model  # noqa: E402
from layer_stats.models.complexity import METHOD, count_complexity  # noqa: E402
from multi_network_stats.modelinfo import human, stage_info  # noqa: E402

SEED_SAMPLE = os.path.join(ROOT, "tests", "fixtures", "seed", "multinet_sample_orin.json")
#: Exact figures of the whole networks, identical on torch 1.10 and 2.x; their
#: human() strings are the seed's ModelInfo (checked below).
EXACT = {
    "alexnet": (61100840, 714188480, 1429741184),
    "mobilenet_v2": (3504872, 300774272, 614967488),
    "mnasnet1_0": (4383312, 314415872, 644543104),
    "resnet50": (25557032, 4089184256, 8211108352),
}


def _seed_model_info():
    with open(SEED_SAMPLE) as handle:
        return json.load(handle)["ModelInfo"]


@functools.lru_cache(maxsize=1)
def _whole(name):
    """The block chain of ``name`` and its whole-network stage info (the last one is kept:
    resnet50's serves both the seed's figures and the stage sums)."""
    chain = split_model(build_model(name))
    return chain, stage_info(torch.nn.Sequential(*chain.layers), torch.randn(1, 3, 224, 224))


@pytest.mark.parametrize("name", sorted(EXACT))
def test_seed_figures_exactly_on_this_torch(name):
    _, info = _whole(name)
    assert (info["params"], info["macs"], info["flops"]) == EXACT[name]
    assert info["backend"] == METHOD and "DeepSpeed" in info["flops_are"]
    seed = _seed_model_info()[name]["cuda"]
    assert {key: human(info[key]) for key in ("params", "macs", "flops")} == {
        key: seed[key] for key in ("params", "macs", "flops")}


def test_stages_sum_to_the_whole_network():
    chain, whole = _whole("resnet50")
    inputs, _ = chain_inputs(chain.layers, torch.randn(1, 3, 224, 224))
    bounds = [(0, 9), (10, 15), (16, len(chain.layers) - 1)]  # the seed's keys "9", "15", "22"
    stages = [stage_info(torch.nn.Sequential(*chain.layers[lo:hi + 1]), inputs[lo]) for lo, hi in bounds]
    for key in ("params", "macs", "flops"):
        assert sum(stage[key] for stage in stages) == whole[key]
    per_layer = [count_complexity(torch.nn.Sequential(layer), x) for layer, x in zip(chain.layers, inputs)]
    assert sum(c.macs for c in per_layer) == whole["macs"] and sum(c.flops for c in per_layer) == whole["flops"]
    assert sum(c.params for c in per_layer) == whole["params"]


def test_counting_leaves_the_module_as_it_was():
    model = build_model("mobilenet_v2").train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    counted = count_complexity(model, torch.randn(1, 3, 224, 224))
    assert model.training and counted.macs == EXACT["mobilenet_v2"][1]  # counted in eval mode
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # no BN statistics moved


def test_rules_on_small_modules():
    conv = torch.nn.Conv2d(8, 16, 3, padding=1, groups=4)  # per output: 3*3*8/4 MACs
    counted = count_complexity(conv, torch.randn(2, 8, 5, 5))
    assert counted.macs == 2 * 16 * 25 * 18 and counted.bias_adds == 2 * 16 * 25
    assert counted.flops == 2 * counted.macs + counted.bias_adds
    deconv = torch.nn.ConvTranspose2d(4, 6, 2, stride=2, bias=False)  # per input position: 4*6*2*2
    assert count_complexity(deconv, torch.randn(1, 4, 3, 3)).macs == 9 * 4 * 6 * 4
    linear = torch.nn.Linear(8, 4)
    counted = count_complexity(linear, torch.randn(3, 5, 8))
    assert (counted.macs, counted.flops, counted.bias_adds) == (3 * 5 * 8 * 4, 2 * 3 * 5 * 8 * 4, 3 * 5 * 4)
    bn_relu = torch.nn.Sequential(torch.nn.BatchNorm2d(3), torch.nn.ReLU(), torch.nn.ReLU6(), torch.nn.MaxPool2d(2))
    counted = count_complexity(bn_relu, torch.randn(1, 3, 4, 4))
    assert counted.macs == 0 and counted.flops == 48 * 2 + 48 + 0 + 48  # ReLU6 runs hardtanh: no rule


class _Attention(torch.nn.Module):
    """Functional matrix products and attention, as transformers write them."""

    def __init__(self):
        torch.nn.Module.__init__(self)
        self.attention = torch.nn.MultiheadAttention(16, 2)

    def forward(self, x):  # x: (L=6, N=1, E=16)
        scores = torch.einsum("lne,mne->nlm", x, x)  # 1*6*6*16
        mixed = torch.matmul(scores.softmax(-1), x.transpose(0, 1))  # 1 x (6x6 @ 6x16)
        # tensor.softmax has no rule (the seed's counter saw F.softmax only)
        return self.attention(x, x, x, need_weights=False)[0] + mixed.transpose(0, 1) @ torch.ones(16, 16)


def test_rules_for_matrix_products_and_attention():
    counted = count_complexity(_Attention(), torch.randn(6, 1, 16))
    projections = 4 * 6 * 16 * 16  # q, k, v and out
    matmul = 6 * 6 * 16 + 6 * 6 * 16 + 6 * 16 * 16  # einsum, matmul, @
    assert counted.macs_by_kind == {"conv": 0, "linear": projections, "matmul": matmul, "attention": 2 * 6 * 6 * 16}
    softmax = 2 * 6 * 6  # heads x L x S, inside attention
    assert counted.flops == 2 * counted.macs + softmax


def test_a_stop_inside_the_count_passes_through(monkeypatch):
    import signal

    from layer_stats.errors import Interrupted

    def stopped(self, x):
        raise Interrupted(signal.SIGTERM)

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Conv1d(1, 1, 1)).train()
    monkeypatch.setattr(torch.nn.Conv1d, "forward", stopped)
    with pytest.raises(Interrupted) as caught:
        count_complexity(model, torch.randn(1, 1, 4))
    assert str(caught.value) == "stopped by SIGTERM" and model.training
    monkeypatch.undo()
    assert count_complexity(model, torch.randn(1, 1, 4)).macs == 16 + 4  # nothing left over from the stop


def test_wrong_input_and_unknown_method_are_one_line_errors():
    with pytest.raises(DnnStatsError, match=r"cannot count the operations of Linear on an input of shape \(2, 3\)"):
        count_complexity(torch.nn.Linear(8, 4), torch.randn(2, 3))
    with pytest.raises(DnnStatsError, match="counts with 'fn-count/deepspeed-rules v1' only"):
        stage_info(torch.nn.Linear(8, 4), torch.randn(2, 8), backend="aten")


# -- against ptflops' aten backend (torch 2): ours + the bias additions it adds ------


def _aten_equivalent(model, counted):
    """What ptflops' aten backend reports for ``model``, from our counts: plus the bias
    additions it counts as MACs, less the attention products it cannot see (torch 2 runs
    nn.MultiheadAttention through a fused scaled_dot_product_attention), plus the Swin V2
    bias MLP it counts although it runs on weights alone."""
    uses_sdpa = any(isinstance(m, torch.nn.MultiheadAttention) for m in model.modules())
    weights_only = 0
    for module in model.modules():
        table = getattr(module, "relative_coords_table", None)
        for layer in getattr(module, "cpb_mlp", ()) if table is not None else ():
            if isinstance(layer, torch.nn.Linear):
                rows = table.numel() // table.shape[-1]
                weights_only += rows * layer.out_features * (layer.in_features + (layer.bias is not None))
    return counted.macs + counted.bias_adds - (counted.macs_by_kind["attention"] if uses_sdpa else 0) + weights_only


class _InputNamed(torch.nn.Module):
    """ptflops passes the input as ``input=``."""

    def __init__(self, model):
        torch.nn.Module.__init__(self)
        self.model = model

    def forward(self, input):
        return self.model(input)


def _ptflops_aten(model, x):
    ptflops = pytest.importorskip("ptflops")
    if int(torch.__version__.split(".")[0]) < 2:
        pytest.skip("ptflops' aten backend needs torch 2")
    return ptflops.get_model_complexity_info(_InputNamed(model), tuple(x.shape[1:]), as_strings=False,
                                             print_per_layer_stat=False, ost=io.StringIO(), backend="aten",
                                             input_constructor=lambda _: {"input": x})


def _check_against_aten(name):
    torch.manual_seed(0)
    model = build_model(name)
    x = torch.randn(1, 3, 299 if name == "inception_v3" else 224, 299 if name == "inception_v3" else 224)
    counted = count_complexity(model, x)
    macs, params = _ptflops_aten(model, x)
    assert (counted.params, _aten_equivalent(model, counted)) == (params, macs)


@pytest.mark.parametrize("name", ["alexnet", "mobilenet_v3_small", "squeezenet1_1", "shufflenet_v2_x0_5"])
def test_equals_ptflops_aten_plus_bias(name):
    _check_against_aten(name)


def test_attention_against_ptflops_aten():
    x = torch.randn(6, 1, 16)
    model = _Attention()
    counted = count_complexity(model, x)
    macs, _ = _ptflops_aten(model, x)
    assert macs == _aten_equivalent(model, counted)


def _all_models():
    try:
        from layer_stats.models import classification_models
        return classification_models()
    except Exception:  # collection must not fail where torchvision is missing
        return []


@pytest.mark.slow
@pytest.mark.parametrize("name", _all_models())
def test_every_classifier_against_ptflops_aten(name):
    _check_against_aten(name)
