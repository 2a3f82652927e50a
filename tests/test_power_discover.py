"""Power monitors in sysfs: discovery, reading and the fake trees, on trees laid out as the real boards."""
import collections
import os
import shutil
import threading
import time

import pytest

from layer_stats.errors import DnnStatsError
from layer_stats.power import (DRIVERS, RailReader, TreeWriter, board_rail_names, build_tree, describe,
                               find_monitors, find_rails, select_rails, update_interval_ms)
from layer_stats.power.discover import devices_folder
from layer_stats.tegrastats import boards

#: (board, JetPack) -> the rails each board's monitors carry, as the issue lists them:
#: (rail, driver, device, channel), NC channels absent.
EXPECTED = {
    ("tx2", "4"): [("VDD_SYS_GPU", "ina3221x", "0-0040", 0), ("VDD_SYS_SOC", "ina3221x", "0-0040", 1),
                   ("VDD_4V0_WIFI", "ina3221x", "0-0040", 2), ("VDD_IN", "ina3221x", "0-0041", 0),
                   ("VDD_SYS_CPU", "ina3221x", "0-0041", 1), ("VDD_SYS_DDR", "ina3221x", "0-0041", 2)],
    ("xavier", "4"): [("GPU", "ina3221x", "1-0040", 0), ("CPU", "ina3221x", "1-0040", 1),
                      ("SOC", "ina3221x", "1-0040", 2), ("CV", "ina3221x", "1-0041", 0),
                      ("VDDRQ", "ina3221x", "1-0041", 1), ("SYS5V", "ina3221x", "1-0041", 2)],
    ("nano", "4"): [("POM_5V_IN", "ina3221x", "6-0040", 0), ("POM_5V_GPU", "ina3221x", "6-0040", 1),
                    ("POM_5V_CPU", "ina3221x", "6-0040", 2)],
    ("orin", "5"): [("VDD_IN", "ina3221", "1-0040", 1), ("VDD_CPU_GPU_CV", "ina3221", "1-0040", 2),
                    ("VDD_SOC", "ina3221", "1-0040", 3)],
    ("agx-orin", "6"): [("VDD_GPU_SOC", "ina3221", "1-0040", 1), ("VDD_CPU_CV", "ina3221", "1-0040", 2),
                        ("VIN_SYS_5V0", "ina3221", "1-0040", 3), ("VDDQ_VDD2_1V8AO", "ina3221", "1-0041", 2)],
    ("thor", "7"): [("VDD_GPU", "ina3221", "2-0040", 1), ("VDD_CPU_SOC_MSS", "ina3221", "2-0040", 2),
                    ("VIN_SYS_5V0", "ina3221", "2-0040", 3), ("VIN", "ina238", "2-0044", 1)],
}

as_root = pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                             reason="root reads files whatever their mode")


def key(rail):
    return (rail.rail, rail.driver, rail.device, rail.channel)


def rail_folder(root, device):
    """The one channel folder discovery found for ``device``."""
    return [folder for _, at, folder in find_monitors(str(root)) if at == device][0]


def put(path, text):
    with open(path, "w") as handle:
        handle.write(text)


@pytest.mark.parametrize("board,jetpack", sorted(EXPECTED))
def test_rails_found_are_the_boards_connected_channels(tmp_path, board, jetpack):
    build_tree(str(tmp_path), board, jetpack)
    rails = find_rails(str(tmp_path), board)
    assert [key(rail) for rail in rails] == EXPECTED[board, jetpack]
    layout = [entry for entry in boards.BOARDS[board]["monitors"] if entry["jetpack"] == jetpack][0]
    table = [(name, driver, device, channel) for driver, device, names in layout["chips"]
             for channel, name in zip(DRIVERS[driver]["channels"], names) if name != "NC"]
    assert table == EXPECTED[board, jetpack]
    assert [name for name, _, _, _ in table] == [name for name in board_rail_names(board) if name != "VIN"] + (
        ["VIN"] if board == "thor" else [])
    for rail in rails:
        assert os.path.isabs(rail.voltage_file) and os.path.isfile(rail.current_file)
        assert (rail.power_file is None) == (rail.driver == "ina3221")
        assert (rail.update_interval_file is not None) == (rail.driver == "ina3221")


def test_nc_shunt_and_sum_channels_are_not_rails(tmp_path):
    build_tree(str(tmp_path), "agx-orin", "6")
    folder = rail_folder(tmp_path, "1-0041")
    labels = [open(os.path.join(folder, "in{}_label".format(k))).read().strip() for k in (1, 2, 3, 7)]
    assert labels == ["NC", "VDDQ_VDD2_1V8AO", "NC", "sum of shunt voltages"]
    assert all(os.path.isfile(os.path.join(folder, "in{}_input".format(k))) for k in (4, 5, 6, 7))
    put(os.path.join(folder, "in3_label"), "  nc \n")
    rails = find_rails(str(tmp_path), "agx-orin")
    assert {rail.channel for rail in rails} <= {1, 2, 3}
    assert [rail.rail for rail in rails if rail.device == "1-0041"] == ["VDDQ_VDD2_1V8AO"]
    os.remove(os.path.join(folder, "in2_label"))
    put(os.path.join(rail_folder(tmp_path, "1-0040"), "in1_label"), "\n")
    assert [rail.rail for rail in find_rails(str(tmp_path), "agx-orin")] == ["VDD_CPU_CV", "VIN_SYS_5V0"]


def test_unrelated_chips_and_nameless_devices_are_ignored(tmp_path):
    build_tree(str(tmp_path), "orin", "6")
    top = devices_folder(str(tmp_path))
    assert open(os.path.join(top, "1-004c", "name")).read() == "tmp451\n"
    assert not os.path.exists(os.path.join(top, "1-0050", "name"))
    os.makedirs(os.path.join(top, "0-004c", "hwmon", "hwmon9"))
    put(os.path.join(top, "0-004c", "name"), "lm90\n")
    os.makedirs(os.path.join(top, "2-0040"))
    put(os.path.join(top, "2-0040", "name"), "ina3221\n")  # bound to no channel folder
    assert [(driver, device) for driver, device, _ in find_monitors(str(tmp_path))] == [("ina3221", "1-0040")]
    link = os.path.join(str(tmp_path), "sys", "bus", "i2c", "drivers", "ina3221", "1-0040")
    assert os.path.realpath(link) == os.path.realpath(os.path.join(top, "1-0040"))


def test_channel_folder_is_found_whatever_its_number(tmp_path):
    build_tree(str(tmp_path), "thor")
    old = rail_folder(tmp_path, "2-0040")
    new = os.path.join(os.path.dirname(old), "hwmon17")
    os.rename(old, new)
    rails = find_rails(str(tmp_path), "thor")
    assert [key(rail) for rail in rails] == EXPECTED["thor", "7"]
    assert rails[0].current_file == os.path.join(new, "curr1_input")
    tx2 = tmp_path / "tx2"
    build_tree(str(tx2), "tx2")
    os.rename(rail_folder(tx2, "0-0041"), os.path.join(devices_folder(str(tx2)), "0-0041", "iio:device0"))
    assert [key(rail) for rail in find_rails(str(tx2), "tx2")] == EXPECTED["tx2", "4"]


def test_readings_convert_each_drivers_units(tmp_path):
    build_tree(str(tmp_path / "orin"), "orin", "5")
    folder = rail_folder(tmp_path / "orin", "1-0040")
    put(os.path.join(folder, "in2_input"), "5000\n")
    put(os.path.join(folder, "curr2_input"), "1200\n")
    put(os.path.join(folder, "in3_input"), "4980\n")
    put(os.path.join(folder, "curr3_input"), "250\n")
    rails = select_rails(find_rails(str(tmp_path / "orin"), "orin"), ["VDD_CPU_GPU_CV", "VDD_SOC"])
    with RailReader(rails) as reader:
        assert reader.read_raw() == (5000, 1200, 4980, 250)
        assert reader.read_mW() == {"VDD_CPU_GPU_CV": 6000.0, "VDD_SOC": 1245.0}
    build_tree(str(tmp_path / "thor"), "thor")
    folder = rail_folder(tmp_path / "thor", "2-0044")
    put(os.path.join(folder, "power1_input"), "2500000\n")
    put(os.path.join(folder, "curr1_input"), "1\n")  # the power file wins: V x I is not used
    with RailReader(select_rails(find_rails(str(tmp_path / "thor"), "thor"), ["VIN"])) as reader:
        assert reader.read_raw() == (2500000,) and reader.read_mW() == {"VIN": 2500.0}
    build_tree(str(tmp_path / "tx2"), "tx2")
    folder = rail_folder(tmp_path / "tx2", "0-0041")
    put(os.path.join(folder, "in_power1_input"), "1234\n")
    put(os.path.join(folder, "in_voltage1_input"), "19000\n")
    with RailReader(select_rails(find_rails(str(tmp_path / "tx2"), "tx2"), "VDD_SYS_CPU,VDD_IN")) as reader:
        assert reader.paths[0] == os.path.join(folder, "in_power1_input")
        assert reader.read_mW() == {"VDD_SYS_CPU": 1234.0, "VDD_IN": 1000.0}


def test_tree_values_are_written_in_each_drivers_units(tmp_path):
    files = build_tree(str(tmp_path), "thor", mW={"VIN": 30000.0, "VDD_GPU": 7500.0}, bus_mV=20000)
    read = lambda path: open(path).read()
    assert read(files["VIN"]["power"]) == "30000000\n" and read(files["VIN"]["current"]) == "1500\n"
    assert read(files["VDD_GPU"]["voltage"]) == "20000\n" and files["VDD_GPU"]["power"] is None
    assert read(files["VDD_GPU"]["current"]) == "375\n" and read(files["VIN_SYS_5V0"]["current"]) == "50\n"
    assert sorted(files) == sorted(name for name, _, _, _ in EXPECTED["thor", "7"])
    folder = os.path.dirname(files["VDD_GPU"]["current"])  # shunts in uV at 5 mOhm, then their sum
    assert [read(os.path.join(folder, "in{}_input".format(k))) for k in (4, 5, 6, 7)] == [
        "1875\n", "250\n", "250\n", "2375\n"]
    assert read(os.path.join(os.path.dirname(files["VIN"]["power"]), "in0_input")) == "8\n"  # mV


def test_held_reader_sees_values_rewritten_in_place(tmp_path):
    files = build_tree(str(tmp_path), "agx-orin")
    rails = select_rails(find_rails(str(tmp_path), "agx-orin"), ["VDD_GPU_SOC", "VDD_CPU_CV"])
    inode = os.stat(files["VDD_GPU_SOC"]["current"]).st_ino
    with RailReader(rails) as reader, TreeWriter(files) as writer:
        assert reader.read_mW() == {"VDD_GPU_SOC": 1000.0, "VDD_CPU_CV": 1000.0}
        writer.write({"VDD_GPU_SOC": 12345.0, "VDD_CPU_CV": 20.0})
        assert reader.read_mW() == {"VDD_GPU_SOC": 12345.0, "VDD_CPU_CV": 20.0}
        size = os.path.getsize(files["VDD_GPU_SOC"]["current"])
        writer.write({"VDD_GPU_SOC": 5.0})  # fewer digits, same file size: no read can cut a value
        assert reader.read_mW()["VDD_GPU_SOC"] == 5.0 and open(files["VDD_GPU_SOC"]["current"]).read().strip() == "1"
        assert os.path.getsize(files["VDD_GPU_SOC"]["current"]) == size
        put(files["VDD_CPU_CV"]["current"], "800\n")  # a plain rewrite, as the kernel's value changes
        assert reader.read_mW()["VDD_CPU_CV"] == 4000.0
        with pytest.raises(DnnStatsError) as err:
            writer.write({"VDD_IN": 1.0})
        assert "VDD_GPU_SOC" in str(err.value)
    assert os.stat(files["VDD_GPU_SOC"]["current"]).st_ino == inode


def test_reader_racing_the_writer_sees_whole_values(tmp_path):
    """A value rewritten in place with fewer or more digits must never be read cut short."""
    files = build_tree(str(tmp_path), "orin")
    stop = threading.Event()

    def flip(writer):
        while not stop.is_set():
            writer.write({"VDD_SOC": 5.0})
            writer.write({"VDD_SOC": 100000.0})

    seen = collections.Counter()
    with RailReader(select_rails(find_rails(str(tmp_path), "orin"), ["VDD_SOC"])) as reader, \
            TreeWriter(files) as writer:
        thread = threading.Thread(target=flip, args=(writer,))
        thread.start()
        try:
            end = time.time() + 0.5
            while time.time() < end:
                seen[reader.read_raw()] += 1
        finally:
            stop.set()
            thread.join()
    whole = {(5000, 1), (5000, 20000)}
    assert whole <= set(seen)
    # a regular file's pread can still meet a pwrite mid-copy on another core (real sysfs makes each
    # value at read time): on a loaded host, rarely; never the systematic cut of an unpadded rewrite
    torn = sum(count for value, count in seen.items() if value not in whole)
    assert torn <= max(1, sum(seen.values()) // 1000), seen


def test_reader_opens_each_file_once(tmp_path):
    files = build_tree(str(tmp_path), "xavier", mW={"GPU": 4200.0})
    with RailReader(select_rails(find_rails(str(tmp_path), "xavier"), ["GPU"])) as reader:
        os.remove(files["GPU"]["power"])  # a reader that re-opened per sample would fail now
        assert reader.read_mW() == {"GPU": 4200.0}


def test_unreadable_values_name_the_file(tmp_path):
    files = build_tree(str(tmp_path), "orin")
    rails = find_rails(str(tmp_path), "orin")
    with RailReader(rails[:1]) as reader:
        put(files["VDD_IN"]["current"], "garbage\n")
        with pytest.raises(DnnStatsError) as err:
            reader.read_raw()
    assert files["VDD_IN"]["current"] in str(err.value) and "'garbage" in str(err.value)
    os.remove(files["VDD_SOC"]["voltage"])
    with pytest.raises(DnnStatsError) as err:
        RailReader([rails[2]._replace(voltage_file=files["VDD_SOC"]["voltage"])])
    assert files["VDD_SOC"]["voltage"] in str(err.value) and "No such file" in str(err.value)
    with pytest.raises(DnnStatsError):
        RailReader([])


@as_root
def test_permission_denied_says_sudo_and_discovery_needs_no_value_file(tmp_path):
    files = build_tree(str(tmp_path), "tx2")
    for paths in files.values():
        for name in ("power", "voltage", "current"):
            os.chmod(paths[name], 0)
    rails = find_rails(str(tmp_path), "tx2")
    assert [key(rail) for rail in rails] == EXPECTED["tx2", "4"]
    with pytest.raises(DnnStatsError) as err:
        RailReader(rails)
    assert str(err.value) == ("cannot read power monitor file {} (permission denied): run with sudo, or pass "
                              "--power_sampler tegrastats".format(files["VDD_SYS_GPU"]["power"]))
    entry = describe(rails)[0]
    assert entry["mW"] is None and entry["error"] == str(err.value) and entry["update_interval_ms"] is None


def test_describe_and_update_interval(tmp_path):
    build_tree(str(tmp_path), "orin", mW={"VDD_SOC": 1234.0}, bus_mV=5000)
    rails = find_rails(str(tmp_path), "orin")
    entries = describe(rails)
    assert [(e["rail"], e["driver"], e["device"], e["channel"]) for e in entries] == EXPECTED["orin", "5"]
    assert [e["mW"] for e in entries] == [1000.0, 1000.0, 1235.0]  # 247 mA x 5000 mV: whole mA in the file
    assert all(e["update_interval_ms"] == 1 and "error" not in e for e in entries)
    put(rails[0].update_interval_file, "8\n")
    assert update_interval_ms(rails[0]) == 8
    os.remove(rails[0].update_interval_file)
    assert update_interval_ms(rails[0]) is None


def test_select_rails_keeps_order_and_names_the_rails_when_unknown(tmp_path):
    build_tree(str(tmp_path), "tx2")
    rails = find_rails(str(tmp_path), "tx2")
    chosen = select_rails(rails, ["VDD_SYS_CPU", "VDD_IN", "VDD_SYS_CPU"], board="tx2")
    assert [rail.rail for rail in chosen] == ["VDD_SYS_CPU", "VDD_IN"]
    with pytest.raises(DnnStatsError) as err:
        select_rails(rails, ["VDD_IN", "VDD_GPU"], board="tx2")
    assert str(err.value) == ("unknown power rail 'VDD_GPU' on tx2: the rails are VDD_SYS_GPU, VDD_SYS_SOC, "
                              "VDD_4V0_WIFI, VDD_IN, VDD_SYS_CPU, VDD_SYS_DDR")
    with pytest.raises(DnnStatsError) as err:
        select_rails([], "VDD_IN")
    assert "this board" in str(err.value) and "--power_sampler tegrastats" in str(err.value)


def test_thor_ina238_is_vin_wherever_it_sits(tmp_path):
    build_tree(str(tmp_path), "thor")
    top = devices_folder(str(tmp_path))
    os.rename(os.path.join(top, "2-0044"), os.path.join(top, "5-0045"))
    rails = find_rails(str(tmp_path), "thor")
    assert key(rails[-1]) == ("VIN", "ina238", "5-0045", 1)
    assert key(find_rails(str(tmp_path))[-1]) == ("ina238_5-0045_1", "ina238", "5-0045", 1)


def test_no_monitors_no_rails(tmp_path):
    assert find_rails(str(tmp_path)) == [] and find_monitors(str(tmp_path / "absent")) == []
    build_tree(str(tmp_path), "nano")
    top = devices_folder(str(tmp_path))
    shutil.rmtree(os.path.join(top, "6-0040"))
    assert os.listdir(top) and find_rails(str(tmp_path), "nano") == []


def test_every_board_has_monitor_layouts_the_drivers_know():
    for board, entry in boards.BOARDS.items():
        assert entry["monitors"], board
        rails = boards.all_rails(board)
        for layout in entry["monitors"]:
            assert isinstance(layout["jetpack"], str), board
            drivers = {driver for driver, _, _ in layout["chips"]}
            assert (layout["update_interval_ms"] is not None) == ("ina3221" in drivers), board
            for driver, device, names in layout["chips"]:
                assert len(names) == len(DRIVERS[driver]["channels"]) and "-" in device, (board, device)
                if driver != "ina238":  # the INA238's input rail is one tegrastats does not print
                    assert all(name in rails or name == "NC" for name in names), (board, names)
        assert "NC" not in board_rail_names(board)
    with pytest.raises(DnnStatsError) as err:
        build_tree("unused", "orin", jetpack="4")
    assert "JetPack 6, 5" in str(err.value)
