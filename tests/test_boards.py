"""Board tables, detection and --tgr_params names."""
import os

import pytest

from conftest import corpus_files
from layer_stats.errors import DnnStatsError
from layer_stats.tegrastats import boards
from layer_stats.tegrastats.detect import board_from_model, board_from_sample, detect_board, resolve_board
from layer_stats.tegrastats.params import param_keys, resolve_params, role_rail, valid_params
from layer_stats.tegrastats.parse import parse_file, parse_line

# Corpus file prefix -> the board its rails must be detected as.
EXPECTED = {
    "tx2": "tx2", "tx1_unknown": "tx1", "nano_": "nano", "nano4gb": "nano", "agxxavier": "xavier",
    "agxorin": "agx-orin", "thor": "thor", "orinnano": "orin", "orinnx": "orin",
    "xaviernx": "xavier-nx",  # same rails as Orin NX/Nano: told apart by the sensors
}


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: os.path.basename(p))
def test_board_from_corpus_rails(path):
    name = os.path.basename(path)
    sample = next(parse_file(path))
    expected = [v for k, v in EXPECTED.items() if name.startswith(k)]
    found = board_from_sample(sample)
    if not expected or not [k for k in sample if k.endswith("_mW")]:
        assert found is None or expected, name
        return
    assert found == expected[0], name


@pytest.mark.parametrize("model,board", [
    ("NVIDIA Jetson TX2", "tx2"), ("quill", "tx2"), ("Jetson-AGX", "xavier"),
    ("NVIDIA Jetson AGX Xavier Developer Kit", "xavier"), ("NVIDIA Jetson Xavier NX Developer Kit", "xavier-nx"),
    ("NVIDIA Jetson Orin Nano Developer Kit", "orin"), ("NVIDIA Orin NX Developer Kit", "orin"),
    ("Jetson AGX Orin", "agx-orin"), ("NVIDIA Jetson AGX Thor Developer Kit", "thor"),
    ("NVIDIA Jetson Nano Developer Kit", "nano"), ("jetson_tx1", "tx1"), ("Raspberry Pi 4", None),
])
def test_board_from_device_tree_model(model, board):
    assert board_from_model(model) == board


def test_detect_board_reads_fake_device_tree(tmp_path):
    (tmp_path / "proc" / "device-tree").mkdir(parents=True)
    (tmp_path / "proc" / "device-tree" / "model").write_bytes(b"NVIDIA Jetson TX2\x00")
    assert detect_board(str(tmp_path)) == "tx2"
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    assert detect_board(str(empty)) is None
    line = "RAM 1/2MB VDD_IN 5299mW/5299mW VDD_CPU_GPU_CV 773mW/773mW VDD_SOC 1424mW/1424mW"
    assert detect_board(str(empty), parse_line(line + " cpu@47.9C soc0@46C tj@48C")) == "orin"
    assert detect_board(str(empty), parse_line(line + " AUX@45C CPU@46.5C thermal@45.6C AO@45C")) == "xavier-nx"


def test_resolve_board_accepts_seed_names_and_rejects_unknown():
    assert resolve_board("Tx2") == "tx2" and resolve_board("Orin") == "orin" and resolve_board("AGX_Orin") == "agx-orin"
    with pytest.raises(DnnStatsError) as err:
        resolve_board("tx3")
    assert "tx2" in str(err.value) and "agx-orin" in str(err.value)


def test_every_board_table_entry_is_complete():
    for key, entry in boards.BOARDS.items():
        rails = boards.all_rails(key)
        for role, candidates in entry["roles"].items():
            assert all(r in rails for r in candidates or ()), (key, role)
        for raw in entry.get("sum_rails", []):
            assert raw in rails, key
        if entry["roles"]["total"] is None:
            assert entry.get("sum_rails"), key
        assert set(entry["sim"]["power"]) <= set(rails), key
        for friendly, raw in entry["friendly"].items():
            assert raw in rails or raw in entry["temps"], (key, friendly)


def test_params_raw_and_friendly_names_resolve():
    params = resolve_params("orin", "IN Power,GPU CPU CV Power,VDD_SOC,CPU Temperature,RAM,CPU,GR3D_FREQ")
    assert [(p.kind, p.raw) for p in params] == [
        ("rail", "VDD_IN"), ("rail", "VDD_CPU_GPU_CV"), ("rail", "VDD_SOC"), ("temp", "cpu"),
        ("memory", "RAM"), ("cpu", "CPU"), ("engine", "GR3D_FREQ")]
    xavier = resolve_params("xavier", ["GPU", "GPU Temperature"])
    assert [(p.kind, p.raw) for p in xavier] == [("rail", "GPU"), ("temp", "GPU")]


def test_seed_default_tgr_params_are_valid_on_tx2():
    seed_default = ["RAM", "SWAP", "CPU", "EMC_FREQ", "MCPU", "GPU", "BCPU", "VDD_SYS_GPU", "VDD_SYS_SOC",
                    "VDD_SYS_CPU", "VDD_SYS_DDR"]
    assert len(resolve_params("tx2", seed_default)) == len(seed_default)


def test_unknown_param_lists_valid_names():
    with pytest.raises(DnnStatsError) as err:
        resolve_params("tx2", ["VDD_SYS_CPU", "VDD_GPU_SOC"])
    message = str(err.value)
    assert "'VDD_GPU_SOC'" in message and "VDD_SYS_GPU" in message and "BCPU" in message
    assert "\n" not in message
    assert "VDD_SYS_GPU" in valid_params("tx2")


def test_param_keys_match_case_of_each_jetpack():
    jp5 = parse_line("CPU@47.937C VDD_IN 5299mW/5299mW")
    jp6 = parse_line("cpu@47.9C VDD_IN 5299mW/5299mW")
    temp = resolve_params("orin", ["CPU Temperature"])[0]
    assert param_keys(temp, jp5) == ["temp_CPU_C"] and param_keys(temp, jp6) == ["temp_cpu_C"]
    assert param_keys(resolve_params("orin", ["VDD_IN"])[0], jp5) == ["VDD_IN_mW"]


def test_role_rails_follow_the_board_and_jetpack():
    assert role_rail("tx2", "cpu") == "VDD_SYS_CPU" and role_rail("tx2", "gpu") == "VDD_SYS_GPU"
    jp3 = parse_line("VDD_IN 2003/2658 VDD_CPU 320/518 VDD_GPU 400/735")
    assert role_rail("tx2", "cpu", jp3) == "VDD_CPU"
    assert role_rail("orin", "cpu") == role_rail("orin", "gpu") == "VDD_CPU_GPU_CV"
    assert role_rail("xavier", "total") is None and role_rail("agx-orin", "gpu") == "VDD_GPU_SOC"
