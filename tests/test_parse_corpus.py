"""The parser on the real corpus: every line, no leftovers, and values checked by hand."""
import random

import pytest

from conftest import corpus_files, corpus_line
from layer_stats.tegrastats.parse import LineParser, column_order, parse_file, parse_line


def grammar_only():
    """A parser that never reuses a compiled layout: the grammar on every line."""
    return LineParser(max_layouts=0)


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.rsplit("/", 1)[-1])
def test_every_corpus_line_parses_completely_and_fast_path_equals_grammar(path):
    slow = grammar_only()
    with open(path) as handle:
        lines = handle.read().splitlines()
    parsed = list(parse_file(path))
    assert len(parsed) == len(lines) > 0
    for line, fast in zip(lines, parsed):
        assert fast["unparsed"] == [], line
        reference = slow.parse(line)
        assert fast == reference, line
        assert [type(fast[k]) for k in reference] == [type(v) for v in reference.values()], line
        assert len(fast) > 5, line


def test_corpus_has_all_boards_and_about_ten_thousand_lines():
    files = corpus_files()
    assert len(files) == 40
    assert sum(sum(1 for _ in open(f)) for f in files) > 10000


def test_tx2_jp4_root_line_values():
    d = parse_line(corpus_line("tx2_jp4_datadog-agent.log"))
    assert (d["RAM_used_MB"], d["RAM_total_MB"], d["RAM_lfb_blocks"], d["RAM_lfb_block_kB"]) == (2344, 7852, 1154, 4096)
    assert (d["SWAP_used_MB"], d["SWAP_total_MB"], d["SWAP_cached_MB"]) == (0, 3926, 0)
    assert [d["CPU{}_util_pct".format(i)] for i in range(6)] == [1, None, None, 1, 0, 2]
    assert [d["CPU{}_freq_MHz".format(i)] for i in range(6)] == [345, None, None, 345, 345, 345]
    assert "CPU6_util_pct" not in d
    assert (d["EMC_FREQ_util_pct"], d["EMC_FREQ_freq_MHz"]) == (4, 1600)
    assert (d["GR3D_FREQ_util_pct"], d["GR3D_FREQ_freq_MHz"], d["APE_freq_MHz"]) == (0, 624, 150)
    assert d["temp_BCPU_C"] == 37.5 and d["temp_Tdiode_C"] == 34.25 and d["temp_PMIC_C"] == 100.0
    rails = {"VDD_SYS_GPU": 152, "VDD_SYS_SOC": 687, "VDD_4V0_WIFI": 0, "VDD_IN": 3056,
             "VDD_SYS_CPU": 152, "VDD_SYS_DDR": 883}
    for rail, mw in rails.items():
        assert d[rail + "_mW"] == mw and d[rail + "_avg_mW"] == mw
    assert "timestamp" not in d


def test_tx2_jp4_rail_average_differs_from_current():
    d = parse_line(corpus_line("tx2-4gb_jp4_aptpod-zabbix-tegrastats.log"))
    assert (d["VDD_IN_mW"], d["VDD_IN_avg_mW"]) == (2930, 3405)
    assert (d["MTS_fg_pct"], d["MTS_bg_pct"]) == (0, 1)
    assert "VDD_4V0_WIFI_mW" not in d and "SWAP_used_MB" not in d


def test_agx_orin_jp6_bracketed_gpu_clocks_engines_and_rails():
    d = parse_line(corpus_line("agxorin64_jp6_hanner123-llm-pipeline-a.log"))
    assert d["timestamp"] == "07-21-2025 16:33:42"
    assert (d["GR3D_FREQ_util_pct"], d["GR3D_FREQ_freq_MHz"]) == (39, 305)
    assert (d["GR3D_FREQ_gpc0_freq_MHz"], d["GR3D_FREQ_gpc1_freq_MHz"]) == (305, 0)
    assert [d["CPU{}_util_pct".format(i)] for i in range(8, 12)] == [None] * 4
    assert d["NVENC_state"] == "off" and d["PVA0_FREQ_state"] == "off" and "NVENC_util_pct" not in d
    assert (d["VDD_GPU_SOC_mW"], d["VDD_CPU_CV_mW"], d["VIN_SYS_5V0_mW"]) == (2798, 799, 3315)
    assert d["temp_cpu_C"] == 43.906 and d["temp_tj_C"] == 43.906


def test_agx_orin_jp5_repeated_nc_rail_and_absent_sensors():
    d = parse_line(corpus_line("agxorin64_jp5.1_catid-blog2022.log"))
    assert (d["NC_mW"], d["NC_2_mW"], d["VDDQ_VDD2_1V8AO_mW"]) == (0, 0, 301)
    assert d["temp_CV0_C"] is None and d["temp_GPU_C"] is None and d["temp_CPU_C"] == 42.593
    assert (d["GR3D_FREQ_freq_MHz"], d["GR3D2_FREQ_freq_MHz"], d["VIC_FREQ_freq_MHz"]) == (0, 0, 729)
    assert d["RAM_lfb_blocks"] == 15152


def test_jp7_triples_and_temperature_maxima():
    d = parse_line(corpus_line("agxorin64_jp7.2-l4t39.2_rbonghi-jetson-stats.log"))
    assert (d["VDD_GPU_SOC_mW"], d["VDD_GPU_SOC_avg_mW"], d["VDD_GPU_SOC_max_mW"]) == (5139, 5139, 5139)
    assert (d["temp_cpu_C"], d["temp_cpu_max_C"]) == (52.968, 52.968)
    assert (d["RAM_lfb_blocks"], d["RAM_lfb_block_kB"]) == (1, 2048)
    assert "SWAP_used_MB" not in d and d["NVENC0_state"] == "off"
    assert (d["EMC_FREQ_util_pct"], d["EMC_FREQ_freq_MHz"]) == (3, 3199)


def test_thor_frequency_only_engines_three_gpcs():
    d = parse_line(corpus_line("thor_jp7-l4t38.4.0_lesomnus-tegra-exporter.log"))
    assert "GR3D_FREQ_util_pct" not in d
    assert [d["GR3D_FREQ_gpc{}_freq_MHz".format(j)] for j in range(3)] == [0, 0, 0]
    assert d["NVENC1_FREQ_freq_MHz"] == 0 and d["APE_freq_MHz"] == 300
    assert d["CPU13_freq_MHz"] == 972 and "CPU14_freq_MHz" not in d
    assert (d["VDD_CPU_SOC_MSS_mW"], d["RAM_total_MB"]) == (4165, 125773)
    assert "temp_soc012_C" in d


def test_non_root_lines_keep_what_is_there():
    d = parse_line(corpus_line("agxorin64_jp6_datadog-agent.log"))
    assert d["GR3D_FREQ_util_pct"] == 0 and "GR3D_FREQ_freq_MHz" not in d and "EMC_FREQ_util_pct" not in d
    x = parse_line(corpus_line("agxxavier16_jp4.1-l4t31_rbonghi-jetson-stats.log", 1))
    assert (x["GPU_mW"], x["CPU_mW"], x["SOC_mW"], x["SYS5V_mW"]) == (621, 465, 1397, 2053)
    assert x["temp_GPU_C"] == 26.5 and x["temp_iwlwifi_C"] == 32.0


def test_tx1_oldest_format_shares_one_cpu_clock():
    d = parse_line(corpus_line("tx1_l4t28.1_hordiales-jetson-tx1-dev.log", 2))
    assert [d["CPU{}_util_pct".format(i)] for i in range(4)] == [1, 0, 4, 0]
    assert [d["CPU{}_freq_MHz".format(i)] for i in range(4)] == [1734] * 4
    assert (d["EMC_util_pct"], d["EMC_freq_MHz"], d["GR3D_freq_MHz"]) == (0, 1600, 998)
    g = parse_line(corpus_line("tx1_l4t24-likely_martinkersner-gtop-provenance-uncertain.log"))
    assert g["EDP_limit_MHz"] == 1734 and g["MSENC_freq_MHz"] == 192 and g["AVP_util_pct"] == 1


def test_nano_iram_and_small_lfb_units():
    d = parse_line(corpus_line("nano_jp4.6.1_waggle-jetson-exporter.log"))
    assert (d["IRAM_used_kB"], d["IRAM_total_kB"], d["IRAM_lfb_kB"]) == (0, 252, 252)
    assert (d["POM_5V_IN_mW"], d["POM_5V_IN_avg_mW"]) == (1750, 1628)
    n = parse_line(corpus_line("nano2gb_jp4.6-l4t32.6.1_kostaleonard-jetson-tf-mnist.log"))
    assert (n["RAM_lfb_blocks"], n["RAM_lfb_block_kB"]) == (16, 256)
    assert not [k for k in n if k.endswith("_mW")]
    t = parse_line(corpus_line("tx2_jp3-l4t28_rbonghi-jetson-stats.log"))
    assert (t["RAM_lfb_blocks"], t["RAM_lfb_block_kB"]) == (1, 512)


def test_drive_orin_load_only_engines_and_frequency_without_load():
    d = parse_line(corpus_line("orin-drive-likely_unknown_neleon-tegrastats-parser.log"))
    assert d["EMC_FREQ_freq_MHz"] == 3199 and "EMC_FREQ_util_pct" not in d
    assert d["NVENC_LOAD_util_pct"] == 7 and d["GR3D2_FREQ_util_pct"] == 99
    p = parse_line(corpus_line("tx2_jp4_putmotorsport-tx2-bsp.log"))
    assert p["GR3D_FREQ_freq_MHz"] == 0 and "GR3D_FREQ_util_pct" not in p


def test_multiple_spaces_between_tokens():
    d = parse_line(corpus_line("agxorin32devkit_jp6-r36_datadog-agent.log"))
    assert d["unparsed"] == [] and d["NVENC_state"] == "off" and d["APE_freq_MHz"] == 174
    assert d["CPU5_util_pct"] == 100 and d["CPU5_freq_MHz"] == 2201


def test_never_raises_on_garbage_truncation_and_odd_types():
    rng = random.Random(7)
    line = corpus_line("agxorin64_jp6_abdel-e-tegrastats-parser.log")
    cases = [None, b"RAM 1/2MB \xff\xfe", 42, "", "   ", "\x00\x01", line[:1]]
    cases += [line[:i] for i in range(0, len(line), 7)]
    cases += ["".join(rng.choice("RAMCPU[]@%/,.0123456789 mWkBoff-") for _ in range(rng.randint(0, 80)))
              for _ in range(500)]
    parser = LineParser()
    for case in cases:
        out = parser.parse(case)
        assert isinstance(out, dict) and isinstance(out["unparsed"], list)
    cut = parse_line(line[:line.index("VDD_CPU_CV") + 16])  # "VDD_CPU_CV 400mW" cut before "/"
    assert cut["VDD_GPU_SOC_mW"] == 2801 and "VDD_CPU_CV_mW" not in cut and cut["unparsed"]


def test_fast_path_does_not_confuse_layouts():
    parser = LineParser()
    a = "RAM 1/2MB CPU [5%@100,off] tj@-256C VDD_IN 10/20"
    b = "RAM 1/2MB CPU [5%@100,7%@200] tj@41.5C VDD_IN 10/20"
    c = "RAM 1/2GB CPU [5%@100,off] tj@-256C VDD_IN 10/20"
    for line in (a, b, a, c, b, a, c):
        assert parser.parse(line) == grammar_only().parse(line)
    assert parser.parse(c)["RAM_total_MB"] == 2048 and parser.parse(a)["CPU1_util_pct"] is None


def test_column_order_groups_fields():
    d = parse_line(corpus_line("tx2_jp4_datadog-agent.log"))
    cols = column_order(reversed(list(d)))
    assert cols[0] == "RAM_used_MB" or cols[0].startswith("RAM_")
    assert cols.index("CPU0_util_pct") < cols.index("CPU5_util_pct") < cols.index("EMC_FREQ_util_pct")
    assert cols.index("temp_GPU_C") < cols.index("VDD_IN_mW") and cols[-1] == "unparsed"
