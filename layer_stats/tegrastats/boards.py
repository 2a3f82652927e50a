"""Board knowledge as data: one table entry per Jetson board.

Nothing else in the package knows a board by name; detection, parameter
names, default rails and the simulator all read :data:`BOARDS`.  Keys of an
entry (units in the names):

- ``name``: the module, as NVIDIA calls it.
- ``rail_sets``: every rail list tegrastats prints on this board, newest
  JetPack first (the first one is what the simulator prints).
- ``roles``: which rail measures ``cpu``, ``gpu``, ``soc`` and ``total`` power;
  each a tuple of candidate rail names (first one present wins).  A ``total``
  of ``None`` means the board has no input rail: total = sum of ``sum_rails``.
- ``friendly``: the seed's display names -> raw rail or sensor name.
- ``temps``: the temperature sensors, as the simulator prints them.
- ``engines``: engine tokens a user may ask for in ``--tgr_params``.
- ``cores``, ``cpu_MHz`` (min, max), ``gpu_MHz`` (min, max), ``emc_MHz``,
  ``ram_MB``: hardware figures used by the simulator.
- ``sim``: how the simulator prints a line (see ``simulate.py``) and its power
  model: ``power`` maps rail -> (idle mW, + mW at full CPU load, + mW at full GPU
  load); ``input`` is (input rail, fixed mW, efficiency) for boards whose input
  rail is the sum of the others plus losses; ``inputs`` lists such rails that only
  the power monitors show (Thor's carrier-board VIN on its INA238).
- ``monitors``: the board's power-monitor chips as sysfs shows them, one layout
  per JetPack, newest first (the first one is what the simulator serves):
  ``{"jetpack": "6", "chips": [(driver, device, channel names), ...],
  "update_interval_ms": int or None}``.  ``driver`` is a key of
  :data:`layer_stats.power.drivers.DRIVERS` (``ina3221x``: JetPack 4, NVIDIA's
  IIO driver; ``ina3221``: JetPack 5/6, mainline hwmon; ``ina238``: Thor);
  ``device`` is ``<bus>-<addr>`` as in ``/sys/bus/i2c/devices``; the names follow
  the driver's channel order (ina3221x 0..2, ina3221 1..3, ina238 1), ``"NC"``
  for an unconnected channel, and for a chip without label files (ina238) the
  name is the rail's.  ``update_interval_ms`` is what a fake tree writes in
  ``update_interval`` (None for layouts whose drivers have no such file): 1 ms,
  a fast conversion setting; real boards report their own, which the sampler
  reads at run time.

Sources: the real lines in tests/fixtures/tegrastats (see SOURCES.md there)
and NVIDIA's module data sheets.  Power-model figures are round numbers
chosen so idle and full-load totals fall in each module's published envelope.
Monitor layouts: NVIDIA's Jetson Linux developer guides (power monitor
sections), jetson-stats (``jtop/core/power.py``) and the kernel's hwmon
documentation (``ina3221.rst``, ``ina238.rst``); a comment on each entry.
"""

BOARDS = {
    "tx1": {
        "name": "Jetson TX1",
        "rail_sets": [["VDD_IN", "VDD_CPU", "VDD_GPU"]],
        "roles": {"cpu": ("VDD_CPU",), "gpu": ("VDD_GPU",), "soc": (), "total": ("VDD_IN",)},
        "friendly": {"IN Power": "VDD_IN", "CPU Power": "VDD_CPU", "GPU Power": "VDD_GPU",
                     "CPU Temperature": "CPU", "GPU Temperature": "GPU"},
        "temps": ["AO", "CPU", "GPU", "PLL", "Tdiode", "PMIC", "Tboard", "thermal"],
        "engines": ["EMC_FREQ", "GR3D_FREQ", "APE", "EMC", "GR3D", "AVP", "MSENC", "NVDEC"],
        "cores": 4, "cpu_MHz": (102, 1734), "gpu_MHz": (76, 998), "emc_MHz": 1600, "ram_MB": 3983,
        # JetPack 4 device tree tegra210-jetson-tx1 (jetson-stats jtop/core/power.py reads the same).
        "monitors": [
            {"jetpack": "4", "chips": [("ina3221x", "1-0040", ("VDD_IN", "VDD_GPU", "VDD_CPU"))],
             "update_interval_ms": None},
        ],
        "sim": {
            "layout": ["ram", "iram", "cpu", "emc", "gpu", "ape", "temps", "rails"],
            "timestamp": False, "rail_values": 2, "rail_unit": "", "gpu_clock": "plain",
            "temp_step_C": 0.5, "ape_MHz": 25, "engines_off": [],
            "power": {"VDD_CPU": (80, 3500, 0), "VDD_GPU": (20, 0, 5500)},
            "input": ("VDD_IN", 2300, 0.9),
        },
    },
    "tx2": {
        "name": "Jetson TX2",
        "rail_sets": [
            ["VDD_SYS_GPU", "VDD_SYS_SOC", "VDD_4V0_WIFI", "VDD_IN", "VDD_SYS_CPU", "VDD_SYS_DDR"],
            ["VDD_SYS_GPU", "VDD_SYS_SOC", "VDD_IN", "VDD_SYS_CPU", "VDD_SYS_DDR"],
            ["VDD_IN", "VDD_CPU", "VDD_GPU", "VDD_SOC", "VDD_WIFI", "VDD_DDR"],
        ],
        "roles": {"cpu": ("VDD_SYS_CPU", "VDD_CPU"), "gpu": ("VDD_SYS_GPU", "VDD_GPU"),
                  "soc": ("VDD_SYS_SOC", "VDD_SOC"), "total": ("VDD_IN",)},
        "friendly": {"IN Power": "VDD_IN", "CPU Power": "VDD_SYS_CPU", "GPU Power": "VDD_SYS_GPU",
                     "SOC Power": "VDD_SYS_SOC", "DDR Power": "VDD_SYS_DDR",
                     "WIFI Power": "VDD_4V0_WIFI", "BCPU Temperature": "BCPU",
                     "MCPU Temperature": "MCPU", "GPU Temperature": "GPU", "PLL Temperature": "PLL",
                     "Tboard Temperature": "Tboard", "Tdiode Temperature": "Tdiode",
                     "PMIC Temperature": "PMIC", "Thermal sensor": "thermal"},
        "temps": ["PLL", "MCPU", "PMIC", "Tboard", "GPU", "BCPU", "thermal", "Tdiode"],
        "engines": ["EMC_FREQ", "GR3D_FREQ", "APE", "MTS"],
        "cores": 6, "cpu_MHz": (345, 2035), "gpu_MHz": (114, 1300), "emc_MHz": 1866, "ram_MB": 7850,
        # JetPack 4 (TX2 OEM design guide, jetson-stats): two INA3221 on I2C bus 0.
        "monitors": [
            {"jetpack": "4", "chips": [("ina3221x", "0-0040", ("VDD_SYS_GPU", "VDD_SYS_SOC", "VDD_4V0_WIFI")),
                                       ("ina3221x", "0-0041", ("VDD_IN", "VDD_SYS_CPU", "VDD_SYS_DDR"))],
             "update_interval_ms": None},
        ],
        "sim": {
            "layout": ["ram", "swap", "cpu", "emc", "gpu", "ape", "mts", "temps", "rails"],
            "timestamp": False, "rail_values": 2, "rail_unit": "", "gpu_clock": "plain",
            "temp_step_C": 0.5, "ape_MHz": 150, "engines_off": [],
            "power": {"VDD_SYS_GPU": (150, 0, 6500), "VDD_SYS_SOC": (530, 250, 600),
                      "VDD_4V0_WIFI": (0, 0, 0), "VDD_SYS_CPU": (150, 3000, 100),
                      "VDD_SYS_DDR": (650, 900, 1500)},
            "input": ("VDD_IN", 1000, 0.9),
        },
    },
    "nano": {
        "name": "Jetson Nano",
        "rail_sets": [["POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"]],
        "roles": {"cpu": ("POM_5V_CPU",), "gpu": ("POM_5V_GPU",), "soc": (), "total": ("POM_5V_IN",)},
        "friendly": {"IN Power": "POM_5V_IN", "GPU Power": "POM_5V_GPU", "CPU Power": "POM_5V_CPU",
                     "CPU Temperature": "CPU", "GPU Temperature": "GPU", "PLL Temperature": "PLL",
                     "AO Temperature": "AO", "PMIC Temperature": "PMIC", "Thermal sensor": "thermal"},
        "temps": ["PLL", "CPU", "PMIC", "GPU", "AO", "thermal"],
        "engines": ["EMC_FREQ", "GR3D_FREQ", "APE", "NVENC", "NVDEC"],
        "cores": 4, "cpu_MHz": (102, 1479), "gpu_MHz": (76, 921), "emc_MHz": 1600, "ram_MB": 3964,
        # JetPack 4 (Nano developer kit: one INA3221 on I2C bus 6).
        "monitors": [
            {"jetpack": "4", "chips": [("ina3221x", "6-0040", ("POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"))],
             "update_interval_ms": None},
        ],
        "sim": {
            "layout": ["ram", "swap", "iram", "cpu", "emc", "gpu", "ape", "temps", "rails"],
            "timestamp": False, "rail_values": 2, "rail_unit": "", "gpu_clock": "plain",
            "temp_step_C": 0.5, "ape_MHz": 25, "engines_off": [],
            "power": {"POM_5V_GPU": (0, 0, 3500), "POM_5V_CPU": (120, 2200, 0)},
            "input": ("POM_5V_IN", 800, 0.9),
        },
    },
    "xavier": {
        "name": "Jetson AGX Xavier",
        "rail_sets": [["GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V"]],
        "roles": {"cpu": ("CPU",), "gpu": ("GPU",), "soc": ("SOC",), "total": None},
        "sum_rails": ["GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V"],
        "friendly": {"GPU Power": "GPU", "CPU Power": "CPU", "SOC Power": "SOC", "CV Power": "CV",
                     "VDDRQ Power": "VDDRQ", "SYS5V Power": "SYS5V", "Aux Temperature": "AUX",
                     "CPU Temperature": "CPU", "Thermal sensor": "thermal",
                     "Tboard Temperature": "Tboard", "AO Temperature": "AO",
                     "GPU Temperature": "GPU", "Tdiode Temperature": "Tdiode",
                     "PMIC Temperature": "PMIC"},
        "temps": ["AUX", "CPU", "thermal", "Tboard", "AO", "GPU", "Tdiode", "PMIC"],
        "engines": ["EMC_FREQ", "GR3D_FREQ", "VIC_FREQ", "APE", "MTS"],
        "cores": 8, "cpu_MHz": (115, 2266), "gpu_MHz": (114, 1377), "emc_MHz": 2133, "ram_MB": 30991,
        # JetPack 4 (AGX Xavier: two INA3221 on I2C bus 1, as jetson-stats and public scripts read them).
        "monitors": [
            {"jetpack": "4", "chips": [("ina3221x", "1-0040", ("GPU", "CPU", "SOC")),
                                       ("ina3221x", "1-0041", ("CV", "VDDRQ", "SYS5V"))],
             "update_interval_ms": None},
        ],
        "sim": {
            "layout": ["ram", "swap", "cpu", "emc", "gpu", "vic", "ape", "temps", "rails"],
            "timestamp": True, "rail_values": 2, "rail_unit": "mW", "gpu_clock": "bracket",
            "gpcs": 1, "temp_step_C": 0.5, "ape_MHz": 150, "vic_MHz": 1036, "engines_off": [],
            "power": {"GPU": (0, 0, 12000), "CPU": (400, 6000, 200), "SOC": (1400, 500, 1500),
                      "CV": (0, 0, 0), "VDDRQ": (460, 800, 1800), "SYS5V": (1800, 600, 900)},
        },
    },
    "xavier-nx": {
        "name": "Jetson Xavier NX",
        "rail_sets": [["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"]],
        "roles": {"cpu": ("VDD_CPU_GPU_CV",), "gpu": ("VDD_CPU_GPU_CV",), "soc": ("VDD_SOC",),
                  "total": ("VDD_IN",)},
        "friendly": {"IN Power": "VDD_IN", "GPU CPU CV Power": "VDD_CPU_GPU_CV",
                     "SOC Power": "VDD_SOC", "Aux Temperature": "AUX", "CPU Temperature": "CPU",
                     "Thermal sensor": "thermal", "AO Temperature": "AO",
                     "GPU Temperature": "GPU", "PMIC Temperature": "PMIC"},
        "temps": ["AUX", "CPU", "thermal", "AO", "GPU", "PMIC"],
        "engines": ["EMC_FREQ", "GR3D_FREQ", "VIC_FREQ", "APE", "MTS"],
        "cores": 6, "cpu_MHz": (115, 1900), "gpu_MHz": (114, 1100), "emc_MHz": 1600, "ram_MB": 6851,
        # JetPack 5 mainline hwmon driver, JetPack 4 NVIDIA IIO driver; one INA3221 on I2C bus 7.
        "monitors": [
            {"jetpack": "5", "chips": [("ina3221", "7-0040", ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"))],
             "update_interval_ms": 1},
            {"jetpack": "4", "chips": [("ina3221x", "7-0040", ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"))],
             "update_interval_ms": None},
        ],
        "sim": {
            "layout": ["ram", "swap", "cpu", "emc", "gpu", "vic", "ape", "temps", "rails"],
            "timestamp": True, "rail_values": 2, "rail_unit": "mW", "gpu_clock": "bracket",
            "gpcs": 1, "temp_step_C": 0.5, "ape_MHz": 150, "vic_MHz": 115, "engines_off": [],
            "power": {"VDD_CPU_GPU_CV": (600, 4000, 6000), "VDD_SOC": (1200, 300, 900)},
            "input": ("VDD_IN", 900, 0.9),
        },
    },
    "orin": {
        "name": "Jetson Orin NX / Orin Nano",
        "rail_sets": [["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"]],
        "roles": {"cpu": ("VDD_CPU_GPU_CV",), "gpu": ("VDD_CPU_GPU_CV",), "soc": ("VDD_SOC",),
                  "total": ("VDD_IN",)},
        "friendly": {"IN Power": "VDD_IN", "GPU CPU CV Power": "VDD_CPU_GPU_CV",
                     "SOC Power": "VDD_SOC", "CPU Temperature": "cpu", "GPU Temperature": "gpu",
                     "Tjunction Temperature": "tj", "SOC 0 Temperature": "soc0",
                     "SOC 1 Temperature": "soc1", "SOC 2 Temperature": "soc2"},
        "temps": ["cpu", "soc2", "soc0", "gpu", "tj", "soc1"],
        "engines": ["EMC_FREQ", "GR3D_FREQ", "NVDEC", "NVJPG", "NVJPG1", "VIC", "OFA", "APE"],
        "cores": 6, "cpu_MHz": (115, 1510), "gpu_MHz": (306, 625), "emc_MHz": 2133, "ram_MB": 7620,
        # Jetson Linux developer guide, Orin NX/Nano power monitor: one INA3221 on I2C bus 1.
        "monitors": [
            {"jetpack": "6", "chips": [("ina3221", "1-0040", ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"))],
             "update_interval_ms": 1},
            {"jetpack": "5", "chips": [("ina3221", "1-0040", ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"))],
             "update_interval_ms": 1},
        ],
        "sim": {
            "layout": ["ram", "swap", "cpu", "emc", "gpu", "engines", "ape", "temps", "rails"],
            "timestamp": True, "rail_values": 2, "rail_unit": "mW", "gpu_clock": "bracket",
            "gpcs": 1, "temp_step_C": 1.0 / 32, "ape_MHz": 200,
            "engines_off": ["NVDEC", "NVJPG", "NVJPG1", "VIC", "OFA"],
            "power": {"VDD_CPU_GPU_CV": (600, 3500, 5000), "VDD_SOC": (1400, 300, 1000)},
            "input": ("VDD_IN", 2500, 0.9),
        },
    },
    "agx-orin": {
        "name": "Jetson AGX Orin",
        "rail_sets": [
            ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO"],
            ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "NC", "VDDQ_VDD2_1V8AO", "NC"],
            ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0"],
        ],
        "roles": {"cpu": ("VDD_CPU_CV",), "gpu": ("VDD_GPU_SOC",), "soc": ("VDD_GPU_SOC",),
                  "total": None},
        "sum_rails": ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO"],
        "friendly": {"GPU SOC Power": "VDD_GPU_SOC", "CPU CV Power": "VDD_CPU_CV",
                     "SYS 5V Power": "VIN_SYS_5V0", "DDR Power": "VDDQ_VDD2_1V8AO",
                     "CPU Temperature": "cpu", "GPU Temperature": "gpu",
                     "Tjunction Temperature": "tj", "SOC 0 Temperature": "soc0",
                     "SOC 1 Temperature": "soc1", "SOC 2 Temperature": "soc2",
                     "Tboard Temperature": "tboard", "Tdiode Temperature": "tdiode"},
        "temps": ["cpu", "tboard", "soc2", "tdiode", "soc0", "gpu", "tj", "soc1"],
        "engines": ["EMC_FREQ", "GR3D_FREQ", "GR3D2_FREQ", "NVENC", "NVDEC", "NVJPG", "NVJPG1",
                    "VIC", "OFA", "NVDLA0", "NVDLA1", "PVA0_FREQ", "APE"],
        "cores": 12, "cpu_MHz": (115, 2201), "gpu_MHz": (306, 1300), "emc_MHz": 3199,
        "ram_MB": 62841,
        # Jetson Linux developer guide, AGX Orin power monitors: two INA3221 on I2C bus 1.
        "monitors": [
            {"jetpack": "6", "chips": [("ina3221", "1-0040", ("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0")),
                                       ("ina3221", "1-0041", ("NC", "VDDQ_VDD2_1V8AO", "NC"))],
             "update_interval_ms": 1},
            {"jetpack": "5", "chips": [("ina3221", "1-0040", ("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0")),
                                       ("ina3221", "1-0041", ("NC", "VDDQ_VDD2_1V8AO", "NC"))],
             "update_interval_ms": 1},
        ],
        "sim": {
            "layout": ["ram", "swap", "cpu", "emc", "gpu", "engines", "ape", "temps", "rails"],
            "timestamp": True, "rail_values": 2, "rail_unit": "mW", "gpu_clock": "bracket",
            "gpcs": 2, "temp_step_C": 1.0 / 32, "ape_MHz": 174,
            "engines_off": ["NVENC", "NVDEC", "NVJPG", "NVJPG1", "VIC", "OFA", "NVDLA0", "NVDLA1",
                            "PVA0_FREQ"],
            "power": {"VDD_GPU_SOC": (2800, 300, 25000), "VDD_CPU_CV": (400, 9000, 300),
                      "VIN_SYS_5V0": (4000, 800, 1500), "VDDQ_VDD2_1V8AO": (600, 400, 900)},
        },
    },
    "thor": {
        "name": "Jetson AGX Thor",
        "rail_sets": [["VDD_GPU", "VDD_CPU_SOC_MSS", "VIN_SYS_5V0"]],
        "roles": {"cpu": ("VDD_CPU_SOC_MSS",), "gpu": ("VDD_GPU",), "soc": ("VDD_CPU_SOC_MSS",),
                  "total": None},
        "sum_rails": ["VDD_GPU", "VDD_CPU_SOC_MSS", "VIN_SYS_5V0"],
        "friendly": {"GPU Power": "VDD_GPU", "CPU SOC MSS Power": "VDD_CPU_SOC_MSS",
                     "SYS 5V Power": "VIN_SYS_5V0", "CPU Temperature": "cpu",
                     "Tjunction Temperature": "tj"},
        "temps": ["cpu", "tj", "soc012", "soc345"],
        "engines": ["EMC_FREQ", "GR3D_FREQ", "NVENC0_FREQ", "NVENC1_FREQ", "NVDEC0_FREQ",
                    "NVDEC1_FREQ", "NVJPG0_FREQ", "VIC", "OFA_FREQ", "PVA0_FREQ", "APE"],
        "cores": 14, "cpu_MHz": (972, 2601), "gpu_MHz": (0, 1575), "emc_MHz": 4266,
        "ram_MB": 125773,
        # JetPack 7: an INA3221 for the rails tegrastats prints and an INA238 (no label file) on the
        # board input.  NVIDIA does not publish Thor's I2C addresses: "2-0040"/"2-0044" are placeholders
        # for the simulator, and discovery finds the chips by their name file, never by these addresses.
        "monitors": [
            {"jetpack": "7", "chips": [("ina3221", "2-0040", ("VDD_GPU", "VDD_CPU_SOC_MSS", "VIN_SYS_5V0")),
                                       ("ina238", "2-0044", ("VIN",))],
             "update_interval_ms": 1},
        ],
        "sim": {
            "layout": ["ram", "swap", "cpu", "emc", "gpu", "engines", "ape", "temps", "rails"],
            "timestamp": True, "rail_values": 2, "rail_unit": "mW", "gpu_clock": "at",
            "gpcs": 3, "temp_step_C": 1.0 / 32, "ape_MHz": 300,
            "engines_off": ["VIC", "PVA0_FREQ"],
            "engines_at": ["NVENC0_FREQ", "NVENC1_FREQ", "NVDEC0_FREQ", "NVDEC1_FREQ",
                           "NVJPG0_FREQ", "OFA_FREQ"],
            "power": {"VDD_GPU": (0, 0, 60000), "VDD_CPU_SOC_MSS": (4100, 20000, 3000),
                      "VIN_SYS_5V0": (4100, 1000, 2000)},
            "inputs": [("VIN", 6000, 0.9)],
        },
    },
}

# /proc/device-tree/model substrings, most specific first (case-insensitive).
MODEL_PATTERNS = [
    ("thor", "thor"),
    ("agx orin", "agx-orin"),
    ("orin nx", "orin"),
    ("orin nano", "orin"),
    ("orin", "agx-orin"),
    ("xavier nx", "xavier-nx"),
    ("xavier", "xavier"),
    ("jetson-agx", "xavier"),
    ("tx2", "tx2"),
    ("quill", "tx2"),
    ("tx1", "tx1"),
    ("nano", "nano"),
]

# The seed's --jetsonDevice names (and lower-case forms) -> board keys.
DEVICE_ALIASES = {"Orin": "orin", "Tx2": "tx2", "Xavier": "xavier"}


def board_names():
    """The board keys accepted by ``--simulate`` and friends, sorted."""
    return sorted(BOARDS)


def all_rails(board):
    """Every rail name ``board`` prints on any JetPack, in table order, once each."""
    seen = []
    for rails in BOARDS[board]["rail_sets"]:
        seen.extend(rail for rail in rails if rail not in seen)
    return seen
