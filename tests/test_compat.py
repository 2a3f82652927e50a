"""Processed outputs are a contract: the same raw input gives the same files, whatever the code's layout.

``tests/fixtures/compat/raw`` is a small real dataset (simulated TX2 layer-wise run of
squeezenet1_0 and mobilenet_v3_small on two images; simulated Orin multi-DNN run of ten
mappings, classes A, C and D) and ``expected_*`` what post-processing made of it when it was
recorded (see tests/fixtures/README.md), on Python 3.11, by the hand-written statistics that
pandas has replaced since.  Every file must hold the same text: same keys, rows, columns and
order, same labels, and the same numbers to 12 significant digits (float64 sums and the
standard deviation may differ in their last bit: ``statistics.stdev`` computes exactly, and
differently on Python 3.6 and 3.11; pandas sums in float64, compensated from pandas 1.3 on).
Both post-processing scripts run without torch.  The layer-wise outputs are compared as they were
before format version 2 (:func:`_as_recorded`: that version added the feature columns, empty for
this raw data, which has no features files, and the provenance's ``format_version``).
"""
import csv
import io
import json
import math
import os
import shutil

from conftest import ROOT, run_script

COMPAT = os.path.join(ROOT, "tests", "fixtures", "compat")
LAYER_SCRIPT = os.path.join(ROOT, "layer_stats", "processedDataGeneration", "processData.py")
MULTI_SCRIPT = os.path.join(ROOT, "multi_network_stats", "postProcessMultinetDB.py")


def _files(root):
    return sorted(os.path.relpath(os.path.join(folder, name), root)
                  for folder, _, names in os.walk(root) for name in names)


def _cell(text):
    """A CSV cell as a float where it reads as a finite one, else its text."""
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def _same(want, got, where):
    if isinstance(want, float) or isinstance(got, float):
        assert isinstance(got, (int, float)) and not isinstance(got, bool), where
        assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-300), "{}: {!r} != {!r}".format(where, got, want)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), where
        for key in want:
            _same(want[key], got[key], "{}.{}".format(where, key))
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (w, g) in enumerate(zip(want, got)):
            _same(w, g, "{}[{}]".format(where, i))
    else:
        assert got == want and type(got) is type(want), "{}: {!r} != {!r}".format(where, got, want)


def _content(path):
    """A JSON file's value, or a CSV file's rows of cells (see :func:`_cell`)."""
    with io.open(path, encoding="utf-8") as handle:
        text = handle.read()
    if path.endswith((".json", ".jsonl")):
        return [json.loads(line) for line in text.splitlines()] if path.endswith(".jsonl") else json.loads(text)
    return [[_cell(c) for c in row] for row in csv.reader(io.StringIO(text))]


def _same_tree(expected, actual):
    assert _files(actual) == _files(expected)
    for rel in _files(expected):
        _same(_content(os.path.join(expected, rel)), _content(os.path.join(actual, rel)), rel)


def _raw_copy(tmp_path):
    raw = str(tmp_path / "raw")
    shutil.copytree(os.path.join(COMPAT, "raw"), raw)
    return raw


#: The columns processed outputs of format_version 2 add to LayerStats.csv (empty here: the raw data
#: were made before features files).
FEATURE_COLUMNS = ["types", "input_shape", "output_shape", "params", "macs", "flops", "leaf_ops"]


def _as_recorded(out):
    """Version-2 outputs in ``out`` rewritten as the recorded (unversioned) ones: the provenance's
    ``format_version`` (2) and the CSV's feature columns (right after ``name``, empty) taken out."""
    path = os.path.join(out, "Mode0.provenance.json")
    with io.open(path, encoding="utf-8") as handle:
        provenance = json.load(handle)
    assert provenance.pop("format_version") == 2
    with io.open(path, "w", encoding="utf-8") as handle:
        json.dump(provenance, handle)
    path = os.path.join(out, "LayerStats.csv")
    with io.open(path, encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    at = rows[0].index("name") + 1
    assert rows[0][at:at + len(FEATURE_COLUMNS)] == FEATURE_COLUMNS
    assert all(cell == "" for row in rows[1:] for cell in row[at:at + len(FEATURE_COLUMNS)])
    with io.open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(row[:at] + row[at + len(FEATURE_COLUMNS):] for row in rows)


def test_layerwise_outputs_match_the_recorded_ones(tmp_path):
    raw = _raw_copy(tmp_path)
    out = str(tmp_path / "processed")
    result = run_script(LAYER_SCRIPT, "--input_root", raw, "--output_root", out)
    assert result.returncode == 0, result.stderr
    _as_recorded(out)
    _same_tree(os.path.join(COMPAT, "expected_layerwise"), out)


def test_multinet_outputs_match_the_recorded_ones(tmp_path):
    raw = _raw_copy(tmp_path)
    out = str(tmp_path / "processed")
    result = run_script(MULTI_SCRIPT, "--input_file_root", os.path.join(raw, "Multinet"), "--output_file_root", out)
    assert result.returncode == 0, result.stderr
    _same_tree(os.path.join(COMPAT, "expected_multinet"), out)


def test_post_processing_leaves_the_raw_files_alone(tmp_path):
    raw = _raw_copy(tmp_path)
    run_script(LAYER_SCRIPT, "--input_root", raw, "--output_root", str(tmp_path / "a"))
    run_script(MULTI_SCRIPT, "--input_file_root", os.path.join(raw, "Multinet"), "--output_file_root",
               str(tmp_path / "b"))
    original = os.path.join(COMPAT, "raw")
    assert _files(raw) == _files(original)
    for rel in _files(original):
        with open(os.path.join(original, rel), "rb") as want, open(os.path.join(raw, rel), "rb") as got:
            assert got.read() == want.read(), rel


def test_the_comparison_sees_a_changed_number_and_a_changed_label(tmp_path):
    expected = os.path.join(COMPAT, "expected_layerwise")
    for old, new in (("0.0", "0.1"), ("squeezenet1_0", "squeezenet1_1")):
        changed = str(tmp_path / new)
        shutil.copytree(expected, changed)
        path = os.path.join(changed, "LayerStats.csv")
        with io.open(path, encoding="utf-8") as handle:
            text = handle.read()
        assert old in text
        with io.open(path, "w", encoding="utf-8") as handle:
            handle.write(text.replace(old, new, 1))
        try:
            _same_tree(expected, changed)
        except AssertionError:
            continue
        raise AssertionError("a change of {!r} to {!r} went unseen".format(old, new))
