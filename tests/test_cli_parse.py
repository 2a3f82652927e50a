"""``parse`` and ``params`` as a user runs them."""
import json
import os

import pandas as pd

from conftest import CORPUS, cli

ORIN = os.path.join(CORPUS, "agxorin64_jp6_abdel-e-tegrastats-parser.log")
TX2 = os.path.join(CORPUS, "tx2_jp4_datadog-agent.log")


def test_parse_csv_opens_in_pandas(tmp_path):
    out = tmp_path / "orin.csv"
    result = cli("parse", "--format", "csv", "--out", out, ORIN, TX2)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(str(out))
    assert len(frame) == 4111 + 1
    assert list(frame.columns[:3]) == ["file", "line", "timestamp"]
    orin = frame[frame["file"] == ORIN]
    assert orin["VDD_GPU_SOC_mW"].notna().all() and orin["VDD_SYS_CPU_mW"].isna().all()
    assert orin["RAM_used_MB"].iloc[0] == 6879 and orin["line"].tolist() == list(range(1, 4112))
    assert frame[frame["file"] == TX2]["VDD_SYS_CPU_mW"].tolist() == [152]
    assert frame["unparsed"].isna().all()
    assert frame["CPU11_freq_MHz"].max() > 0


def test_parse_jsonl_to_stdout():
    result = cli("parse", TX2)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 1 and rows[0]["VDD_IN_mW"] == 3056 and rows[0]["line"] == 1


def test_parse_missing_log_is_one_line_error(tmp_path):
    out = tmp_path / "x.csv"
    result = cli("parse", "--format", "csv", "--out", out, "/no/such.log")
    assert result.returncode == 2 and result.stderr.startswith("ERROR: LOG '/no/such.log': no such file")
    assert not out.exists() and not list(tmp_path.iterdir())


def test_params_lists_roles_and_names():
    result = cli("params", "--board", "Tx2")
    assert result.returncode == 0, result.stderr
    assert "cpu    power: VDD_SYS_CPU" in result.stdout and "IN Power" in result.stdout
    xavier = cli("params", "--board", "xavier").stdout
    assert "total  power: sum of GPU+CPU+SOC+CV+VDDRQ+SYS5V" in xavier
