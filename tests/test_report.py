"""The report (python3 -m layer_stats.report) on a dataset like README's quick start plus a small
multi-DNN run, both on the simulator (tests/benchmarks/bench_report.py builds it): every figure
is a real PNG the page links, every figure says SIMULATED, nothing is written outside --out,
and bad input is one ERROR line.  postProcessMultinetDB.py says where its outputs went."""
import glob
import html.parser
import os
import subprocess
import sys

import pytest

from benchmarks.bench_report import make_dataset
from conftest import ROOT, mtimes, run_main, run_script

pytest.importorskip("torch")
pytest.importorskip("torchvision")

POST = os.path.join(ROOT, "multi_network_stats", "postProcessMultinetDB.py")
PNG_HEADER = b"\x89PNG\r\n\x1a\n"
#: The figures the dataset must give (layer-wise Modes 0 and 1 of resnet18 on the CPU, multi-DNN
#: Orin Mode 1), without the MACs figure, which needs the per-layer features.
EXPECTED = (["mode{}-cpu-resnet18-{}.png".format(m, kind) for m in (0, 1)
             for kind in ("latency", "power", "energy", "sum-vs-model")]
            + ["mode{}-cpu-latency-vs-energy.png".format(m) for m in (0, 1)]
            + ["modes-cpu-latency-energy.png", "trace-resnet18-power.png"]
            + ["multinet-Orin-mode1-{}.png".format(kind) for kind in ("by-k", "by-class", "power-map")])
#: What a run of the report must never import.
NO_TORCH = ("torch", "torchvision", "ptflops")


class _Links(html.parser.HTMLParser):
    def __init__(self):
        html.parser.HTMLParser.__init__(self)
        self.images, self.anchors = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        elif tag == "a":
            self.anchors.append(attrs["href"])


def _links(page):
    parser = _Links()
    with open(page, encoding="utf-8") as handle:
        parser.feed(handle.read())
    return parser


def report(*args):
    """The report command as a user runs it, with torch made unimportable; CompletedProcess."""
    code = ("import runpy, sys\nfor name in {!r}: sys.modules[name] = None\nsys.argv = ['layer_stats.report'] + "
            "sys.argv[1:]\nrunpy.run_module('layer_stats.report', run_name='__main__', alter_sys=True)".format(
                NO_TORCH))
    return subprocess.run([sys.executable, "-c", code] + [str(a) for a in args], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=300)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    pytest.importorskip("matplotlib")
    return make_dataset(str(tmp_path_factory.mktemp("report") / "Dataset"))


@pytest.fixture(scope="module")
def made(dataset):
    """The report of the whole dataset: (out folder, CompletedProcess, files outside out before)."""
    before = mtimes(p for p in glob.glob(os.path.join(dataset, "**"), recursive=True) if os.path.isfile(p))
    out = os.path.join(dataset, "report")
    done = report("--input_root", dataset, "--out", out)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done, before


def test_the_command_writes_every_figure_and_says_where(made):
    out, done, _ = made
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(out, "figures", "*.png")))
    assert set(EXPECTED) <= set(names), sorted(set(EXPECTED) - set(names))
    assert set(names) - set(EXPECTED) <= {"mode0-cpu-latency-vs-macs.png", "mode1-cpu-latency-vs-macs.png"}
    assert done.stdout.startswith("wrote {} ({} figures, SIMULATED data".format(
        os.path.join(out, "index.html"), len(names)))
    assert "Traceback" not in done.stderr


def test_every_png_is_a_real_image(made):
    import matplotlib.image

    for path in glob.glob(os.path.join(made[0], "figures", "*.png")):
        with open(path, "rb") as handle:
            assert handle.read(8) == PNG_HEADER, path
        pixels = matplotlib.image.imread(path)
        height, width = pixels.shape[:2]
        assert height >= 300 and width >= 400, (path, pixels.shape)
        assert pixels[..., :3].std() > 0.05, path  # drawn on, not a blank canvas


def test_the_page_links_every_figure_and_nothing_missing(made):
    out = made[0]
    links = _links(os.path.join(out, "index.html"))
    pngs = sorted(os.path.relpath(p, out).replace(os.sep, "/") for p in glob.glob(os.path.join(out, "figures", "*")))
    assert sorted(links.images) == pngs and sorted(links.anchors) == pngs
    for link in links.images:
        assert not link.startswith("/") and ":" not in link, link
        assert os.path.isfile(os.path.join(out, link)), link


def test_simulated_data_is_labelled_on_the_page(made):
    with open(os.path.join(made[0], "index.html"), encoding="utf-8") as handle:
        page = handle.read()
    assert 'class="banner">SIMULATED DATA' in page
    assert "Only Mode" not in page  # two layer-wise modes: the comparison is drawn
    assert "tx2" in page and "simulated" in page  # run metadata: the board and the telemetry source
    macs = glob.glob(os.path.join(made[0], "figures", "*latency-vs-macs.png"))
    assert macs or "has no per-layer MACs" in page


def test_nothing_is_written_outside_out(made, dataset):
    out, _, before = made
    after = mtimes(p for p in glob.glob(os.path.join(dataset, "**"), recursive=True)
                   if os.path.isfile(p) and not p.startswith(out + os.sep))
    assert after == {p: t for p, t in before.items() if not p.startswith(out + os.sep)}


def test_every_figure_says_simulated(dataset, tmp_path, monkeypatch):
    """In this process: the title and the watermark of every figure drawn, read before it is saved."""
    from matplotlib.figure import Figure as MplFigure
    from layer_stats.report.build import build_report
    from layer_stats.report.plotting import WATERMARK

    texts = []
    original = MplFigure.savefig

    def record(figure, *args, **kwargs):
        title = figure._suptitle.get_text() if figure._suptitle is not None else ""
        texts.append((title, [t.get_text() for t in figure.texts]))
        return original(figure, *args, **kwargs)

    monkeypatch.setattr(MplFigure, "savefig", record)
    made = build_report(dataset, str(tmp_path / "out"), modes=[1])
    assert len(texts) == len(made.figures) >= 8
    for title, labels in texts:
        assert title.startswith(WATERMARK + " - ") and WATERMARK in labels, (title, labels)
    assert "Only Mode 1 has layer-wise data" in " ".join(made.notes)


def test_a_second_report_keeps_only_its_own_figures(dataset, tmp_path):
    out = str(tmp_path / "again")
    assert report("--input_root", dataset, "--out", out).returncode == 0
    done = report("--input_root", dataset, "--out", out, "--modes", "0")
    assert done.returncode == 0, done.stderr
    names = {os.path.basename(p) for p in glob.glob(os.path.join(out, "figures", "*.png"))}
    assert "mode0-cpu-resnet18-latency.png" in names and not [n for n in names if "mode1" in n]
    assert "No multi-DNN raw data" in open(os.path.join(out, "index.html"), encoding="utf-8").read()
    assert sorted(_links(os.path.join(out, "index.html")).images) == sorted("figures/" + n for n in names)


def test_thirty_and_more_layers_keep_tick_labels_apart():
    from layer_stats.report.plotting import layer_ticks, layers_width, new_figure, pyplot

    plt = pyplot()
    for count in (14, 35, 60, 300):
        figure, (ax,) = new_figure(layers_width(count))
        ax.bar(range(count), [1.0] * count)
        layer_ticks(ax, [str(i) for i in range(count)])
        figure.tight_layout()
        figure.canvas.draw()
        boxes = [label.get_window_extent() for label in ax.get_xticklabels() if label.get_text()]
        plt.close(figure)
        assert 2 <= len(boxes) <= 30
        for left, right in zip(boxes, boxes[1:]):
            assert left.x1 < right.x0, (count, left, right)


def _one_error(done):
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("ERROR: "), done.stderr
    return lines[0]


def test_bad_input_is_one_line(dataset, tmp_path):
    module = pytest.importorskip("layer_stats.report.__main__")
    (tmp_path / "empty").mkdir()
    (tmp_path / "stopped" / "LayerStats" / "Mode0").mkdir(parents=True)  # a run stopped before its first file
    (tmp_path / "file").write_text("x")
    cases = [
        (["--input_root", str(tmp_path / "none")], "input folder"),
        (["--input_root", str(tmp_path / "empty")], "no raw data under"),
        (["--input_root", str(tmp_path / "stopped")], "holds no finished layer-wise raw file"),
        (["--input_root", dataset, "--modes", "7"], "no raw data for mode 7"),
        (["--input_root", dataset, "--out", os.path.join(dataset, "LayerStats", "Mode0", "r")], "inside the raw data"),
        (["--input_root", dataset, "--out", os.path.join(dataset, "Multinet")], "inside the raw data"),
        (["--input_root", dataset, "--out", os.path.join(dataset, "Multinet", "Mode1", "r")], "inside the raw data"),
        (["--input_root", dataset, "--out", str(tmp_path / "file")], "--out"),
        (["--input_root", dataset, "--modes", "x"], "--modes"),
    ]
    for args, words in cases:
        assert words in _one_error(run_main(module, *args)), args
    missing = run_main(module, "--input_root", dataset, "--out", str(tmp_path / "r"),
                       blocked=NO_TORCH + ("matplotlib", "matplotlib.pyplot"))
    assert "pip install matplotlib (or, in the checkout, pip install -e '.[report]')" in _one_error(missing)


def test_multinet_post_processing_says_where_and_suggests_the_report(dataset, tmp_path):
    out = str(tmp_path / "processed")
    done = run_script(POST, "--input_file_root", os.path.join(dataset, "Multinet"), "--output_file_root", out)
    assert done.returncode == 0, done.stderr
    target = os.path.join(out, "Orin", "Mode1")
    assert "wrote {0}.csv, {0}.provenance.json and".format(target) in done.stdout
    assert os.path.isfile(target + ".csv")
    command = "python3 -m layer_stats.report --input_root {} --out {}".format(dataset, os.path.join(dataset, "report"))
    assert command in done.stdout
