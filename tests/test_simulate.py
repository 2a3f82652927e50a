"""The simulator: each board's real format, values driven by the host (a fake /proc here)."""
import pytest

from conftest import cli
from layer_stats.tegrastats import boards
from layer_stats.tegrastats.detect import board_from_sample
from layer_stats.tegrastats.parse import parse_line
from layer_stats.tegrastats.simulate import Simulator


def fake_proc(root, busy, idle, cpus=2, mem_total_kB=8000000, mem_avail_kB=6000000, swap_kB=0):
    """Write a minimal /proc with ``cpus`` cores at the given cumulative busy/idle jiffies."""
    proc = root / "proc"
    proc.mkdir(exist_ok=True)
    lines = ["cpu  0 0 0 0 0 0 0 0 0 0"]
    lines += ["cpu{} {} 0 0 {} 0 0 0 0 0 0".format(i, busy, idle) for i in range(cpus)]
    (proc / "stat").write_text("\n".join(lines) + "\n")
    (proc / "meminfo").write_text("MemTotal: {} kB\nMemFree: 1 kB\nMemAvailable: {} kB\nSwapTotal: {} kB\n"
                                  "SwapFree: {} kB\nSwapCached: 0 kB\n".format(mem_total_kB, mem_avail_kB,
                                                                             swap_kB, swap_kB // 2))
    (proc / "buddyinfo").write_text("Node 0, zone   Normal    134    359    345    650    414    276    162"
                                    "     82     44     20     71\n")


@pytest.mark.parametrize("board", boards.board_names())
def test_simulated_lines_parse_completely_with_the_board_rails(board, tmp_path):
    fake_proc(tmp_path, 0, 0)
    sim = Simulator(board, seed=1, root=str(tmp_path))
    entry = boards.BOARDS[board]
    for _ in range(3):
        line = sim.line()
        d = parse_line(line)
        assert d["unparsed"] == [], line
        rails = [k[:-3] for k in d if k.endswith("_mW") and not k.endswith(("_avg_mW", "_max_mW"))]
        assert rails == entry["rail_sets"][0]
        assert len([k for k in d if k.endswith("_util_pct") and k.startswith("CPU")]) == entry["cores"]
        assert ("timestamp" in d) == entry["sim"]["timestamp"]
        assert (d["RAM_lfb_blocks"], d["RAM_lfb_block_kB"]) == (71, 4096)
        assert d["RAM_used_MB"] == (8000000 - 6000000) // 1024 and d["RAM_total_MB"] == entry["ram_MB"]
        assert "SWAP_used_MB" not in d
    assert board_from_sample(d) == board


def test_cpu_load_raises_cpu_rail_and_clock(tmp_path):
    fake_proc(tmp_path, 0, 0, swap_kB=4096 * 1024)
    sim = Simulator("tx2", seed=3, root=str(tmp_path))
    fake_proc(tmp_path, 0, 100, swap_kB=4096 * 1024)
    idle = parse_line(sim.line())
    fake_proc(tmp_path, 100, 100, swap_kB=4096 * 1024)
    busy = parse_line(sim.line())
    assert idle["CPU0_util_pct"] == 0 and busy["CPU0_util_pct"] == 100
    assert idle["CPU0_freq_MHz"] == 345 and busy["CPU0_freq_MHz"] == 2035
    assert busy["VDD_SYS_CPU_mW"] > idle["VDD_SYS_CPU_mW"] + 2000
    assert busy["VDD_IN_mW"] > idle["VDD_IN_mW"] + 2000
    assert idle["VDD_SYS_CPU_avg_mW"] == idle["VDD_SYS_CPU_mW"]
    assert busy["VDD_SYS_CPU_avg_mW"] == round((idle["VDD_SYS_CPU_mW"] + busy["VDD_SYS_CPU_mW"]) / 2.0)
    assert (busy["SWAP_used_MB"], busy["SWAP_total_MB"]) == (2048, 4096)


def test_cpufreq_drives_clock_when_present(tmp_path):
    fake_proc(tmp_path, 0, 0)
    for i in range(2):
        folder = tmp_path / "sys" / "devices" / "system" / "cpu" / "cpu{}".format(i) / "cpufreq"
        folder.mkdir(parents=True)
        (folder / "scaling_cur_freq").write_text("1000000\n")
        (folder / "cpuinfo_max_freq").write_text("2000000\n")
    d = parse_line(Simulator("agx-orin", root=str(tmp_path)).line())
    assert d["CPU0_freq_MHz"] == round(115 + (2201 - 115) * 0.5)


def test_seed_makes_noise_repeatable(tmp_path):
    fake_proc(tmp_path, 0, 0)
    a = Simulator("orin", seed=5, root=str(tmp_path)).line().split(" ", 2)[2]
    b = Simulator("orin", seed=5, root=str(tmp_path)).line().split(" ", 2)[2]
    assert a == b


def test_simulate_cli_prints_count_lines():
    result = cli("simulate", "--board", "agx-orin", "--interval", 50, "--count", 3)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(parse_line(l)["unparsed"] == [] for l in lines)


def test_simulate_cli_unknown_board_is_one_line_error():
    result = cli("simulate", "--board", "tx9", "--count", 1)
    assert result.returncode == 2
    assert result.stderr.startswith("ERROR: unknown board 'tx9' given to --board: choose one of ") and len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("board, rail", [("tx2", "VDD_SYS_GPU_mW"), ("orin", "VDD_CPU_GPU_CV_mW"),
                                         ("xavier", "GPU_mW")])
def test_gpu_load_file_drives_gr3d_and_the_gpu_rail(board, rail, tmp_path):
    fake_proc(tmp_path, 0, 100)
    load = tmp_path / "gpu_load"
    sim = Simulator(board, seed=3, root=str(tmp_path), gpu_load_file=str(load))
    idle = parse_line(sim.line())  # no file yet: idle GPU
    load.write_text("1\n")
    busy = parse_line(sim.line())
    low, high = boards.BOARDS[board]["gpu_MHz"]
    assert idle["GR3D_FREQ_util_pct"] == 0 and idle["GR3D_FREQ_freq_MHz"] == low
    assert busy["GR3D_FREQ_util_pct"] == 100 and busy["GR3D_FREQ_freq_MHz"] == high
    assert busy[rail] > idle[rail] + 1000
    load.write_text("not a number")
    assert parse_line(sim.line())["GR3D_FREQ_util_pct"] == 0
