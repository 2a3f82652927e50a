"""A model as a chain of layers: modules that each take one tensor and return one tensor,
whose composition is the model.  Built with torch.fx, with no per-family code.

Two granularities:

- ``block`` (default): the *units* are the model's children, with every
  ``Sequential``/``ModuleList`` child replaced by its own children (one level).
  The model is traced with the units as leaves and cut once between each pair
  of consecutive unit calls, at the first point where exactly one tensor is
  live.  Glue between units (``flatten``, ``mean``, a ``relu``) therefore joins
  the following layer, glue before the first unit joins the first layer, glue
  after the last unit the last.  Where no such point exists (parallel branches,
  a skip connection across units), the units share a layer.
- ``fine``: traced with torch.fx's default leaves and cut at *every* point
  where exactly one tensor is live.

"Live" counts only values computed from the input: parameters, buffers and
constants derived from them are copied into each layer that needs them.

Tracing runs in eval mode (the training flag is restored afterwards); the
layers share the model's parameters, so moving the model moves them.
"""
import collections
import logging

import torch
import torch.fx as fx

from ..errors import DnnStatsError

logger = logging.getLogger(__name__)

__all__ = ["GRANULARITIES", "LayerChain", "block_units", "split_model", "chain_inputs", "run_chain", "leaf_calls",
           "leaf_operations", "max_abs_diff"]

GRANULARITIES = ("block", "fine")

#: ``layers``: list of ``torch.fx.GraphModule`` (one tensor in, one out);
#: ``names``: per layer, a short description (the units or operations it holds);
#: ``granularity``: ``block`` or ``fine``.
LayerChain = collections.namedtuple("LayerChain", "layers names granularity")

_CONTAINERS = (torch.nn.Sequential, torch.nn.ModuleList)


def block_units(model):
    """Qualified names of the block units of ``model``, in definition order."""
    units = []
    for name, child in model.named_children():
        if isinstance(child, _CONTAINERS):
            units.extend("{}.{}".format(name, sub) for sub, _ in child.named_children())
        else:
            units.append(name)
    return units


class _Tracer(fx.Tracer):
    """Default torch.fx leaves, plus the given qualified module names."""

    def __init__(self, leaves=()):
        fx.Tracer.__init__(self)
        self.leaves = frozenset(leaves)

    def is_leaf_module(self, module, qualname):
        return qualname in self.leaves or fx.Tracer.is_leaf_module(self, module, qualname)


def _trace(model, leaves):
    was_training = model.training
    model.eval()
    try:
        tracer = _Tracer(leaves)
        graph = tracer.trace(model)
    except Exception as exc:  # torch.fx raises many types; a stop (Interrupted, a BaseException) goes through
        raise DnnStatsError("torch.fx cannot trace {}: {} (try the other granularity)".format(
            type(model).__name__, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
    finally:
        model.train(was_training)
    return fx.GraphModule(tracer.root, graph, type(model).__name__)


class _TypeRecorder(fx.Interpreter):
    """Runs the graph once and notes which nodes produce a tensor."""

    def __init__(self, module):
        fx.Interpreter.__init__(self, module)
        self.is_tensor = {}

    def run_node(self, node):
        result = fx.Interpreter.run_node(self, node)
        self.is_tensor[node] = isinstance(result, torch.Tensor)
        return result


def _dynamic_nodes(nodes):
    """Nodes whose value depends on the input (placeholders and what they feed)."""
    dynamic = set()
    for node in nodes:
        if node.op == "placeholder" or any(arg in dynamic for arg in node.all_input_nodes):
            dynamic.add(node)
    return dynamic


def _single_live_points(nodes, dynamic, is_tensor):
    """{position i: node} where, between node i and node i+1, the only live
    input-derived value is ``node``, a tensor."""
    index = {node: i for i, node in enumerate(nodes)}
    start_at = collections.defaultdict(list)
    end_at = collections.defaultdict(list)
    for node in dynamic:
        last = max([index[user] for user in node.users] or [index[node]])
        if last > index[node]:
            start_at[index[node]].append(node)
            end_at[last].append(node)
    live, points = set(), {}
    for i, node in enumerate(nodes):
        live.difference_update(end_at.get(i, ()))
        live.update(start_at.get(i, ()))
        if len(live) == 1:
            only = next(iter(live))
            if is_tensor.get(only) and node.op != "output":
                points[i] = only
    return points


def _block_cuts(nodes, points, units):
    """Cut positions for ``block``: the first single-live point between consecutive unit calls."""
    calls = [i for i, node in enumerate(nodes) if node.op == "call_module" and node.target in units]
    cuts = []
    for here, following in zip(calls, calls[1:]):
        found = [i for i in range(here, following) if i in points]
        if found:
            cuts.append(found[0])
    return cuts


def _describe(segment, units):
    if units is not None:
        held = [str(n.target) for n in segment if n.op == "call_module" and n.target in units]
        if held:
            return "+".join(held)
    ops = [str(n.target) if n.op == "call_module" else getattr(n.target, "__name__", str(n.target))
           for n in segment if n.op in ("call_module", "call_function", "call_method")]
    return "+".join(ops[:4]) + ("+..." if len(ops) > 4 else "") if ops else "identity"


def _segment_module(root, nodes, lo, hi, entry, exit_value, dynamic, name):
    """A GraphModule computing nodes ``lo..hi`` (inclusive) from ``entry``, returning ``exit_value``."""
    graph = fx.Graph()
    env = {entry: graph.placeholder("x")}

    def copy(node):
        if node not in env:
            if node in dynamic:
                raise DnnStatsError("internal error: layer {} needs a value from another layer ({})".format(
                    name, node.name))
            for arg in node.all_input_nodes:
                copy(arg)
            env[node] = graph.node_copy(node, lambda arg: env[arg])
        return env[node]

    for node in nodes[lo:hi + 1]:
        if node in dynamic and node.op not in ("placeholder", "output"):
            for arg in node.all_input_nodes:
                copy(arg)
            env[node] = graph.node_copy(node, lambda arg: env[arg])
    graph.output(fx.node.map_arg(exit_value, copy))
    return fx.GraphModule(root, graph, name)


def split_model(model, granularity="block", example=None):
    """Cut ``model`` into a :class:`LayerChain`.

    ``example``: an input used once to learn which values are tensors (default
    one 3x224x224 image).  Raises DnnStatsError if the model cannot be traced.
    """
    if granularity not in GRANULARITIES:
        raise DnnStatsError("unknown granularity {!r}: use block or fine".format(granularity))
    units = frozenset(block_units(model)) if granularity == "block" else None
    traced = _trace(model, units or ())
    if example is None:
        example = torch.randn(1, 3, 224, 224)
    recorder = _TypeRecorder(traced)
    with torch.no_grad():
        recorder.run(example)
    nodes = list(traced.graph.nodes)
    dynamic = _dynamic_nodes(nodes)
    points = _single_live_points(nodes, dynamic, recorder.is_tensor)
    if granularity == "block":
        cuts = _block_cuts(nodes, points, units)
    else:
        cuts = sorted(i for i in points if i > 0)
    output = nodes[-1]
    entry = nodes[0]
    layers, names = [], []
    bounds = [0] + cuts + [len(nodes) - 1]
    for number, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        exit_value = points[hi] if hi in points and hi != len(nodes) - 1 else output.args[0]
        segment = nodes[lo + 1:hi + 1]
        if not any(n in dynamic and n.op not in ("placeholder", "output") for n in segment) and layers:
            continue
        name = "{}_layer{}".format(type(model).__name__, number)
        layers.append(_segment_module(traced, nodes, lo + 1, hi, entry, exit_value, dynamic, name))
        names.append(_describe(segment, units))
        entry = points.get(hi)
    return LayerChain(layers, names, granularity)


def chain_inputs(layers, x):
    """The input of every layer for model input ``x`` (computed once, without grad),
    and the chain's output: ``(inputs, output)``."""
    inputs = []
    with torch.no_grad():
        for layer in layers:
            inputs.append(x)
            x = layer(x)
    return inputs, x


def run_chain(layers, x):
    """The chain's output for ``x`` (no grad)."""
    return chain_inputs(layers, x)[1]


def max_abs_diff(model, layers, x):
    """max |model(x) - chain(x)|, without grad; ``inf`` if shapes differ."""
    with torch.no_grad():
        want = model(x)
        got = run_chain(layers, x)
    if not isinstance(want, torch.Tensor) or not isinstance(got, torch.Tensor) or want.shape != got.shape:
        return float("inf")
    return float((want - got).abs().max().item())


#: torch.fx node kinds that are leaf operations (module, function and method calls).
_LEAF_OPS = ("call_module", "call_function", "call_method")


def leaf_calls(module):
    """The leaf operations of ``module`` in call order, traced with torch.fx's default leaves
    (``torch.nn`` modules but ``Sequential``): ``[(op, name)]`` where ``op`` is ``call_module``
    (``name``: the module's class name, ``Conv2d``), ``call_function`` or ``call_method`` (the
    function's or method's name, ``flatten``, ``add``).  Raises DnnStatsError where torch.fx
    cannot trace ``module``."""
    traced = _trace(module, ())
    modules = dict(traced.named_modules())
    calls = []
    for node in traced.graph.nodes:
        if node.op == "call_module":
            calls.append((node.op, type(modules[node.target]).__name__))
        elif node.op in _LEAF_OPS:
            calls.append((node.op, getattr(node.target, "__name__", str(node.target))))
    return calls


def leaf_operations(module):
    """The number of leaf operations of ``module`` (:func:`leaf_calls`; alexnet: 22)."""
    return len(leaf_calls(module))
