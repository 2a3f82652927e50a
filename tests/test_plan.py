"""The mapping planner's rules, without torch: counts per k and class, splits, priorities,
determinism, no duplicates, the seed's keys and file names."""
import collections
import json

import pytest

from layer_stats.errors import DnnStatsError
from multi_network_stats.plan import PlanOptions, make_plan, mapping_file, stage_bounds

#: Block layer counts of real models (checked against torchvision in tests/test_models.py).
COUNTS = {"alexnet": 21, "resnet18": 14, "resnet50": 22, "mobilenet_v2": 21, "mnasnet1_0": 19,
          "squeezenet1_0": 17, "densenet121": 13}


def options(**kw):
    base = dict(models=sorted(COUNTS), layer_counts=COUNTS, devices=["cpu", "cuda"], priorities=None,
                num_samples=200, nets_range=(2, 6), samples_per_set=20, single_nets=False, gpu_only_maps=False,
                max_split_nets=-1, seed=5)
    base.update(kw)
    return PlanOptions(**base)


def test_samples_split_evenly_over_k_with_remainder_last():
    plan = make_plan(options(num_samples=103, nets_range=(2, 4)))
    per_k = collections.Counter(entry.k for entry in plan)
    assert per_k == {2: 34, 3: 34, 4: 35}
    assert [e.index for e in plan] == list(range(len(plan)))


def test_single_nets_first_every_model_on_every_device():
    plan = make_plan(options(single_nets=True, num_samples=10))
    singles = [e for e in plan if e.cls == "A"]
    assert plan[:len(singles)] == singles and len(singles) == len(COUNTS) * 2
    assert {(next(iter(e.mapping)), list(next(iter(e.mapping.values())).values())[0]) for e in singles} == \
        {(m, d) for m in COUNTS for d in ("cpu", "cuda")}
    assert singles[0].file == "SingleNet_Map0_nm_1_set_0_classA.json"
    assert len(plan) == len(singles) + 10


def test_gpu_only_maps_one_per_set_and_whole_on_cuda():
    plan = make_plan(options(gpu_only_maps=True))
    per_set = collections.defaultdict(list)
    for entry in plan:
        per_set[(entry.k, entry.set)].append(entry)
    for entries in per_set.values():
        b = [e for e in entries if e.cls == "B"]
        assert len(b) == 1 and entries[0].cls == "B"
        assert all(stages == {str(COUNTS[n]): "cuda"} for n, stages in b[0].mapping.items())
    assert not [e for e in make_plan(options(gpu_only_maps=True, devices=["cpu"])) if e.cls == "B"]


def test_stage_keys_follow_the_seed():
    for entry in make_plan(options(max_split_nets=3)):
        assert entry.file == mapping_file(entry.index, entry.cls, entry.k, entry.set)
        assert len(entry.mapping) == entry.k
        for network, stages in entry.mapping.items():
            keys = list(stages)
            assert int(keys[-1]) == COUNTS[network]  # last stage: the layer count (resnet50 -> 22)
            bounds = stage_bounds(stages, COUNTS[network])
            assert bounds[0][0] == 0 and bounds[-1][1] == COUNTS[network] - 1
            assert all(a[1] + 1 == b[0] for a, b in zip(bounds, bounds[1:]))  # contiguous
            assert len({d for _, _, d in bounds}) == len(bounds)  # distinct devices
            if len(stages) > 1:
                assert entry.cls == "D"


def test_split_limit_and_classes():
    plan = make_plan(options(max_split_nets=1, num_samples=300))
    for entry in plan:
        splits = sum(1 for stages in entry.mapping.values() if len(stages) > 1)
        assert splits <= 1
        assert (entry.cls == "D") == (splits >= 1)
    classes = collections.Counter(e.cls for e in plan)
    assert classes["C"] > 50 and classes["D"] > 50


def test_one_device_means_no_splits():
    plan = make_plan(options(devices=["cpu"], num_samples=40, samples_per_set=3))
    assert {e.cls for e in plan} == {"C"}
    assert all(len(s) == 1 and list(s.values()) == ["cpu"] for e in plan for s in e.mapping.values())


def test_no_duplicate_within_a_set():
    plan = make_plan(options(num_samples=500))
    seen = collections.defaultdict(set)
    for entry in plan:
        key = json.dumps(entry.mapping, sort_keys=True)
        assert key not in seen[(entry.k, entry.set)]
        seen[(entry.k, entry.set)].add(key)


def test_models_used_about_equally():
    plan = make_plan(options(num_samples=400, samples_per_set=10))
    sets = {(e.k, e.set): tuple(e.mapping) for e in plan}
    use = collections.Counter(n for nets in sets.values() for n in nets)
    assert max(use.values()) - min(use.values()) <= 1


def test_priorities_steer_devices():
    # small sets, so that rejecting repeats hardly bends the draw
    plan = make_plan(options(priorities=[0.9, 0.1], num_samples=600, max_split_nets=1, samples_per_set=2,
                             nets_range=(4, 6)))
    whole = [list(s.values())[0] for e in plan if e.cls == "C" for s in e.mapping.values()]
    share = whole.count("cpu") / float(len(whole))
    assert 0.8 < share < 0.97
    only_cuda = make_plan(options(priorities=[0, 1], num_samples=40))
    assert all(list(s.values()) == ["cuda"] for e in only_cuda if e.cls == "C" for s in e.mapping.values())


def test_same_seed_same_plan_other_seed_other_plan():
    a, b = make_plan(options()), make_plan(options())
    assert [(e.file, e.mapping) for e in a] == [(e.file, e.mapping) for e in b]
    assert [e.mapping for e in make_plan(options(seed=6))] != [e.mapping for e in a]


@pytest.mark.parametrize("change, message", [
    ({"nets_range": (4, 2)}, "--numNetsRange 4 2"),
    ({"nets_range": (2, 9)}, "needs at least 9 models"),
    ({"priorities": [0.4, 0.3, 0.3]}, "--device_priorities has 3 values for 2 devices"),
    ({"priorities": [0, 0]}, "not all 0"),
])
def test_bad_options(change, message):
    with pytest.raises(DnnStatsError) as err:
        make_plan(options(**change))
    assert message in str(err.value)


@pytest.mark.parametrize("change, message", [
    ({"max_split_nets": 0}, "--max_split_nets 0: give a number >= 1, or -1 for no limit"),
    ({"priorities": [float("nan"), 1.0]}, "--device_priorities must be finite numbers >= 0"),
    ({"priorities": [float("inf"), 1.0]}, "--device_priorities must be finite numbers >= 0"),
    ({"models": ["resnet18", "alexnet", "resnet18"], "nets_range": (2, 2)},
     "--model_list names resnet18 more than once"),
    ({"devices": ["cpu", "cpu"], "priorities": None}, "--device_list names cpu more than once"),
    ({"devices": []}, "--device_list names no device"),
])
def test_bad_values_the_command_line_also_refuses(change, message):
    with pytest.raises(DnnStatsError) as err:
        make_plan(options(**change))
    assert message in str(err.value)
