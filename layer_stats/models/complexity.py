"""Parameters, MACs and FLOPs of a module, counted the same way on every torch (1.10 to 2.x).

How: the module runs once on an example input wrapped in a tensor subclass whose
``__torch_function__`` sees every torch function called on a value derived from the
input (``F.conv2d``, ``F.linear``, ``torch.matmul``, ``F.batch_norm``, ...), with its
arguments and result.  Each call is counted by a rule of ``_RULE_NAMES`` from shapes
alone, so the figures depend on the model's operations, not on how a torch version
lowers them (ptflops counts different operator sets on torch 1.10 and 2.x).  Calls
nested in a counted call are not seen, so nothing is counted twice; work on
parameters and buffers alone (no input in its arguments) is not counted.

The rules reproduce the seed's figures (its ModelInfo was made by the DeepSpeed flops
profiler): alexnet 61.1 M params / 714.19 M MACs / 1.43 G FLOPs, mobilenet_v2 3.5 M /
300.77 M / 614.97 M, mnasnet1_0 4.38 M / 314.42 M / 644.54 M, resnet50 25.56 M / 4.09 G /
8.21 G.

- MACs (multiply-accumulates): convolutions (groups and transposed included), linear
  layers, matrix products (``mm``, ``bmm``, ``matmul``, ``@``, ``addmm``, ``baddbmm``),
  ``einsum`` contractions and attention (``F.multi_head_attention_forward``,
  ``F.scaled_dot_product_attention``: projections, query x key and weights x value).
  A bias addition is not a multiply-accumulate and is not counted (as in the seed;
  ptflops' ``aten`` backend adds it: see ``bias_adds``).
- FLOPs: 2 per MAC, plus the DeepSpeed profiler's rules for the rest: bias additions
  of convolutions and ``addmm``; one per element for ``F.relu``, ``relu6``, ``elu``,
  ``leaky_relu``, ``prelu``, ``silu``, ``gelu``, ``softmax``, pooling (per input
  element) and ``torch.add``/``torch.mul`` (the functions only: the tensor methods
  reach ``__torch_function__`` exactly as the ``+``/``*`` operators do, which the seed
  did not count); batch norm 2 per element (1 without affine), layer/group/instance
  norm 5 (4).  Quirks kept for the seed's sake: ``nn.ReLU6`` runs ``F.hardtanh``, and
  ``nn.Hardswish``, ``nn.Sigmoid`` and ``Tensor.softmax`` have no rule: they add nothing.
- Params: parameters that require grad (as ptflops and DeepSpeed count them).

Per-stage figures of a layer chain sum to the whole model's: every counted call
happens in exactly one layer.

Against ptflops' ``aten`` backend (torch 2), for all 80 classifiers of torchvision 0.29:
params equal, and its MACs = ``macs + bias_adds``, less the attention products of
``nn.MultiheadAttention`` (vit_*: torch 2 runs them in a fused kernel aten does not
count), plus Swin V2's relative-position MLP (it runs on a buffer and weights alone).
"""
import collections
import logging
import threading

import torch
import torch.nn.functional as F

from ..errors import DnnStatsError

logger = logging.getLogger(__name__)

__all__ = ["METHOD", "Complexity", "count_complexity", "parameter_count"]

#: Names the counting method; recorded with every figure.  Bump the version when a
#: rule changes (figures made with different versions must not be compared).
METHOD = "fn-count/deepspeed-rules v1"

#: ``params``, ``macs``, ``flops``: ints for one pass of the example input.
#: ``bias_adds``: the bias additions ptflops' ``aten`` backend would add to the MACs
#: (conv and addmm biases, linear biases where torch lowers the layer to ``addmm``).
#: ``macs_by_kind``: {``conv``, ``linear``, ``matmul``, ``attention``: MACs}, where
#: ``attention`` is query x key and weights x value inside attention functions.
Complexity = collections.namedtuple("Complexity", "params macs flops bias_adds macs_by_kind")

_KINDS = ("conv", "linear", "matmul", "attention")
_active = threading.local()


def parameter_count(module):
    """Elements of ``module``'s parameters that require grad (shared ones once)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_complexity(module, example):
    """:class:`Complexity` of one forward pass of ``module`` on ``example`` (a tensor).

    Runs in eval mode without grad (the training flag is restored).  Raises
    DnnStatsError when the module cannot run on ``example``.
    """
    tally = _Tally()
    was_training = module.training
    module.eval()
    _active.tally = tally
    try:
        with torch.no_grad():
            module(example.as_subclass(_Probe))
    except (RuntimeError, TypeError, ValueError, IndexError) as exc:
        raise DnnStatsError("cannot count the operations of {} on an input of shape {}: {} (check that this "
                            "input is the one the module runs on)".format(
                                type(module).__name__, tuple(example.shape), _first_line(exc)))
    finally:
        _active.tally = None
        module.train(was_training)
    return Complexity(parameter_count(module), sum(tally.macs.values()), tally.flops, tally.bias_adds,
                      dict(tally.macs))


def _first_line(exc):
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


class _Tally(object):
    def __init__(self):
        self.macs = collections.OrderedDict((kind, 0) for kind in _KINDS)
        self.flops = 0
        self.bias_adds = 0

    def add(self, kind=None, macs=0, flops=0, bias_adds=0):
        if macs:
            self.macs[kind] += int(macs)
        self.flops += int(flops)
        self.bias_adds += int(bias_adds)


def _no_torch_function():
    """Context in which tensor subclasses dispatch nothing (name differs across torch versions)."""
    return getattr(torch._C, "DisableTorchFunctionSubclass", torch._C.DisableTorchFunction)()


class _Probe(torch.Tensor):
    """A tensor that counts the torch functions called on it (see the module docstring)."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = super(_Probe, cls).__torch_function__(func, types, args, kwargs)
        tally = getattr(_active, "tally", None)
        rule = _rules().get(func) if tally is not None and _hashable(func) else None
        if rule is not None:
            with _no_torch_function():
                rule(tally, _Call(args, kwargs, result))
        return result


def _hashable(func):
    try:
        hash(func)
    except TypeError:
        return False
    return True


class _Call(object):
    """Arguments (by position or name) and result of one call."""

    def __init__(self, args, kwargs, result):
        self.args, self.kwargs, self.result = args, kwargs, result

    def arg(self, index, name, default=None):
        if index < len(self.args):
            return self.args[index]
        return self.kwargs.get(name, default)

    def out(self):
        result = self.result
        return result[0] if isinstance(result, (tuple, list)) else result


def _prod(values):
    total = 1
    for value in values:
        total *= int(value)
    return total


# --- rules: each adds one call's MACs, FLOPs and bias additions to the tally -----------------

def _conv(tally, call):
    x, weight, bias, out = call.arg(0, "input"), call.arg(1, "weight"), call.arg(2, "bias"), call.out()
    macs = x.shape[0] * weight.numel() * _prod(out.shape[2:])
    extra = out.numel() if bias is not None else 0
    tally.add("conv", macs, 2 * macs + extra, extra)


def _conv_transpose(tally, call):
    x, weight, bias, out = call.arg(0, "input"), call.arg(1, "weight"), call.arg(2, "bias"), call.out()
    macs = x.shape[0] * weight.numel() * _prod(x.shape[2:])
    extra = out.numel() if bias is not None else 0
    tally.add("conv", macs, 2 * macs + extra, extra)


def _linear(tally, call):
    """No bias in MACs or FLOPs (DeepSpeed); ptflops' aten sees the bias only where torch
    lowers the layer to ``addmm`` (a 2-D input, or a contiguous one flattened to 2-D)."""
    x, weight, bias = call.arg(0, "input"), call.arg(1, "weight"), call.arg(2, "bias")
    macs = x.numel() * weight.shape[0]
    lowered_to_addmm = x.dim() <= 2 or x.is_contiguous()
    tally.add("linear", macs, 2 * macs, call.out().numel() if bias is not None and lowered_to_addmm else 0)


def _matmul_macs(a, b):
    """MACs of ``a @ b`` with broadcast batch dimensions; 1-D operands as in torch.matmul."""
    if a.dim() == 1 and b.dim() == 1:
        return a.shape[0]
    a_shape = (1,) + tuple(a.shape) if a.dim() == 1 else tuple(a.shape)
    b_shape = tuple(b.shape) + (1,) if b.dim() == 1 else tuple(b.shape)
    batch_a, batch_b = a_shape[:-2], b_shape[:-2]
    width = max(len(batch_a), len(batch_b))
    batch_a = (1,) * (width - len(batch_a)) + batch_a
    batch_b = (1,) * (width - len(batch_b)) + batch_b
    batch = _prod(max(x, y) for x, y in zip(batch_a, batch_b))
    return batch * a_shape[-2] * a_shape[-1] * b_shape[-1]


def _matmul(tally, call):
    macs = _matmul_macs(call.args[0], call.args[1])
    tally.add("matmul", macs, 2 * macs)


def _rmatmul(tally, call):
    macs = _matmul_macs(call.args[1], call.args[0])
    tally.add("matmul", macs, 2 * macs)


def _addmm(tally, call):
    """``addmm``/``baddbmm``: ``input + m1 @ m2``; the addition is counted as FLOPs."""
    x, m1, m2 = call.arg(0, "input"), call.arg(1, "mat1"), call.arg(2, "mat2")
    if m1 is None:  # baddbmm names them batch1, batch2
        m1, m2 = call.arg(1, "batch1"), call.arg(2, "batch2")
    macs = _matmul_macs(m1, m2)
    tally.add("matmul", macs, 2 * macs + x.numel(), call.out().numel())


def _einsum(tally, call):
    equation = call.args[0]
    operands = call.args[1:]
    if len(operands) == 1 and isinstance(operands[0], (tuple, list)):
        operands = operands[0]
    for macs, summed in _einsum_steps(equation, [op.shape for op in operands]):
        tally.add("matmul", macs, macs * (2 if summed else 1))


def _einsum_steps(equation, shapes):
    """``[(MACs, has summed index)]`` of contracting the operands left to right, as torch
    does for two operands: each step multiplies over every index it keeps or sums, after
    indices found in one operand alone (and needed nowhere else) were summed out."""
    equation = equation.replace(" ", "")
    inputs, _, output = equation.partition("->")
    subs = inputs.split(",")
    subs, output = _expand_ellipsis(subs, output if "->" in equation else None, shapes)
    sizes = {}
    for sub, shape in zip(subs, shapes):
        for letter, size in zip(sub, shape):
            sizes[letter] = max(sizes.get(letter, 1), int(size))
    if output is None:
        output = "".join(sorted(l for l in sizes if sum(s.count(l) for s in subs) == 1))
    steps, current = [], set(subs[0])
    for i, sub in enumerate(subs[1:], 1):
        later = set(output).union(*[set(s) for s in subs[i + 1:]])
        left = set(l for l in current if l in sub or l in later)
        right = set(l for l in sub if l in current or l in later)
        involved = left | right
        steps.append((_prod(sizes[l] for l in involved), bool(involved - later)))
        current = set(l for l in involved if l in later)
    return steps


def _expand_ellipsis(subs, output, shapes):
    """Replace ``...`` by digits naming the broadcast dimensions, right-aligned."""
    if not any("..." in sub for sub in subs):
        return subs, output
    widths = [len(shape) - (len(sub) - 3) for sub, shape in zip(subs, shapes) if "..." in sub]
    names = "".join(str(d) for d in range(max(widths + [0])))

    def expand(sub, width):
        return sub.replace("...", names[len(names) - width:] if width else "")

    subs = [expand(sub, len(shape) - (len(sub) - 3)) if "..." in sub else sub for sub, shape in zip(subs, shapes)]
    return subs, expand(output, len(names)) if output is not None else None


def _attention_shapes(query, key, value):
    """``(batch, L, S, E_qk, E_v)`` for tensors shaped ``(..., L, E)`` / ``(..., S, E)``."""
    return _prod(query.shape[:-2]), query.shape[-2], key.shape[-2], query.shape[-1], value.shape[-1]


def _sdpa(tally, call):
    query, key, value = call.arg(0, "query"), call.arg(1, "key"), call.arg(2, "value")
    batch, length, source, e_qk, e_v = _attention_shapes(query, key, value)
    macs = batch * length * source * (e_qk + e_v)
    tally.add("attention", macs, 2 * macs + batch * length * source)


def _mha(tally, call):
    """``F.multi_head_attention_forward`` (what ``nn.MultiheadAttention`` runs): the
    projections, query x key and weights x value per head, softmax; no bias in MACs."""
    query, key, value = call.arg(0, "query"), call.arg(1, "key"), call.arg(2, "value")
    heads = call.arg(4, "num_heads")
    batched = query.dim() == 3
    length, source = query.shape[0], key.shape[0]
    batch = query.shape[1] if batched else 1
    embed = query.shape[-1]
    projections = (length * embed + source * key.shape[-1] + source * value.shape[-1] + length * embed) * batch * embed
    attended = source + (call.arg(7, "bias_k") is not None) + bool(call.arg(9, "add_zero_attn"))
    scores = 2 * batch * length * attended * embed
    tally.add("linear", projections, 2 * projections)
    tally.add("attention", scores, 2 * scores + batch * heads * length * attended)
    bias_adds = 0
    if call.arg(6, "in_proj_bias") is not None and (not batched or query.is_contiguous()):
        bias_adds += batch * (length + 2 * source) * embed
    if call.arg(12, "out_proj_bias") is not None:
        bias_adds += batch * length * embed
    tally.add(bias_adds=bias_adds)


def _per_element(factor, affine_factor=None, weight_index=None, weight_name="weight"):
    """One rule: ``factor`` FLOPs per input element (``affine_factor`` with a weight)."""
    def rule(tally, call):
        n = call.arg(0, "input").numel()
        affine = weight_index is not None and call.arg(weight_index, weight_name) is not None
        tally.add(flops=n * (affine_factor if affine else factor))
    return rule


def _batch_norm(tally, call):
    n = call.arg(0, "input").numel()
    affine = call.arg(3, "weight") is not None
    if call.arg(5, "training", False):
        tally.add(flops=n * (5 if affine else 4))
    else:
        tally.add(flops=n * (2 if affine else 1))


def _elementwise(tally, call):
    a, b = call.arg(0, "input"), call.arg(1, "other")
    shapes = [tuple(x.shape) for x in (a, b) if isinstance(x, torch.Tensor)]
    if not shapes:
        tally.add(flops=1)
        return
    width = max(len(s) for s in shapes)
    padded = [(1,) * (width - len(s)) + s for s in shapes]
    tally.add(flops=_prod(max(dims) for dims in zip(*padded)))


_RULE_NAMES = [
    (F, ("conv1d", "conv2d", "conv3d"), _conv),
    (F, ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"), _conv_transpose),
    (F, ("linear",), _linear),
    (torch, ("matmul", "mm", "bmm"), _matmul),
    (torch.Tensor, ("matmul", "mm", "bmm", "__matmul__"), _matmul),
    (torch.Tensor, ("__rmatmul__",), _rmatmul),
    (torch, ("addmm", "baddbmm"), _addmm),
    (torch.Tensor, ("addmm", "baddbmm"), _addmm),
    (torch, ("einsum",), _einsum),
    (F, ("scaled_dot_product_attention",), _sdpa),
    (F, ("multi_head_attention_forward",), _mha),
    (F, ("relu", "relu6", "elu", "leaky_relu", "prelu", "silu", "gelu", "softmax",
         "avg_pool1d", "avg_pool2d", "avg_pool3d", "max_pool1d", "max_pool2d", "max_pool3d",
         "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
         "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d"), _per_element(1)),
    (F, ("batch_norm",), _batch_norm),
    (F, ("layer_norm",), _per_element(4, 5, 2)),
    (F, ("group_norm",), _per_element(4, 5, 2)),
    (F, ("instance_norm",), _per_element(4, 5, 3)),
    # Only the function forms: a tensor's ``add``/``mul`` methods reach __torch_function__
    # exactly as the ``+``/``*`` operators do, which the seed's counter did not count.
    (torch, ("add", "mul"), _elementwise),
]
_rule_table = {}


def _rules():
    """{torch function: rule}, built once; functions this torch lacks are left out."""
    if not _rule_table:
        for owner, names, rule in _RULE_NAMES:
            for name in names:
                func = getattr(owner, name, None)
                if func is not None:
                    _rule_table[func] = rule
    return _rule_table
