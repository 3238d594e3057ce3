"""torch.compile(model, backend="kiln"): Dynamo's graphs on Kiln's compiler and simulated device.

    compiled = torch.compile(model, backend="kiln", options={"device_dtype": "bf16"})
    with torch.no_grad():
        y = compiled(x)
    print(torch_frontend.kiln_backend.stats())

Route of one Dynamo graph, per input shapes (compiled on the first call with them, then cached):
  1. The graph's parameters and buffers (Dynamo passes them as inputs) are frozen into a module as
     constants, so the program carries them and they are uploaded to the device once.
  2. torch.export of that module with the real inputs (AOTAutograd traces it to ATen), then
     export.to_core_aten: the same decomposition table as the AOT path (python -m torch_frontend.export).
     torch.export rather than a bare AOTAutograd compiler hook because Kiln's input format is the .pt2
     archive: the same reader, compiler, program format and runtime serve both paths.
  3. If every ATen op has a lowering rule (asked of the compiler, kiln_ext.lowering_rules()), the whole
     program goes to Kiln. Otherwise the graph is partitioned: maximal subgraphs of supported ops are
     each exported and compiled for the device, the rest runs in PyTorch on the host, and a warning
     names the host ops (once per graph). A subgraph Kiln rejects also runs on the host, with its error
     in the warning: never a silent fallback.
Outputs match eager PyTorch's; Kiln runs inference only: when autograd would record the graph, its
outputs carry a backward that raises a clear error instead of returning wrong gradients.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import os
import warnings
import weakref
from typing import Any, Callable, Sequence

import torch
from torch import nn
from torch.fx.passes.infra.partitioner import CapabilityBasedPartitioner
from torch.fx.passes.operator_support import OperatorSupportBase
from torch.utils import _pytree as pytree

from torch_frontend.export import pt2_bytes, to_core_aten
from torch_frontend.ext import kiln_ext

KilnError = kiln_ext.KilnError

# Programs kept per Dynamo graph (one per input shapes and weight version), as Dynamo's own
# recompile limit bounds its graphs.
MAX_PROGRAMS_PER_GRAPH = 8


# ----------------------------------------------------------------------------------------------
# Options


@dataclasses.dataclass(frozen=True)
class Options:
    device_dtype: str = "f32"      # storage of weights and activations on the device: f32 or bf16
    chip: str = ""                 # chip description JSON (target/configs); "" = the default chip
    device_memory_bytes: int = 0   # overrides the chip's DRAM capacity; 0 = the chip's
    dump_dir: str = ""             # per compiled program: program.pt2, the IR after each pass, program.kiln

    @staticmethod
    def parse(options: dict | None) -> "Options":
        options = dict(options or {})
        known = {f.name for f in dataclasses.fields(Options)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"kiln: unknown option(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        opts = Options(**options)
        if opts.device_dtype not in ("f32", "bf16"):
            raise ValueError(f"kiln: device_dtype '{opts.device_dtype}': expected f32 or bf16")
        if opts.chip:
            kiln_ext.load_chip(opts.chip)  # a bad description is the caller's error, not a fallback
        if not isinstance(opts.device_memory_bytes, int) or opts.device_memory_bytes < 0:
            raise ValueError(f"kiln: device_memory_bytes {opts.device_memory_bytes!r}: expected an int >= 0")
        return opts


# ----------------------------------------------------------------------------------------------
# Stats


@dataclasses.dataclass
class Stats:
    graphs: int = 0              # Dynamo graphs handed to the backend
    programs_compiled: int = 0   # Kiln programs compiled (one per device subgraph and input shapes)
    device_ops: int = 0          # device ops in the compiled programs
    host_ops: collections.Counter = dataclasses.field(default_factory=collections.Counter)  # by ATen name
    device_calls: int = 0        # program runs on the device
    transfers: int = 0           # host<->device DMAs of those runs
    simulated_us: float = 0.0    # simulated device time of those runs
    fallbacks: list = dataclasses.field(default_factory=list)  # subgraphs Kiln rejected, with why
    programs_held: int = 0       # compiled programs alive now (the cache drops the least recently used)

    def __str__(self) -> str:
        host = ", ".join(f"{name} x{n}" for name, n in sorted(self.host_ops.items())) or "none"
        lines = [
            f"kiln: {self.graphs} graph(s), {self.programs_compiled} program(s) compiled, "
            f"{self.device_ops} device op(s), {self.programs_held} held",
            f"  host ops: {host}",
            f"  device calls: {self.device_calls}, transfers: {self.transfers}, "
            f"simulated time: {self.simulated_us:.1f} us",
        ]
        lines += [f"  rejected by Kiln (ran on the host): {why}" for why in self.fallbacks]
        return "\n".join(lines)


_STATS = Stats()
_GRAPH_IDS = itertools.count()
_LIVE_PROGRAMS: "weakref.WeakSet[_DeviceProgram]" = weakref.WeakSet()


def stats() -> Stats:
    """What the backend has done in this process (a copy)."""
    return dataclasses.replace(_STATS, host_ops=collections.Counter(_STATS.host_ops),
                               fallbacks=list(_STATS.fallbacks),
                               programs_held=len(_LIVE_PROGRAMS))


def reset_stats() -> None:
    global _STATS
    _STATS = Stats()


# ----------------------------------------------------------------------------------------------
# What the device runs (the compiler's own rule table, not a copy of it)

_SUPPORTED = frozenset(kiln_ext.lowering_rules())
_UNSUPPORTED = kiln_ext.unsupported_ops()


def _is_getitem(node: torch.fx.Node) -> bool:
    """operator.getitem: picks one result of a multi-output op, and goes where its producer goes."""
    return getattr(node.target, "__name__", "") == "getitem"


def _is_device_node(node: torch.fx.Node) -> bool:
    if node.op != "call_function":
        return False
    if isinstance(node.target, torch._ops.OpOverload):
        return str(node.target) in _SUPPORTED
    return _is_getitem(node) and _is_device_node(node.args[0])


class _DeviceSupport(OperatorSupportBase):
    def is_node_supported(self, submodules, node: torch.fx.Node) -> bool:
        return _is_device_node(node)


def _host_reason(name: str) -> str:
    return _UNSUPPORTED.get(name, "no lowering rule")


# ----------------------------------------------------------------------------------------------
# A compiled device program, callable on tensors


class _NoBackward(torch.autograd.Function):
    """Runs a compiled graph where autograd would record it: the outputs require grad as in eager
    PyTorch, and backward raises instead of returning gradients Kiln never computed."""

    @staticmethod
    def forward(ctx, name: str, run: Callable, *tensors):
        ctx.name = name
        return tuple(run())

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(
            f"kiln: cannot backpropagate through {ctx.name}: torch.compile(backend='kiln') runs "
            "inference only (the device program computes no gradients). Run the compiled model under "
            "torch.no_grad() or torch.inference_mode(), or compile with another backend for training.")


class _DeviceProgram:
    def __init__(self, ep: torch.export.ExportedProgram, name: str, opts: Options):
        sig = ep.graph_signature
        if sig.buffers_to_mutate or sig.user_inputs_to_mutate:
            raise KilnError(f"{name}: the graph mutates its inputs or buffers "
                            "(e.g. batch norm in training mode); Kiln compiles inference graphs")
        self.name = name
        self.out_spec = ep.call_spec.out_spec
        pt2 = pt2_bytes(ep)
        dump = os.path.join(opts.dump_dir, name) if opts.dump_dir else ""
        if dump:
            os.makedirs(dump, exist_ok=True)
            with open(os.path.join(dump, "program.pt2"), "wb") as f:
                f.write(pt2)
        self.graph = kiln_ext.compile(pt2, name=name, device_dtype=opts.device_dtype,
                                      chip=opts.chip, device_memory_bytes=opts.device_memory_bytes,
                                      dump_dir=dump)
        _STATS.programs_compiled += 1
        _LIVE_PROGRAMS.add(self)
        _STATS.device_ops += self.graph.summary["device_ops"]

    def run(self, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        outs, st = self.graph.run([t.detach().contiguous() for t in tensors])
        _STATS.device_calls += 1
        _STATS.transfers += st["transfers"]
        _STATS.simulated_us += st["latency_us"]
        return outs


class _DeviceSubgraph(nn.Module):
    """Replaces one fused device partition in the host graph."""

    def __init__(self, program: _DeviceProgram):
        super().__init__()
        self.program = program

    def forward(self, *tensors):
        return pytree.tree_unflatten(self.program.run(tensors), self.program.out_spec)


# ----------------------------------------------------------------------------------------------
# One Dynamo graph


class _Frozen(nn.Module):
    """The Dynamo graph with its parameters, buffers and int arguments fixed: what torch.export sees.
    The constants are registered as buffers so that the exported program carries them as weights."""

    def __init__(self, gm: torch.fx.GraphModule, args: Sequence[Any], const: Sequence[bool]):
        super().__init__()
        self.gm = gm
        self.slots: list[tuple[str, Any]] = []  # per argument: ("input", None) / ("buffer", name) / ("value", v)
        for i, (a, c) in enumerate(zip(args, const)):
            if c:
                self.register_buffer(f"c{i}", a.detach(), persistent=True)
                self.slots.append(("buffer", f"c{i}"))
            elif isinstance(a, torch.Tensor):
                self.slots.append(("input", None))
            else:
                self.slots.append(("value", a))

    def forward(self, *inputs):
        it = iter(inputs)
        args = [next(it) if kind == "input" else getattr(self, v) if kind == "buffer" else v
                for kind, v in self.slots]
        return self.gm(*args)


class _CompiledGraph:
    """What the backend returns to Dynamo: compiles per input shapes, on first sight, and caches."""

    def __init__(self, gm: torch.fx.GraphModule, opts: Options):
        self.gm, self.opts = gm, opts
        self.id = next(_GRAPH_IDS)
        self.const = [_is_param_or_buffer(n) for n in gm.graph.find_nodes(op="placeholder")]
        # Least recently used last out: weights changed in place, or many shapes under dynamic=True,
        # must not pile up programs (each holds a simulated device's memory).
        self.cache: collections.OrderedDict[tuple, Callable] = collections.OrderedDict()
        self.compiled = 0
        self.warned = False
        _STATS.graphs += 1

    def _key(self, args: Sequence[Any]) -> tuple:
        key = []
        for a, c in zip(args, self.const):
            if isinstance(a, torch.Tensor):
                # A constant's identity and version: weights changed in place mean a new program.
                key.append((tuple(a.shape), a.dtype) + ((a.data_ptr(), a._version) if c else ()))
            else:
                key.append(a)
        return tuple(key)

    def __call__(self, *args):
        for i, a in enumerate(args):
            if isinstance(a, torch.Tensor) and a.device.type != "cpu":
                raise ValueError(f"kiln: graph{self.id}: argument {i} is on {a.device}; the simulated "
                                 "device takes CPU tensors")
        key = self._key(args)
        run = self.cache.get(key)
        if run is None:
            with torch.inference_mode(False):
                run = self._compile(args)
            self.cache[key] = run
            if len(self.cache) > MAX_PROGRAMS_PER_GRAPH:
                self.cache.popitem(last=False)
        else:
            self.cache.move_to_end(key)
        inputs = [a for a, c in zip(args, self.const) if isinstance(a, torch.Tensor) and not c]
        if not (torch.is_grad_enabled() and any(isinstance(a, torch.Tensor) and a.requires_grad for a in args)):
            return run(inputs)
        # Autograd would record this graph: weights or inputs require grad.
        leaves, spec = [], None

        def flat_run():
            nonlocal leaves, spec
            with torch.no_grad():
                leaves, spec = pytree.tree_flatten(run(inputs))
            return leaves

        grad_args = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
        return pytree.tree_unflatten(list(_NoBackward.apply(f"graph{self.id}", flat_run, *grad_args)), spec)

    def _compile(self, args: Sequence[Any]) -> Callable:
        name = f"graph{self.id}_{self.compiled}"
        self.compiled += 1
        frozen = _Frozen(self.gm, args, self.const)
        inputs = tuple(_plain(a) for a, c in zip(args, self.const) if isinstance(a, torch.Tensor) and not c)
        ep = to_core_aten(torch.export.export(frozen, inputs, strict=False))
        # The ops that stay on the host; a getitem picking a host op's result is part of that op.
        host = [n for n in ep.graph.nodes if n.op == "call_function" and not _is_device_node(n)
                and not _is_getitem(n)]
        if not host:
            try:
                program = _DeviceProgram(ep, name, self.opts)
                return lambda tensors: pytree.tree_unflatten(program.run(tensors), program.out_spec)
            except KilnError as e:  # the whole graph runs on the host, as ATen ops
                _STATS.fallbacks.append(str(e))
                self._warn_once(name, collections.Counter(), 0, [str(e)])
                gm = ep.module()
                return lambda tensors: gm(*tensors)
        return self._partition(ep, inputs, host, name)

    def _partition(self, ep, inputs, host, name) -> Callable:
        gm = ep.module()
        fused = CapabilityBasedPartitioner(gm, _DeviceSupport(),
                                           allows_single_node_partition=True).partition_and_fuse()
        # The partitioner names its fused device partitions fused_<n>; ep.module() has other
        # submodules (e.g. _guards_fn, its input checks), which stay on the host.
        parts = [n.target for n in fused.graph.nodes if n.op == "call_module" and n.target.startswith("fused_")]
        # Each partition's real inputs, captured by running the graph once on the host.
        captured = {}
        hooks = [fused.get_submodule(p).register_forward_pre_hook(
            lambda mod, a, p=p: captured.setdefault(p, tuple(_plain(t) for t in a))) for p in parts]
        with torch.no_grad():
            fused(*inputs)
        for h in hooks:
            h.remove()
        rejected = []
        for k, p in enumerate(parts):
            sub = fused.get_submodule(p)
            try:
                sub_ep = to_core_aten(torch.export.export(sub, captured[p], strict=False))
                fused.set_submodule(p, _DeviceSubgraph(_DeviceProgram(sub_ep, f"{name}.{k}", self.opts)))
            except KilnError as e:  # runs on the host as ATen ops: slower, still correct
                rejected.append(str(e))
                _STATS.fallbacks.append(str(e))
        counts = collections.Counter(str(n.target) for n in host)
        _STATS.host_ops.update(counts)
        self._warn_once(name, counts, len(parts) - len(rejected), rejected)
        fused.recompile()
        return lambda tensors: fused(*tensors)

    def _warn_once(self, name: str, host_ops: collections.Counter, device_subgraphs: int,
                   rejected: list[str]) -> None:
        if self.warned:
            return
        self.warned = True
        parts = []
        if host_ops:
            ops = "; ".join(f"{t} x{n} ({_host_reason(t)})" for t, n in sorted(host_ops.items()))
            parts.append(f"{sum(host_ops.values())} op(s) run on the host: {ops}")
        parts.append(f"{device_subgraphs} device subgraph(s)")
        if rejected:
            parts.append("rejected by Kiln, so run on the host: " + "; ".join(rejected))
        warnings.warn(f"kiln: {name}: " + "; ".join(parts), stacklevel=3)


def _is_param_or_buffer(placeholder: torch.fx.Node) -> bool:
    # Dynamo lifts an nn.Module's parameters and buffers to graph inputs; their source says so.
    from torch._dynamo.source import is_from_unspecialized_param_buffer_source
    arg = placeholder.meta.get("grapharg")
    if arg is None:
        return False
    return (is_from_unspecialized_param_buffer_source(arg.source)
            or isinstance(arg.example, nn.Parameter))


def _plain(t):
    # An ordinary tensor for tracing: not an inference tensor, not requiring grad.
    return t.detach().clone() if isinstance(t, torch.Tensor) else t


def kiln_backend(gm: torch.fx.GraphModule, example_inputs: Sequence[Any], options: dict | None = None):
    """The torch.compile backend, registered as "kiln" by the torch_dynamo_backends entry point."""
    # Compilation waits for the first call: under dynamic shapes the example inputs hold symbols, and
    # Kiln compiles each concrete shape.
    return _CompiledGraph(gm, Options.parse(options))
