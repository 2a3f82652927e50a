"""Mode checks and run metadata against a fake TX2 root and a fake nvpmodel."""
import os

import pytest

from conftest import ROOT
from layer_stats.errors import DnnStatsError
from layer_stats.nvpmodel import check_mode, conf_block, query_mode
from layer_stats.runmeta import UNAVAILABLE, collect_all, collect_jetson_clocks, collect_l4t

TX2_ROOT = os.path.join(ROOT, "tests", "fixtures", "jetson_root", "tx2")
FAKE_NVPMODEL = os.path.join(ROOT, "tests", "fixtures", "fake", "nvpmodel")


def test_query_mode_reads_name_and_number(monkeypatch):
    monkeypatch.setenv("FAKE_NVPMODEL_MODE", "1")
    assert query_mode(FAKE_NVPMODEL) == {"id": 1, "name": "MAXQ"}


def test_query_mode_without_nvpmodel_is_none(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    if os.access("/usr/sbin/nvpmodel", os.X_OK):
        pytest.skip("this host has nvpmodel")
    assert query_mode() is None


def test_check_mode():
    assert check_mode(0, {"id": 0, "name": "MAXN"}) == "match"
    assert check_mode(0, None) == "unavailable"
    assert check_mode(0, {"id": 1, "name": "MAXQ"}, force=True) == "forced"
    with pytest.raises(DnnStatsError) as err:
        check_mode(0, {"id": 1, "name": "MAXQ"})
    message = str(err.value)
    assert "mismatch" in message and "nvpmodel -m 0" in message and "--force_mode" in message


def test_conf_block_is_the_modes_section_only():
    block = conf_block(1, TX2_ROOT)
    assert block.startswith("< POWER_MODEL ID=1 NAME=MAXQ >")
    assert "CPU_A57 MAX_FREQ 1267200" in block and "MAXN" not in block and "PM_CONFIG" not in block
    assert "GPU MAX_FREQ -1" in conf_block(0, TX2_ROOT)
    assert conf_block(7, TX2_ROOT) is None
    assert conf_block(0, "/nonexistent") is None


def test_collect_on_a_fake_tx2():
    assert collect_l4t(TX2_ROOT) == {"l4t_release": "32.7.1"}
    clocks = collect_jetson_clocks(TX2_ROOT)
    assert clocks["jetson_clocks"] == "off" and clocks["cpu_max_MHz"] == [2035] * 6
    meta = collect_all(TX2_ROOT)
    assert meta["board_model"] == "quill" and meta["l4t_release"] == "32.7.1"


def test_collect_off_a_jetson_says_unavailable(tmp_path):
    meta = collect_all(str(tmp_path))
    assert meta["board_model"] == UNAVAILABLE and meta["l4t_release"] == UNAVAILABLE
    assert meta["jetson_clocks"] == UNAVAILABLE
