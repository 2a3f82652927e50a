"""Telemetry input that cannot serve a run, and hostile log text.

Replay logs that are missing, empty, binary, not tegrastats or too short are
refused when the source is made, in one printable line naming the file, what is
wrong and the flag; a replay that runs out mid-run names ``--replay_loop``; a
replay is filed as the board that recorded it.  Logs with a byte order mark,
CR/CRLF line ends, NUL bytes, stray non-UTF-8 bytes and very long lines parse,
replay and record without an exception, in time linear in the line length.
"""
import gc
import io
import os
import random
import subprocess
import sys
import time

import pytest

from conftest import CORPUS, ROOT, cli, corpus_files, corpus_line
from layer_stats.clock import monotonic
from layer_stats.errors import TelemetryError
from layer_stats.tegrastats.detect import replay_board
from layer_stats.tegrastats.parse import LineParser, iter_lines, parse_file, parse_line
from layer_stats.tegrastats.recorder import Recorder, _read_lines
from layer_stats.tegrastats.start import start_telemetry
from layer_stats.tegrastats.sources import replay_source

TX2_LOG = os.path.join(CORPUS, "tx2_jp4_ssaraff98-tegrastats-parser.log")
XAVIER_LOG = os.path.join(CORPUS, "agxxavier32_jp5_moskitoo-tegrastats-parser-fork.log")
TX2_ROOT = os.path.join(ROOT, "tests", "fixtures", "jetson_root", "tx2")
GENERATOR = os.path.join(ROOT, "layer_stats", "rawDataGeneration", "PowerLatencyDatasetGenerator.py")
FAKE_BIN = os.path.join(ROOT, "tests", "fixtures", "fake")


def tx2_lines(count):
    with open(TX2_LOG) as handle:
        return handle.read().splitlines()[:count]


def write(path, data):
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


def assert_one_clean_line(message, *needles):
    """One line of printable ASCII, of a readable length, holding every needle."""
    assert all(" " <= char <= "~" for char in message), repr(message)
    assert len(message) < 500, message
    for needle in needles:
        assert needle in message, message


def random_bytes(size, seed=8, without=b""):
    rng = random.Random(seed)
    data = bytes(rng.randrange(256) for _ in range(size))
    for byte in without:
        data = data.replace(bytes([byte]), b"x")
    return data


# -- replay logs that cannot serve the request ---------------------------------------

UNUSABLE = [
    ("empty", b"", "is empty"),
    ("blank_lines", b"\n  \r\n\t\n", "is empty"),
    ("random_bytes", random_bytes(50000), "is binary, not a tegrastats log"),
    ("not_tegrastats", b"hello world\nsecond line\n", "holds no tegrastats line (line 1: 'hello world')"),
    ("escape_in_text", b"a log line with an escape \x1b[31m in it and some more ordinary text\n",
     "(line 1: 'a log line with an escape \\x1b[31m in it"),
    ("one_line", (tx2_lines(1)[0] + "\n").encode(), "has 1 tegrastats line, fewer than the 2 a run needs to start: "
                                                     "pass --replay_loop"),
]


@pytest.mark.parametrize("name,data,what", UNUSABLE, ids=[case[0] for case in UNUSABLE])
def test_unusable_replay_logs_are_one_clear_line(tmp_path, name, data, what):
    log = write(tmp_path / (name + ".log"), data)
    with pytest.raises(TelemetryError) as info:
        replay_source(log)
    assert_one_clean_line(str(info.value), "--replay '{}'".format(log), what, "--replay")


def test_a_binary_program_is_not_a_replay_log(tmp_path):
    with open(os.path.realpath(sys.executable), "rb") as handle:
        log = write(tmp_path / "python.bin", handle.read(300000))
    with pytest.raises(TelemetryError) as info:
        replay_source(log)
    assert_one_clean_line(str(info.value), log, "is binary", "--replay must name a tegrastats log")


def test_missing_directory_and_unreadable_logs(tmp_path):
    cases = [(str(tmp_path / "nope.log"), "no such file"), (str(tmp_path), "is not a file")]
    if os.geteuid() != 0:  # root reads anything
        locked = write(tmp_path / "locked.log", "\n".join(tx2_lines(3)))
        os.chmod(locked, 0)
        cases.append((locked, "cannot be read (Permission denied)"))
    for path, what in cases:
        with pytest.raises(TelemetryError) as info:
            replay_source(path)
        assert_one_clean_line(str(info.value), path, what, "--replay")


def test_a_one_line_log_serves_with_loop(tmp_path):
    log = write(tmp_path / "one.log", tx2_lines(1)[0] + "\n")
    source = replay_source(log, interval_ms=50, loop=True)
    assert source.board == "tx2" and source.endless
    with Recorder(source) as recorder:
        assert recorder.wait_for(4, 20)


def test_a_line_quoted_from_a_log_is_cut_and_escaped(tmp_path):
    line = "no tegrastats here " + "\x07" + "y" * 5000
    log = write(tmp_path / "long.log", line + "\n")
    with pytest.raises(TelemetryError) as info:
        replay_source(log)
    message = str(info.value)
    assert_one_clean_line(message, "\\x07", "... (5020 chars)")


def test_record_and_replay_cli_refuse_a_binary_log_in_one_line(tmp_path):
    log = write(tmp_path / "random.bin", random_bytes(20000, seed=3))
    recorded = cli("record", "--replay", log, "--out", tmp_path / "out.jsonl")
    assert recorded.returncode == 2 and len(recorded.stderr.splitlines()) == 1, recorded.stderr
    assert_one_clean_line(recorded.stderr.strip(), "ERROR: --replay '{}' is binary".format(log))
    replayed = cli("replay", log)
    assert replayed.returncode == 2 and replayed.stdout == "", replayed.stderr
    assert_one_clean_line(replayed.stderr.strip(), "ERROR: LOG '{}' is binary".format(log))


def test_record_never_writes_over_its_replay_log_or_an_earlier_recording(tmp_path):
    log = tmp_path / "orin.log"
    write(log, "\n".join(corpus_line("agxorin64_jp6_abdel-e-tegrastats-parser.log", n) for n in range(1, 40)) + "\n")
    before = log.read_bytes()
    same = cli("record", "--replay", log, "--out", log, "--duration", 1)
    assert same.returncode == 2 and same.stderr.startswith("ERROR: --out {} is the --replay log itself".format(log))
    assert log.read_bytes() == before
    earlier = tmp_path / "earlier.jsonl"
    write(earlier, "{}\n")
    again = cli("record", "--replay", log, "--out", earlier, "--duration", 1)
    assert again.returncode == 2 and "exists: name a new file" in again.stderr
    assert earlier.read_text() == "{}\n"
    parsed = cli("parse", "--out", log, log)
    assert parsed.returncode == 2 and "--out {} is one of the logs to parse".format(log) in parsed.stderr
    assert log.read_bytes() == before


# -- a replay that runs out mid-run -----------------------------------------------------


def test_a_replay_that_runs_out_names_replay_loop(tmp_path):
    log = write(tmp_path / "short.log", "\n".join(tx2_lines(3)) + "\n")
    with Recorder(replay_source(log, interval_ms=20)) as recorder:
        assert recorder.wait_for(3, 20)
        deadline = monotonic() + 10
        while not recorder.ended and monotonic() < deadline:
            time.sleep(0.02)
        now = monotonic()
        for ask in (lambda: recorder.wait_past(now), lambda: recorder.window(now - 0.1, now)):
            with pytest.raises(TelemetryError) as info:
                ask()
            assert_one_clean_line(str(info.value), "replay log '{}' ran out after 3 lines".format(log),
                                  "pass --replay_loop")
        assert len(recorder.window(0, recorder.latest().t_mono - 1e-6, include_next=True)) == 3


def test_layerwise_run_on_a_short_replay_ends_with_one_line(tmp_path):
    pytest.importorskip("torch")
    log = write(tmp_path / "short.log", "\n".join(tx2_lines(3)) + "\n")
    env = dict(os.environ, PATH=FAKE_BIN + os.pathsep + os.environ.get("PATH", ""), FAKE_NVPMODEL_MODE="0")
    done = subprocess.run([sys.executable, GENERATOR, "--output_root", str(tmp_path / "Dataset"), "--mode", "0",
                           "--models", "squeezenet1_0", "--imgs", "img1.jpg", "--eval_tgr", "--replay", log,
                           "--tgr_smpl_duration", "0.3", "--tgr_smpl_boundry", "0.1", "--idle_duration", "0.3",
                           "--sys_root", TX2_ROOT, "--log_level", "WARNING"],
                          env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert_one_clean_line(errors[0], "ran out after 3 lines", "--replay_loop")


# -- the board a replay is filed as -----------------------------------------------------

#: Corpus files whose lines show no known power rails: their board cannot be told.
_NO_RAILS = ("nano2gb_", "orin-drive", "switch-", "tx1_l4t24", "tx1_l4t28")
_PREFIXES = (("agxorin", "agx-orin"), ("agxxavier", "xavier"), ("nano", "nano"), ("orinnano", "orin"),
             ("orinnx", "orin"), ("thor", "thor"), ("tx1", "tx1"), ("tx2", "tx2"), ("xaviernx", "xavier-nx"))


def _expected_board(name):
    if name.startswith(_NO_RAILS):
        return None
    return [board for prefix, board in _PREFIXES if name.startswith(prefix)][-1]


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.rsplit("/", 1)[-1])
def test_replay_board_tells_every_corpus_log(path):
    assert replay_board(path) == _expected_board(os.path.basename(path))


def test_replay_board_reads_through_bom_crlf_and_nul(tmp_path):
    text = "\r\n".join("\x00" * 8 + line for line in tx2_lines(4))
    log = write(tmp_path / "tx2.log", b"\xef\xbb\xbf" + text.encode())
    assert replay_board(log) == "tx2"
    with pytest.raises(TelemetryError):
        replay_board(write(tmp_path / "x.bin", random_bytes(5000)))


def test_a_replay_is_filed_as_the_board_that_recorded_it():
    """On a TX2 (device tree) replaying an AGX Xavier log, the data is the Xavier's."""
    source = replay_source(XAVIER_LOG, interval_ms=20, loop=True)
    assert source.board == "xavier"
    recorder, board, params = start_telemetry(source, ["cpu"], root=TX2_ROOT)
    recorder.stop()
    assert board == "xavier" and params


def test_a_replay_whose_board_cannot_be_told_says_so(tmp_path):
    log = os.path.join(CORPUS, "nano2gb_jp4.6-l4t32.6.1_kostaleonard-jetson-tf-mnist.log")
    source = replay_source(log, interval_ms=20, loop=True)
    assert source.board is None
    with pytest.raises(TelemetryError) as info:
        start_telemetry(source, ["cpu"], root=str(tmp_path))
    assert_one_clean_line(str(info.value), "cannot tell which board recorded replay log", "kostaleonard")


def test_junk_before_the_first_tegrastats_line_is_passed_over(tmp_path):
    """The board and the default rail come from the first tegrastats line, not the first line."""
    junk = "\x00\x00 tegrastats: starting \xff junk"
    log = write(tmp_path / "junk_first.log", "\n".join([junk, junk] + tx2_lines(6)) + "\n")
    recorder, board, params = start_telemetry(replay_source(log, interval_ms=20), ["cpu"], root=str(tmp_path))
    recorder.stop()
    assert board == "tx2" and [p.name for p in params] == ["VDD_SYS_CPU"]


def test_power_samples_leave_junk_lines_out():
    from layer_stats.measure.power import SampleReader
    from layer_stats.tegrastats.params import resolve_params
    from layer_stats.tegrastats.recorder import Sample

    reader = SampleReader(resolve_params("tx2", ["VDD_SYS_CPU"]))
    lines = ["\ufffd\x01 junk", tx2_lines(1)[0], "x" * 100000, tx2_lines(2)[1]]
    samples = reader.read([Sample(float(i), float(i), line) for i, line in enumerate(lines)])
    assert [s["t"] for s in samples] == [1.0, 3.0]
    assert samples[0]["values"] == {"VDD_SYS_CPU_mW": parse_line(lines[1])["VDD_SYS_CPU_mW"]}


# -- hostile log text -------------------------------------------------------------------


def _variants(lines):
    """name -> (log bytes, how a parsed line of the variant differs: None or the unparsed list)."""
    text = [line.encode("utf-8") for line in lines]
    stray = [line + b" \xff\xfe" for line in text]  # a trailing token: a timestamp keeps its space
    return {
        "bom_crlf": (b"\xef\xbb\xbf" + b"\r\n".join(text) + b"\r\n", None),
        "cr_only": (b"\r".join(text) + b"\r", None),
        "nul_padding": (b"\x00" * 4096 + b"\n".join(b"\x00\x00" + line for line in text) + b"\n" + b"\x00" * 512,
                        None),
        "stray_bytes": (b"\n".join(stray) + b"\n", ["\ufffd\ufffd"]),
    }


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.rsplit("/", 1)[-1])
def test_corpus_parses_the_same_through_hostile_text(tmp_path, path):
    with io.open(path, encoding="utf-8") as handle:
        lines = [line for line in handle.read().splitlines() if line.strip()][:300]
    reference = [parse_line(line) for line in lines]
    for name, (data, unparsed) in _variants(lines).items():
        log = write(tmp_path / (name + ".log"), data)
        parsed = [p for p in parse_file(log) if len(p) > 1 or p["unparsed"]]
        assert len(parsed) == len(reference), name
        for got, want in zip(parsed, reference):
            if unparsed is not None:
                assert got["unparsed"] == unparsed, name
                got = dict(got, unparsed=[])
            assert got == want, name
        read = [line for line in iter_lines(log) if line.strip("\x00 ")]
        assert len(read) == len(lines) and not read[0].startswith("\ufeff"), name


def test_very_long_lines_parse_and_keep_the_real_fields(tmp_path):
    real = tx2_lines(1)[0]
    garbage = random_bytes(1 << 20, seed=5, without=b"\r\n")
    tokens = " ".join("tok{}".format(i % 97) for i in range(100000))
    log = write(tmp_path / "long.log", garbage + b"\n" + (real + " " + tokens + "\n" + real + "\n").encode())
    start = time.perf_counter()
    first, second, third = list(parse_file(log))
    assert time.perf_counter() - start < 10
    assert first["unparsed"] and "RAM_used_MB" not in first
    assert len(second["unparsed"]) == 100000 and second["VDD_IN_mW"] == parse_line(real)["VDD_IN_mW"]
    assert third == parse_line(real)


def _best_times(parse, lines, rounds):
    """The fastest of ``rounds`` parses (s) of each line, the lines taken in turn (a
    busy moment of the host slows both), garbage collection off (the test is
    about the parser's steps, not about when the collector runs)."""
    best = [None] * len(lines)
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for i, line in enumerate(lines):
                start = time.perf_counter()
                parse(line)
                spent = time.perf_counter() - start
                best[i] = spent if best[i] is None else min(best[i], spent)
    finally:
        if enabled:
            gc.enable()
    return best


@pytest.mark.parametrize("unit,n", [
    ("zz 1/2 A @ x@y CPU [1% RAM 5% \ufffd ", 500),    # garbage tokens of every near-miss shape
    ("VDD_IN 1/2 ", 1500),                              # one rail repeated: VDD_IN, VDD_IN_2, ...
    ("a@1C ", 2000),                                     # a whole line of temperatures
    ("x", 100000),                                       # one huge token
    (" ", 30000),                                        # a run of blanks
], ids=["garbage", "repeated_rail", "temps", "one_token", "blanks"])
def test_parse_time_is_linear_in_line_length(unit, n):
    """8 times the text must take well under 64 times (quadratic) as long."""
    parse = LineParser().parse
    lines = ["RAM 1/2MB " + unit * n + " end", "RAM 1/2MB " + unit * (8 * n) + " end"]
    ratios = []
    for _ in range(2):  # a second try only if the first looked quadratic (a loaded host)
        small, large = _best_times(parse, lines, 3)
        ratios.append(large / max(small, 1e-4))
        if ratios[-1] < 20:
            break
    assert min(ratios) < 20, ratios


def test_reader_cuts_an_endless_line_and_goes_on():
    stream = io.BytesIO(b"a" * 1000 + b"\nnext\n" + b"b" * 10)
    assert list(_read_lines(stream, limit=64)) == [b"a" * 64, b"next\n", b"b" * 10]


def test_recorder_keeps_every_line_of_a_hostile_replay(tmp_path, monkeypatch):
    """The replay child and the recorder's reader: BOM, CRLF, NUL, stray bytes, a 1 MB
    line; the child prints U+FFFD even where this environment asks for ASCII."""
    monkeypatch.setenv("PYTHONIOENCODING", "ascii")
    lines = tx2_lines(6)
    data = b"\xef\xbb\xbf" + b"\r\n".join([
        lines[0].encode(), b"\x00\x00" + lines[1].encode(), lines[2].encode() + b" \xff",
        random_bytes(1 << 20, seed=9, without=b"\r\n"), lines[3].encode(), lines[4].encode(), lines[5].encode()])
    log = write(tmp_path / "hostile.log", data + b"\r\n")
    samples = []
    with Recorder(replay_source(log, interval_ms=20)) as recorder:
        deadline = monotonic() + 30
        while not recorder.ended and monotonic() < deadline:
            samples.extend(recorder.drain())
            time.sleep(0.05)
        samples.extend(recorder.drain())
        recorder.check()
    assert len(samples) == 7
    parsed = [parse_line(sample.raw) for sample in samples]
    for got, line in zip(parsed[:3] + parsed[4:], lines):
        assert dict(got, unparsed=[]) == parse_line(line)
    assert parsed[2]["unparsed"] == ["\ufffd"] and len(samples[3].raw) > 500000


def test_parse_cli_converts_a_hostile_log(tmp_path):
    lines = tx2_lines(3)
    data = b"\xef\xbb\xbf" + b"\r\n".join([lines[0].encode(), b"\x00" + lines[1].encode(),
                                           random_bytes(200000, seed=2, without=b"\r\n"), lines[2].encode()])
    log = write(tmp_path / "hostile.log", data)
    result = cli("parse", "--format", "jsonl", log)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.stdout.splitlines()) == 4
    assert '"VDD_IN_mW": {}'.format(parse_line(lines[0])["VDD_IN_mW"]) in result.stdout.splitlines()[0]
