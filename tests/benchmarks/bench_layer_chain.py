"""Benchmark: whole-model latency vs the sum of its block layers' latencies.

Layer-wise datasets time each layer alone, on the same input again and again;
a whole model runs them back to back.  This prints, per model, the median of
``--runs`` timed runs of the whole model, the sum of the layers' medians and
their ratio, so a predictor trained on layer sums knows the gap on this
machine.  Not a test: run it by hand, from the checkout's root (installed or not)::

    python3 -m tests.benchmarks.bench_layer_chain [--models resnet18,mobilenet_v2] [--device cpu] [--runs 50]
"""
import argparse
import statistics

from layer_stats.measure.latency import time_runs
from layer_stats.models import build_model, chain_inputs, split_model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet18,mobilenet_v2,alexnet,mnasnet1_0")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--granularity", default="block", choices=["block", "fine"])
    args = parser.parse_args()
    import torch

    torch.manual_seed(0)
    print("{:<16} {:>6} {:>12} {:>12} {:>7}".format("model", "layers", "model ms", "layers ms", "ratio"))
    for name in args.models.split(","):
        model = build_model(name).to(args.device)
        chain = split_model(model, args.granularity)
        for layer in chain.layers:
            layer.to(args.device)
        x = torch.randn(1, 3, 224, 224, device=args.device)
        inputs, _ = chain_inputs(chain.layers, x)
        whole = statistics.median(time_runs(model, x, args.runs, 5, args.device))
        layers = sum(statistics.median(time_runs(layer, arg, args.runs, 5, args.device))
                     for layer, arg in zip(chain.layers, inputs))
        print("{:<16} {:>6} {:>12.3f} {:>12.3f} {:>7.3f}".format(name, len(chain.layers), whole * 1e3, layers * 1e3,
                                                                layers / whole))


if __name__ == "__main__":
    main()
