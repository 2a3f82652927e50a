"""Per-layer features (``layer_stats/models/features.py``, files: ``layer_stats/layerwise/features.py``):
the layers' sums are the seed's whole-network ModelInfo on this torch (this module runs on Python 3.11 /
torch 2 and on the TX2 stack, Python 3.6 / torch 1.10), shapes chain, types name the layers' modules; the
generator writes a network's features file once (a rerun keeps it, a rerun over data made before features
files writes it without measuring); processData joins it into LayerStats.csv; a corrupt file is one warning
and empty columns; data without features files still process.  Real torchvision models, random weights.
"""
import csv
import io
import json
import os
import shutil

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from conftest import ROOT, mtimes, run_main  # noqa: E402
from layer_stats.layerwise import layout  # noqa: E402
from layer_stats.layerwise.features import (CSV_COLUMNS, LAYER_KEYS, features_problem, read_features,  # noqa: E402
                                            shape_text)
from layer_stats.layerwise.raw import read_lines  # noqa: E402
from layer_stats.models import build_model, split_model  # noqa: E402
from layer_stats.models.complexity import METHOD, count_complexity  # noqa: E402
from layer_stats.models.features import FEATURE_KEYS, feature_totals, layer_features  # noqa: E402
from layer_stats.models.split import leaf_operations  # noqa: E402
from multi_network_stats.modelinfo import human  # noqa: E402

GENERATOR = os.path.join(ROOT, "layer_stats", "rawDataGeneration", "PowerLatencyDatasetGenerator.py")
PROCESS = os.path.join(ROOT, "layer_stats", "processedDataGeneration", "processData.py")
SEED_SAMPLE = os.path.join(ROOT, "tests", "fixtures", "seed", "multinet_sample_orin.json")
#: Whole networks at batch 1: (params, MACs, FLOPs) as integers, the block layer count (README) and the
#: leaf operations (the same on torch 1.10 and 2.x; alexnet's 22 as layer_stats.models.split says).
WHOLE = {
    "alexnet": (61100840, 714188480, 1429741184, 21, 22),
    "mobilenet_v2": (3504872, 300774272, 614967488, 21, 153),
    "mnasnet1_0": (4383312, 314415872, 644543104, 19, 152),
    "resnet50": (25557032, 4089184256, 8211108352, 22, 175),
}
NET = "squeezenet1_0"
#: One quick latency-only run of a small real network (no telemetry: features do not need it).
RUN = ["--mode", "0", "--simulate", "tx2", "--models", NET, "--imgs", "img1.jpg", "--eval_latency",
       "--lt_smpl_count", "3", "--lt_warmup", "1"]


def _features(name, granularity="block", batch=1):
    model = build_model(name)
    chain = split_model(model, granularity)
    return model, chain, layer_features(chain, torch.zeros(batch, 3, 224, 224))


@pytest.mark.parametrize("name", sorted(WHOLE))
def test_layer_sums_are_the_seeds_whole_network_figures(name):
    model, chain, layers = _features(name)
    params, macs, flops, count, leaf_ops = WHOLE[name]
    assert len(layers) == count and [layer["layer"] for layer in layers] == list(range(count))
    assert all(tuple(layer) == FEATURE_KEYS for layer in layers) and FEATURE_KEYS == LAYER_KEYS
    assert [layer["name"] for layer in layers] == chain.names
    total = feature_totals(layers)
    assert (total["params"], total["macs"], total["flops"]) == (params, macs, flops)
    assert sum(layer["params"] for layer in layers) == sum(p.numel() for p in model.parameters())
    with open(SEED_SAMPLE) as handle:
        seed = json.load(handle)["ModelInfo"][name]["cuda"]
    assert (human(total["params"]), human(total["macs"]), human(total["flops"])) == (
        seed["params"], seed["macs"], seed["flops"])
    assert total["leaf_ops"] == leaf_operations(model) == leaf_ops
    # shapes chain: each layer's output is the next one's input
    assert layers[0]["input_shape"] == [1, 3, 224, 224] and layers[-1]["output_shape"] == [1, 1000]
    for here, following in zip(layers, layers[1:]):
        assert here["output_shape"] == following["input_shape"]
    assert (total["input_shape"], total["output_shape"]) == ([1, 3, 224, 224], [1, 1000])
    assert all(layer["types"] and layer["leaf_ops"] >= 1 for layer in layers) and layers[-1]["types"] == "Linear"
    if name == "mobilenet_v2":  # features.0, a Conv2dNormActivation: a Sequential, traced through
        assert layers[0]["types"] == "Conv2d+BatchNorm2d+ReLU6" and layers[0]["output_shape"] == [1, 32, 112, 112]


def test_a_batch_counts_every_image():
    _, _, one = _features("alexnet")
    _, _, two = _features("alexnet", batch=2)
    for a, b in zip(one, two):
        assert b["macs"] == 2 * a["macs"] and b["flops"] == 2 * a["flops"] and b["params"] == a["params"]
        assert b["input_shape"] == [2] + a["input_shape"][1:] and b["types"] == a["types"]


def test_types_name_the_modules_a_layer_calls_in_order():
    _, chain, layers = _features("resnet18")
    by_name = dict(zip(chain.names, layers))
    assert by_name["conv1"]["types"] == "Conv2d" and by_name["maxpool"]["types"] == "MaxPool2d"
    block = by_name["layer1.0"]  # a BasicBlock: conv, bn, relu, conv, bn, the skip's add, relu
    assert block["types"] == "Conv2d+BatchNorm2d+ReLU+Conv2d+BatchNorm2d+ReLU" and block["leaf_ops"] == 7
    downsample = by_name["layer2.0"]
    assert downsample["types"].split("+").count("Conv2d") == 3 and downsample["output_shape"] == [1, 128, 28, 28]
    assert layers[-1]["types"] == "Linear" and layers[-1]["leaf_ops"] == 2  # flatten joins fc
    assert layers[-1]["input_shape"] == [1, 512, 1, 1] and layers[-1]["params"] == 512 * 1000 + 1000


def test_fine_layers_sum_alike_and_a_layer_without_modules_names_its_functions():
    _, _, layers = _features("alexnet", "fine")
    total = feature_totals(layers)
    assert (total["params"], total["macs"], total["flops"]) == WHOLE["alexnet"][:3]
    (flatten,) = [layer for layer in layers if layer["types"] == "flatten"]
    assert flatten["leaf_ops"] == 1 and flatten["params"] == flatten["macs"] == 0
    assert flatten["input_shape"] == [1, 256, 6, 6] and flatten["output_shape"] == [1, 9216]


# -- the generator's features file, and processData's join ------------------------------------------


def generate(root, *extra):
    return run_main(GENERATOR, "--output_root", root, *(RUN + list(extra)), blocked=(),
                    env={"FAKE_NVPMODEL_MODE": "0"})


def process(root):
    """processData in this process, without torch; ``(done, {layer: row}, header)``."""
    out = os.path.join(root, "Processed")
    done = run_main(PROCESS, "--input_root", root, "--output_root", out)
    assert done.returncode == 0, done.stderr[-3000:]
    with io.open(os.path.join(out, "LayerStats.csv"), encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = {row["layer"]: row for row in reader}
    return done, rows, reader.fieldnames


def features_path(root):
    return layout.features_file(root, "block", 1, NET)


def raw_files(root):
    base = layout.mode_dir(root, 0)
    return [os.path.join(folder, name) for folder, _, names in os.walk(base) for name in names
            if name.endswith(".jsonl")]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("features") / "Dataset")
    done = generate(root)
    assert done.returncode == 0, done.stderr[-3000:]
    return root


def copy_of(dataset, tmp_path):
    root = str(tmp_path / "Dataset")
    shutil.copytree(dataset, root)
    return root


def test_the_generator_writes_the_features_once_next_to_the_data(dataset):
    doc = read_features(features_path(dataset))
    assert (doc["format_version"], doc["method"], doc["network"], doc["granularity"], doc["batch_size"]) == (
        1, METHOD, NET, "block", 1)
    assert doc["torch"] == torch.__version__
    latency = read_lines(layout.raw_file(dataset, 0, "cpu", "latency", NET, "img1"), "latency")
    layers = doc["layers"]
    assert [layer["name"] for layer in layers] == [line["name"] for line in latency[:-1]]
    # the shapes the generator measured each layer on
    assert [layer["input_shape"] for layer in layers] == [line["input_shape"] for line in latency[:-1]]
    assert doc["input_shape"] == latency[-1]["input_shape"] == [1, 3, 224, 224]
    model = build_model(NET)
    assert doc["total"]["params"] == sum(p.numel() for p in model.parameters())
    assert doc["total"]["macs"] == count_complexity(model, torch.zeros(1, 3, 224, 224)).macs
    # the multi-DNN ModelInfo of every layer is the same figures
    from multi_network_stats.netcache import NetworkCache

    cache = NetworkCache({NET: len(layers)}, torch.zeros(1, 3, 224, 224), True, 10 ** 12)
    infos = cache.get(NET).layer_info
    assert [(i["params"], i["macs"], i["flops"], i["functionalLayerCount"]) for i in infos] == [
        (layer["params"], layer["macs"], layer["flops"], layer["leaf_ops"]) for layer in layers]


def test_a_rerun_keeps_the_features_file(dataset, tmp_path):
    root = copy_of(dataset, tmp_path)
    before = mtimes(raw_files(root) + [features_path(root)])
    done = generate(root)
    assert done.returncode == 0, done.stderr[-3000:]
    assert mtimes(list(before)) == before and "features of" not in done.stderr


def test_processed_csv_carries_each_layers_features_and_the_models_totals(dataset, tmp_path):
    root = copy_of(dataset, tmp_path)
    done, rows, header = process(root)
    at = header.index("name") + 1
    assert header[at:at + len(CSV_COLUMNS)] == list(CSV_COLUMNS)
    doc = read_features(features_path(root))
    for layer in doc["layers"]:
        row = rows[str(layer["layer"])]
        assert row["types"] == layer["types"] and row["name"] == layer["name"]
        assert row["input_shape"] == shape_text(layer["input_shape"]) == "x".join(map(str, layer["input_shape"]))
        assert row["output_shape"] == shape_text(layer["output_shape"])
        assert [int(row[k]) for k in ("params", "macs", "flops", "leaf_ops")] == [
            layer[k] for k in ("params", "macs", "flops", "leaf_ops")]
    model = rows["model"]
    layer_rows = [row for key, row in rows.items() if key != "model"]
    for key in ("params", "macs", "flops", "leaf_ops"):
        assert int(model[key]) == sum(int(row[key]) for row in layer_rows) == doc["total"][key]
    assert (model["types"], model["input_shape"], model["output_shape"]) == ("", "1x3x224x224", "1x1000")
    with open(os.path.join(root, "Processed", "Mode0.provenance.json")) as handle:
        assert json.load(handle)["format_version"] == 2
    out = os.path.join(root, "Processed")
    assert "wrote {}: Mode0.json, Mode0.provenance.json, LayerStats.csv".format(out) in done.stdout
    assert "python3 -m layer_stats.report --input_root {} --out {}".format(
        root, os.path.join(root, "report")) in done.stdout
    assert "no features file" not in done.stderr and "WARNING" not in done.stderr


def test_data_without_features_process_and_a_rerun_adds_them_without_measuring(dataset, tmp_path):
    root = copy_of(dataset, tmp_path)
    os.remove(features_path(root))
    done, rows, header = process(root)
    assert all(row[c] == "" for row in rows.values() for c in CSV_COLUMNS) and "types" in header
    notes = [line for line in done.stderr.splitlines() if "no features file" in line]
    assert len(notes) == 1 and "INFO" in notes[0] and "{} (block, batch 1)".format(NET) in notes[0]
    assert "rerun the generator" in notes[0] and "WARNING" not in done.stderr
    before = mtimes(raw_files(root))
    done = generate(root)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "every raw file is done" in done.stderr and "nothing is measured" in done.stderr
    assert mtimes(list(before)) == before and read_features(features_path(root))["layers"]
    _, rows, _ = process(root)
    assert rows["0"]["types"] == "Conv2d" and rows["model"]["params"] != ""
    assert rows["3"]["types"] == "Conv2d+ReLU+Conv2d+ReLU+Conv2d+ReLU"  # a Fire module: squeeze, expand 1x1 and 3x3


def test_a_corrupt_features_file_is_one_warning_and_empty_columns(dataset, tmp_path):
    root = copy_of(dataset, tmp_path)
    path = features_path(root)
    with open(path) as handle:
        doc = json.load(handle)
    doc["total"]["macs"] += 1
    with open(path, "w") as handle:
        json.dump(doc, handle)
    done, rows, _ = process(root)
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and path in warnings[0] and "total macs" in warnings[0], done.stderr
    assert all(row[c] == "" for row in rows.values() for c in CSV_COLUMNS)
    assert rows["0"]["latency_mean_s"] != ""  # the measurements are all there
    with open(path, "w") as handle:
        handle.write('{"format_version": 1, "layers": [')  # truncated
    done, rows, _ = process(root)
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "not JSON" in warnings[0] and rows["model"]["params"] == ""
    done = generate(root)  # the generator writes it again
    assert done.returncode == 0 and "writing it again" in done.stderr, done.stderr[-3000:]
    assert read_features(path)["total"]["macs"] == doc["total"]["macs"] - 1


def test_layers_of_another_chain_are_not_joined(dataset, tmp_path):
    root = copy_of(dataset, tmp_path)
    path = features_path(root)
    with open(path) as handle:
        doc = json.load(handle)
    doc["layers"][3]["name"] = "features.99"
    with open(path, "w") as handle:
        json.dump(doc, handle)
    done, rows, _ = process(root)
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "layer 3 is 'features.99' there" in warnings[0]
    assert rows["3"]["types"] == "" and rows["model"]["macs"] == ""


@pytest.mark.parametrize("mutate, why", [
    (lambda d: d.update(format_version=2), "format_version 2 is not one this version reads"),
    (lambda d: d.update(batch_size=True), "batch_size True"),
    (lambda d: d["layers"][2].update(input_shape=[1, 7]), "layers[2] input_shape [1, 7] is not the previous output"),
    (lambda d: d["layers"][1].update(params=-1), "layers[1] params -1 is not a count"),
    (lambda d: d["layers"][1].update(macs=1.5), "layers[1] macs 1.5 is not a count"),
    (lambda d: d["layers"][0].update(layer=1), "layers[0] says layer 1"),
    (lambda d: d["layers"][0].pop("types"), "layers[0] is not an object with"),
    (lambda d: d["total"].update(output_shape=[1, 10]), "total output_shape [1, 10]"),
    (lambda d: d.update(layers=[]), "layers is not a non-empty list"),
])
def test_the_reader_names_what_is_wrong(dataset, mutate, why):
    doc = read_features(features_path(dataset))
    assert features_problem(doc) is None
    mutate(doc)
    assert why in features_problem(doc)
