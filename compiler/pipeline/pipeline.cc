#include "compiler/pipeline/pipeline.h"

#include <chrono>
#include <filesystem>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/macros.h"
#include "compiler/codegen/kiln_writer.h"
#include "compiler/lowering/lower_aten.h"
#include "compiler/passes/dead_code_elimination.h"
#include "compiler/passes/fold_head_split.h"
#include "compiler/passes/fold_matmul_reshapes.h"
#include "compiler/passes/fold_matmul_scale.h"
#include "compiler/passes/fuse_hard_activation.h"
#include "compiler/passes/fuse_input_scale.h"
#include "compiler/passes/fuse_rearranges.h"
#include "compiler/passes/fuse_silu.h"
#include "compiler/passes/fuse_squeeze_excite.h"
#include "compiler/passes/layout_selection.h"
#include "compiler/passes/naive_placement.h"
#include "compiler/passes/placement.h"
#include "compiler/passes/prefetch.h"
#include "compiler/passes/scheduling.h"
#include "compiler/passes/split_sliced_matmuls.h"
#include "compiler/pipeline/verifier.h"
#include "compiler/program/printer.h"

namespace kiln::compiler {
namespace {

// With its article, for messages.
const char* IrName(IrKind ir) {
  switch (ir) {
    case IrKind::kAten: return "an ATen graph";
    case IrKind::kDeviceGraph: return "a device graph";
    case IrKind::kProgram: return "a scheduled program";
    case IrKind::kKiln: return "the .kiln bytes";
  }
  return "?";
}

// A pass that needs an IR the state does not hold fails with this, rather than dereferencing it.
absl::Status Missing(const std::string& pass, IrKind ir) {
  return absl::FailedPreconditionError(
      absl::StrCat("pass '", pass, "' needs ", IrName(ir), ", which the state does not hold"));
}

absl::Status Verify(const CompileState& state) {
  switch (state.current()) {
    case IrKind::kDeviceGraph: return VerifyDeviceGraph(*state.graph);
    case IrKind::kProgram: return VerifyProgram(*state.program);
    case IrKind::kAten:
    case IrKind::kKiln: return absl::OkStatus();  // the reader and the runtime's loader check these
  }
  return absl::OkStatus();
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

IrKind CompileState::current() const {
  if (kiln_bytes > 0) return IrKind::kKiln;
  if (program) return IrKind::kProgram;
  if (graph) return IrKind::kDeviceGraph;
  return IrKind::kAten;
}

// ---- The default pipeline: the one place that says which passes run, in which order -----------

std::vector<Pass> BuildPipeline(const CompileOptions& requested) {
  CompileOptions options = requested;
  if (options.naive) {  // the baseline: nothing that makes a program better than op-by-op
    options.fold_constants = options.compose_permutes = options.eliminate_common_subexpressions =
        options.fuse_safe_softmax = options.fuse_gelu_tanh = options.fold_batch_norm = options.fuse_epilogues =
            options.order_ops = options.alias_reshapes = options.sram_residency = options.prefetch_weights = false;
  }
  std::vector<Pass> passes;
  passes.push_back({"lower", "ATen graph -> device graph, one rule per ATen op",
                    "Each ATen node becomes device ops of the op library (compiler/lowering/rules_*.cc); "
                    "weights become constants on first use; every result's shape is checked against "
                    "torch.export's. E.g. aten.addmm(b, x, permute(w)) -> %addmm = matmul(%x, %permute, %b).",
                    IrKind::kAten, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                      if (!s.aten) return Missing("lower", IrKind::kAten);
                      KILN_ASSIGN_OR_RETURN(DeviceGraph graph, LowerAtenGraph(*s.aten, &s.warnings));
                      s.aten_nodes = static_cast<int>(s.aten->nodes.size());
                      s.graph = std::move(graph);
                      return absl::OkStatus();
                    }});
  if (options.fold_constants)
    passes.push_back({"fold-constants", "runs ops whose operands are all constants at compile time",
                      "A node whose operands are all constants runs once with the op library's kernel and its "
                      "result becomes a constant. E.g. %wt = permute(%w) {dims=[1, 0]} disappears and %wt "
                      "becomes a constant holding the transposed weight.",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("fold-constants", IrKind::kDeviceGraph);
                        return FoldConstants(*s.graph, &s.folding);
                      }});
  if (options.compose_permutes)
    passes.push_back({"compose-permutes", "makes a permute of a permute one permute of the first operand",
                      "permute(permute(x, q), p) becomes permute(x, d) with d[i] = q[p[i]]; an identity d becomes a "
                      "reshape to the same shape, which alias-reshapes removes (compiler/passes/compose_permutes.h). "
                      "E.g. %b = permute(%a) {dims=[1, 2, 0, 3]} of %a = permute(%x) {dims=[2, 0, 1, 3]} becomes "
                      "%b = reshape(%x) {shape=...}.",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("compose-permutes", IrKind::kDeviceGraph);
                        return ComposePermutes(*s.graph, &s.permutes);
                      }});
  if (options.eliminate_common_subexpressions)
    passes.push_back({"cse", "merges repeated constants and repeated computations",
                      "Constants with the same dtype, shape and bytes become one; then a node with the same op, "
                      "attributes and operands as an earlier one is removed and its readers read the earlier "
                      "result (compiler/passes/common_subexpressions.h). E.g. %w2 = where(%m, %zero#1, %inf#1) "
                      "after %w1 = where(%m, %zero, %inf) disappears and its readers read %w1.",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("cse", IrKind::kDeviceGraph);
                        return EliminateCommonSubexpressions(*s.graph, &s.cse);
                      }});
  if (options.fuse_safe_softmax)
    passes.push_back({"fuse-safe-softmax", "turns the six ops of a decomposed _safe_softmax into one softmax",
                      "where(logical_not(reduce_max(logical_not(eq(a, -inf)), [d], keepdim)), 0, softmax(a, d)) "
                      "becomes softmax(a) {dim=d, zero_masked_rows=1}: zeros for rows that are all -inf "
                      "(compiler/passes/fuse_safe_softmax.h); dce drops the rest.",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("fuse-safe-softmax", IrKind::kDeviceGraph);
                        return FuseSafeSoftmax(*s.graph, &s.safe_softmax);
                      }});
  if (options.fuse_gelu_tanh)
    passes.push_back({"fuse-gelu-tanh", "turns GELU's tanh approximation written out in eight ops into gelu_tanh",
                      "mul(mul(x, 0.5), add(tanh(mul(add(x, mul(pow(x, 3), 0.044715)), sqrt(2/pi))), 1)), in any "
                      "operand order, becomes gelu_tanh(x) (compiler/passes/fuse_gelu_tanh.h); dce drops the rest. "
                      "E.g. GPT-2's NewGELUActivation.",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("fuse-gelu-tanh", IrKind::kDeviceGraph);
                        return FuseGeluTanh(*s.graph, &s.gelu_tanh);
                      }});
  if (options.fold_batch_norm)
    passes.push_back({"fold-batch-norm", "folds an inference batch_norm into the conv2d that feeds it",
                      "w' = w * s and b' = (b - mean) * s + beta per output channel, s = gamma / sqrt(var + eps), "
                      "when the convolution's weights and the norm's parameters are constants and only the norm "
                      "reads the convolution (compiler/passes/fold_batch_norm.h). E.g. %bn = batch_norm(conv2d(%x, "
                      "%w), ...) becomes %bn = conv2d(%x, %w.bn, %w.bn_bias).",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("fold-batch-norm", IrKind::kDeviceGraph);
                        return FoldBatchNorm(*s.graph, &s.batch_norm_folding);
                      }});
  if (options.fuse_epilogues)
    passes.push_back({"fuse-silu", "turns mul(x, sigmoid(x)) into silu(x)",
                      "torch.export writes silu as a sigmoid and a mul; when the mul alone reads the sigmoid they "
                      "become one silu op, which fuse-epilogues can then fuse into the conv2d or matmul producing x "
                      "(compiler/passes/fuse_silu.h). E.g. %s = sigmoid(%x); %y = mul(%x, %s) becomes %y = silu(%x).",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("fuse-silu", IrKind::kDeviceGraph);
                        return FuseSilu(*s.graph, &s.silus_fused);
                      }});
  if (options.fuse_epilogues)
    passes.push_back({"fuse-hard-activations", "turns the decomposed hardsigmoid and hardswish into one op each",
                      "torch.export writes hardsigmoid as div(clamp(add(x, 3), 0, 6), 6) and hardswish as "
                      "div(mul(x, clamp(add(x, 3), 0, 6)), 6); when each op alone reads the one before, the chain "
                      "becomes one op, which fuse-epilogues can then fuse (compiler/passes/fuse_hard_activation.h). "
                      "E.g. %y = div(mul(%x, clamp(clamp(add(%x, 3)) {min=0}) {max=6}), 6) becomes %y = hardswish(%x).",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("fuse-hard-activations", IrKind::kDeviceGraph);
                        return FuseHardActivations(*s.graph, &s.hard_activations);
                      }});
  if (options.fuse_epilogues)
    passes.push_back({"fold-matmul-reshapes", "lets a matmul take the operands and produce the result views reshape",
                      "A linear layer's view -> addmm -> view and a batched matmul's view -> bmm -> view become one "
                      "matmul over the unflattened operands, producing the final shape, when it computes the same "
                      "numbers with no more tile padding (compiler/passes/fold_matmul_reshapes.h): then "
                      "fuse-epilogues sees the add or activation that follows. E.g. %u = reshape(matmul(reshape(%x) "
                      "{shape=[128, 768]}, %w, %b)) {shape=[1, 128, 3072]} becomes %u = matmul(%x, %w, %b).",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("fold-matmul-reshapes", IrKind::kDeviceGraph);
                        return FoldMatmulReshapes(*s.graph, &s.matmul_reshapes_folded);
                      }});
  if (options.fuse_epilogues)
    passes.push_back({"split-sliced-matmuls", "makes a matmul whose result only slices read one matmul per slice",
                      "A fused projection cut into column ranges by slices of the last dim becomes one matmul per "
                      "range over that piece of the constant weight and bias, when that pads no more tiles "
                      "(compiler/passes/split_sliced_matmuls.h). E.g. GPT-2's %q = slice(matmul(%x, %c_attn.w, "
                      "%c_attn.b)) {dim=2, start=0, end=768} becomes %q = matmul(%x, %c_attn.w.cols0_768, "
                      "%c_attn.b.cols0_768).",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("split-sliced-matmuls", IrKind::kDeviceGraph);
                        return SplitSlicedMatmuls(*s.graph, &s.sliced_matmuls_split);
                      }});
  if (options.fuse_epilogues)
    passes.push_back({"fold-matmul-scales", "folds a scalar multiple of a matmul's result into its constant weight",
                      "mul(v, c), c a one-element constant and v a matmul's result or a reshape/permute of it, each "
                      "value read once, becomes the matmul with weight w * c and bias b * c "
                      "(compiler/passes/fold_matmul_scale.h). E.g. attention's %s = mul(permute(reshape(matmul(%x, "
                      "%w, %b))), 0.35) becomes %s = permute(reshape(matmul(%x, %w.scaled, %b.scaled))).",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("fold-matmul-scales", IrKind::kDeviceGraph);
                        return FoldMatmulScales(*s.graph, &s.matmul_scales_folded);
                      }});
  if (options.fuse_epilogues)
    passes.push_back({"fold-head-splits", "lets a linear layer produce attention heads instead of reshape + permute",
                      "matmul(x, w, b) -> reshape [..., S, H, D] -> permute to [..., H, S, D] becomes one batched matmul "
                      "over the weight's columns regrouped per head, [H, K, D]; what the permute does beyond the split "
                      "stays a permute (compiler/passes/fold_head_split.h). E.g. %q = permute(reshape(matmul(%x, %w, "
                      "%b)) {shape=[1, 128, 12, 64]}) {dims=[0, 2, 1, 3]} becomes %q = matmul(%x, %w.heads, %b.heads).",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("fold-head-splits", IrKind::kDeviceGraph);
                        return FoldHeadSplits(*s.graph, &s.head_splits_folded);
                      }});
  if (options.fuse_epilogues)
    passes.push_back({"fuse-rearranges", "makes a permute and the reshapes around it one rearrange op",
                      "reshape -> permute -> reshape, each value read by the next op alone, becomes rearrange(x) "
                      "{view, dims, shape}: one copy instead of one per op; one that moves only size-1 dims a reshape "
                      "(compiler/passes/fuse_rearranges.h). E.g. "
                      "attention's head merge %m = reshape(permute(%ctx) {dims=[0, 2, 1, 3]}) {shape=[1, 128, 768]} "
                      "becomes %m = rearrange(%ctx) {view=[1, 12, 128, 64], dims=[0, 2, 1, 3], shape=[1, 128, 768]}.",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("fuse-rearranges", IrKind::kDeviceGraph);
                        return FuseRearranges(*s.graph, &s.rearranges);
                      }});
  if (options.fuse_epilogues)
    passes.push_back({"fuse-epilogues", "fuses a residual add and an activation into the conv2d or matmul before them",
                      "add(mm, r) with r of mm's shape becomes mm's residual operand (or, r broadcasting to it, the bias of a "
                      "matmul without one: an attention mask), and an activation of ops/epilogue.h (relu, gelu, gelu_tanh, "
                      "clamp, ...) of it mm's activation attribute, when each fused op alone reads the value before it "
                      "(compiler/passes/fuse_epilogue.h). E.g. %r = relu(add(conv2d(%x, %w, %b), %s)) becomes "
                      "%r = conv2d(%x, %w, %b, %s) {activation = 0}.",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("fuse-epilogues", IrKind::kDeviceGraph);
                        return FuseEpilogues(*s.graph, &s.epilogue_fusion);
                      }});
  if (options.fuse_epilogues)
    passes.push_back({"fuse-squeeze-excite", "makes a convolution and the squeeze-excitation that gates it one op",
                      "mul(y, g) with y = conv2d(...) and g = conv2d(conv2d(reduce_mean(y over H, W))) (the gate's two "
                      "1x1 layers with their fused activations) becomes one conv2d_squeeze_excite when nothing else "
                      "reads y, its mean or the gate, and each core's share of y fits its SRAM "
                      "(compiler/passes/fuse_squeeze_excite.h). E.g. %z = mul(%y, conv2d(conv2d(reduce_mean(%y), %w1, "
                      "%b1) {activation=3}, %w2, %b2) {activation=1}) with %y = conv2d(%x, %w, %b) becomes "
                      "%z = conv2d_squeeze_excite(%x, %w, %b, %w1, %b1, %w2, %b2) {se_activation=3, "
                      "se_gate_activation=1}.",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph,
                      [chip = options.chip, dtype = options.device_dtype](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("fuse-squeeze-excite", IrKind::kDeviceGraph);
                        return FuseSqueezeExcite(*s.graph, chip, dtype, &s.squeeze_excites_fused);
                      }});
  if (options.fuse_epilogues)
    passes.push_back({"fuse-input-scale", "moves a per-channel gate x * g into the conv2d that reads the product",
                      "A squeeze-excitation gate mul(x, g), g of shape [N, C, 1, 1], read only as a conv2d's input "
                      "becomes that convolution's input_scale operand: it scales its input as it reads it "
                      "(compiler/passes/fuse_input_scale.h). E.g. %z = conv2d(mul(%x, %g), %w, %b) becomes "
                      "%z = conv2d(%x, %w, %b, %g) {input_scale = 1}.",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("fuse-input-scale", IrKind::kDeviceGraph);
                        return FuseInputScales(*s.graph, &s.input_scales_fused);
                      }});
  passes.push_back({"dce", "drops nodes no output needs and frees unread constants",
                    "Nodes whose results reach no output are removed; constants nobody reads any more (e.g. a "
                    "weight folding replaced) release their data. Value ids stay stable.",
                    IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                      if (!s.graph) return Missing("dce", IrKind::kDeviceGraph);
                      return EliminateDeadCode(*s.graph);
                    }});
  if (options.order_ops)
    passes.push_back({"order-ops", "orders ops so that fewer activation bytes are live at once",
                      "Greedy list scheduling: of the ready ops, the one that grows live memory least runs next; "
                      "the order is kept only if its peak is below the graph order's (compiler/passes/op_ordering.h). "
                      "E.g. of two branches, the one that frees its input runs first.",
                      IrKind::kDeviceGraph, IrKind::kDeviceGraph, [](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("order-ops", IrKind::kDeviceGraph);
                        s.op_order.emplace();
                        return OrderOpsForMemory(*s.graph, &*s.op_order);
                      }});
  const ops::DType device_dtype = options.device_dtype;
  if (options.naive)
    passes.push_back({"place-naive", "device graph -> program where every op round-trips the host",
                      "Every value lives on the host; each op uploads its operands (weights too), computes and "
                      "downloads its result (compiler/passes/naive_placement.h): the baseline of docs/BENCHMARKS.md.",
                      IrKind::kDeviceGraph, IrKind::kProgram, [device_dtype](CompileState& s) -> absl::Status {
                        if (!s.graph) return Missing("place-naive", IrKind::kDeviceGraph);
                        KILN_ASSIGN_OR_RETURN(ScheduledProgram program,
                                              PlaceGraphNaively(*std::move(s.graph), device_dtype));
                        s.program = std::move(program);
                        s.graph.reset();
                        return absl::OkStatus();
                      }});
  else
  passes.push_back({"place", "device graph -> scheduled program: memory spaces and transfers",
                    "Inputs get a host tensor and a device copy (copy_to_device), outputs a copy_to_host; "
                    "weights become device constants, other values live in the arena. The device graph is "
                    "released: from here on the program is the IR.",
                    IrKind::kDeviceGraph, IrKind::kProgram, [device_dtype](CompileState& s) -> absl::Status {
                      if (!s.graph) return Missing("place", IrKind::kDeviceGraph);
                      KILN_ASSIGN_OR_RETURN(ScheduledProgram program, PlaceGraph(*std::move(s.graph), device_dtype));
                      s.program = std::move(program);
                      s.graph.reset();  // its constants now live in the program; keep one copy
                      return absl::OkStatus();
                    }});
  passes.push_back({"select-layouts", "keeps device tensors tiled unless tile padding would waste memory",
                    "Device tensors start in the 32x32 tile layout; one whose padding would more than double "
                    "its footprint (a [3] bias, a 3x3 kernel) becomes row_major.",
                    IrKind::kProgram, IrKind::kProgram, [](CompileState& s) -> absl::Status {
                      if (!s.program) return Missing("select-layouts", IrKind::kProgram);
                      return SelectLayouts(*s.program);
                    }});
  if (!options.naive)
  passes.push_back({"schedule", "moves each transfer next to the op it serves",
                    "Ops keep their order; an input's copy_to_device moves to just before its first use, an "
                    "output's copy_to_host to just after its producer.",
                    IrKind::kProgram, IrKind::kProgram, [](CompileState& s) -> absl::Status {
                      if (!s.program) return Missing("schedule", IrKind::kProgram);
                      return ScheduleTransfers(*s.program);
                    }});
  if (options.sram_residency)
    passes.push_back({"sram-residency", "keeps activations and weights that fit in the cores' SRAM",
                      "Activations move to an SRAM arena (reused over their lifetimes), most DRAM bytes saved per "
                      "SRAM byte first; then weights, most reads first, to an SRAM constants region that stays "
                      "loaded across runs, within the chip's usable SRAM (compiler/passes/sram_residency.h). E.g. "
                      "%relu in region activations becomes %relu in region 'sram activations', and its producer and "
                      "consumers no longer touch DRAM for it.",
                      IrKind::kProgram, IrKind::kProgram, [chip = options.chip](CompileState& s) -> absl::Status {
                        if (!s.program) return Missing("sram-residency", IrKind::kProgram);
                        s.sram.emplace();
                        return PlaceInSram(*s.program, chip, &*s.sram);
                      }});
  if (!options.naive) {  // the naive lowering keeps everything on the host between ops
    passes.push_back({"evict", "spills activations to host memory when the plan does not fit device DRAM",
                      "When activations + constants exceed the chip's DRAM, activations the running op does not "
                      "touch are copied to a HOST_SCRATCH region and reloaded before their next use; the victim "
                      "is the one whose next use is farthest, weighed by what its transfers cost "
                      "(compiler/passes/eviction.h). Nothing changes when the program fits.",
                      IrKind::kProgram, IrKind::kProgram, [chip = options.chip](CompileState& s) -> absl::Status {
                        if (!s.program) return Missing("evict", IrKind::kProgram);
                        return FitDeviceMemory(*s.program, chip, &s.eviction);
                      }});
    passes.push_back({"prefetch", "issues eviction's uploads early, so the host link works while compute does",
                      "A reload or streamed-weight upload moves from just before its reader to as early as needed "
                      "to hide its transfer behind the ops before it, as far as the device memory budget and the "
                      "host link's order allow, e.g. `%w.upload1 = copy_to_device(%w)` from just before `matmul(%h, "
                      "%w.upload1)` to just after the input's copy; it streams more weights where the room they free "
                      "hides more than their uploads cost (compiler/passes/prefetch.h). Nothing changes without "
                      "eviction.",
                      IrKind::kProgram, IrKind::kProgram, [chip = options.chip](CompileState& s) -> absl::Status {
                        if (!s.program) return Missing("prefetch", IrKind::kProgram);
                        return PrefetchUploads(*s.program, chip, &s.eviction);
                      }});
  }
  if (options.share_from)
    passes.push_back({"share-constants", "places the constants an owner program holds too at the owner's offsets",
                      "Each constant with the same name, dtype, shape, layout and stored bytes as one of the owner's "
                      "(CompileOptions::share_from) moves to a region laid out like the owner's region (created as "
                      "'<owner region> (shared)', MemoryRegion::shares), at the owner's offset; the others stay "
                      "private. E.g. %w in constants@0 becomes %w in 'constants (shared)'@4096 (shares owner region 1).",
                      IrKind::kProgram, IrKind::kProgram, [owner = options.share_from](CompileState& s) -> absl::Status {
                        if (!s.program) return Missing("share-constants", IrKind::kProgram);
                        s.sharing.emplace();
                        return ShareConstants(*s.program, *owner, &*s.sharing);
                      }});
  if (options.alias_reshapes)
    passes.push_back({"alias-reshapes", "turns reshapes that move no bytes into aliases of their operand",
                      "A reshape whose result has its operand's stored bytes as they are (row-major, or tiles with "
                      "the last dim kept and rows regrouped in whole tiles) is removed; its result aliases the "
                      "operand, sharing its offset, and the operand lives as long as the alias is read "
                      "(compiler/passes/alias_reshapes.h). E.g. 3: %view = reshape(%mm) {shape=[1, 128, 768]} "
                      "becomes alias %view = %mm.",
                      IrKind::kProgram, IrKind::kProgram, [](CompileState& s) -> absl::Status {
                        if (!s.program) return Missing("alias-reshapes", IrKind::kProgram);
                        return AliasReshapes(*s.program, &s.aliasing);
                      }});
  if (options.sram_residency && options.prefetch_weights)
    passes.push_back({"prefetch-weights", "stages DRAM weights into SRAM ahead of their op, on the DRAM DMA engine",
                      "For a weight left in device DRAM, `%w.staged = copy(%w)` into the SRAM arena goes as early "
                      "before its reader as the SRAM budget allows and a timeline of the engines says pays, and the "
                      "reader reads %w.staged, so the DRAM streams the next weights while compute runs; resident "
                      "weights move back to DRAM for staging room where that is estimated faster "
                      "(compiler/passes/prefetch_weights.h). E.g. `matmul(%h, %w)` with %w in constants becomes "
                      "`%w.staged = copy(%w)` a few ops earlier and `matmul(%h, %w.staged)`.",
                      IrKind::kProgram, IrKind::kProgram, [chip = options.chip](CompileState& s) -> absl::Status {
                        if (!s.program) return Missing("prefetch-weights", IrKind::kProgram);
                        s.weight_prefetch.emplace();
                        return PrefetchWeights(*s.program, chip, &*s.weight_prefetch);
                      }});
  const uint64_t dram_bytes = static_cast<uint64_t>(options.chip.dram_bytes);
  passes.push_back({"plan-memory", "gives every device tensor its offset, reusing arena bytes",
                    "Constants are packed in the constant region; arena tensors whose lifetimes do not overlap "
                    "share bytes (greedy by size, first fit). Fails when the program does not fit the chip.",
                    IrKind::kProgram, IrKind::kProgram, [dram_bytes](CompileState& s) -> absl::Status {
                      if (!s.program) return Missing("plan-memory", IrKind::kProgram);
                      KILN_RETURN_IF_ERROR(PlanMemory(*s.program, dram_bytes, &s.memory));
                      s.memory_planned = true;
                      return absl::OkStatus();
                    }});
  passes.push_back({"serialize", "writes the planned program as .kiln bytes (schema/kiln.fbs)",
                    "Constants are written in device format, ready to copy to the device as they are.",
                    IrKind::kProgram, IrKind::kKiln, [path = options.output_path](CompileState& s) -> absl::Status {
                      if (!s.program) return Missing("serialize", IrKind::kProgram);
                      if (!s.memory_planned)
                        return absl::FailedPreconditionError("pass 'serialize' needs a memory-planned program");
                      if (path.empty()) {
                        KILN_ASSIGN_OR_RETURN(s.kiln, WriteKiln(*s.program));
                        s.kiln_bytes = s.kiln.size();
                        return absl::OkStatus();
                      }
                      KILN_RETURN_IF_ERROR(WriteKilnFile(*s.program, path));
                      std::error_code ec;
                      s.kiln_bytes = std::filesystem::file_size(path, ec);
                      if (ec) return absl::DataLossError(absl::StrCat(path, ": ", ec.message()));
                      return absl::OkStatus();
                    }});
  return passes;
}

absl::StatusOr<const Pass*> FindPass(const std::vector<Pass>& pipeline, std::string_view name) {
  for (const Pass& p : pipeline)
    if (p.name == name) return &p;
  std::vector<std::string> names;
  for (const Pass& p : pipeline) names.push_back(p.name);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown pass '", std::string(name), "'; the pipeline's passes are: ", absl::StrJoin(names, ", ")));
}

absl::Status RunPasses(const std::vector<Pass>& pipeline, CompileState& state, const CompileOptions& options,
                       const RunOptions& run) {
  size_t begin = 0, end = pipeline.size();
  if (!run.start_at.empty()) {
    KILN_ASSIGN_OR_RETURN(const Pass* p, FindPass(pipeline, run.start_at));
    begin = static_cast<size_t>(p - pipeline.data());
  } else {
    while (begin < end && pipeline[begin].input != state.current()) ++begin;
    if (begin == end)
      return absl::FailedPreconditionError(
          absl::StrCat("no pass of the pipeline takes ", IrName(state.current())));
  }
  if (!run.stop_after.empty()) {
    KILN_ASSIGN_OR_RETURN(const Pass* p, FindPass(pipeline, run.stop_after));
    end = static_cast<size_t>(p - pipeline.data()) + 1;
    if (end <= begin)
      return absl::InvalidArgumentError(absl::StrCat("pass '", run.stop_after, "' comes before '",
                                                     pipeline[begin].name, "', where this run starts"));
  }
  // An IR handed in from outside (a test's graph, a slice's start) is checked before the first pass.
  if (options.verify_each)
    if (absl::Status s = Verify(state); !s.ok())
      return absl::Status(s.code(), absl::StrCat("verifier: before pass '", pipeline[begin].name, "': ", s.message()));
  for (size_t i = begin; i < end; ++i) {
    const Pass& pass = pipeline[i];
    PassTiming timing{pass.name};
    auto start = std::chrono::steady_clock::now();
    KILN_RETURN_IF_ERROR(pass.run(state));
    timing.seconds = SecondsSince(start);
    if (state.current() != pass.output)
      return absl::InternalError(absl::StrCat("pass '", pass.name, "' should leave ", IrName(pass.output),
                                              " but the state holds ", IrName(state.current())));
    state.last_pass = pass.name;
    if (options.verify_each) {
      start = std::chrono::steady_clock::now();
      if (absl::Status s = Verify(state); !s.ok())
        return absl::Status(s.code(), absl::StrCat("verifier: after pass '", pass.name, "': ", s.message()));
      timing.verify_seconds = SecondsSince(start);
    }
    state.timings.push_back(std::move(timing));
    if (run.after_pass) KILN_RETURN_IF_ERROR(run.after_pass(pass, state));
  }
  return absl::OkStatus();
}

absl::StatusOr<CompileState> RunPipeline(const AtenGraph& aten, const CompileOptions& options,
                                         std::string_view stop_after) {
  CompileState state;
  state.aten = &aten;
  KILN_RETURN_IF_ERROR(RunPasses(BuildPipeline(options), state, options, {"", std::string(stop_after), nullptr}));
  state.aten = nullptr;  // the caller's graph need not outlive the result
  return state;
}

absl::StatusOr<CompileState> RunPipeline(DeviceGraph graph, const CompileOptions& options,
                                         std::string_view stop_after) {
  CompileState state;
  state.graph = std::move(graph);
  KILN_RETURN_IF_ERROR(RunPasses(BuildPipeline(options), state, options, {"", std::string(stop_after), nullptr}));
  return state;
}

std::string PrintState(const CompileState& state) {
  switch (state.current()) {
    case IrKind::kDeviceGraph: return PrintDeviceGraph(*state.graph);
    case IrKind::kProgram: return PrintProgram(*state.program, state.memory_planned);
    case IrKind::kKiln: return absl::StrCat(".kiln: ", state.kiln_bytes, " bytes\n");
    case IrKind::kAten:
      return state.aten ? absl::StrCat("ATen graph: ", state.aten->inputs.size(), " inputs, ",
                                       state.aten->nodes.size(), " nodes, ", state.aten->outputs.size(), " outputs\n")
                        : "no IR\n";
  }
  return "";
}

// ---- Summary -----------------------------------------------------------------------------------

CompileSummary CompileState::Summary() const {
  CompileSummary sum;
  sum.aten_nodes = aten_nodes;
  sum.folded_nodes = folding.folded_nodes;
  sum.permutes_composed = permutes.composed;
  sum.cse_nodes = cse.nodes;
  sum.cse_constants = cse.constants;
  sum.safe_softmaxes_fused = safe_softmax.fused;
  sum.gelu_tanhs_fused = gelu_tanh.fused;
  sum.reshapes_aliased = aliasing.reshapes;
  sum.batch_norms_folded = batch_norm_folding.folded;
  sum.residuals_fused = epilogue_fusion.residuals;
  sum.masks_fused = epilogue_fusion.biases;
  sum.matmul_reshapes_folded = matmul_reshapes_folded;
  sum.matmul_scales_folded = matmul_scales_folded;
  sum.head_splits_folded = head_splits_folded;
  sum.sliced_matmuls_split = sliced_matmuls_split;
  sum.rearranges_fused = rearranges.reshapes;
  sum.permutes_as_reshapes = rearranges.permutes_as_reshapes;
  sum.activations_fused = epilogue_fusion.activations;
  sum.activations_recognised = silus_fused + hard_activations.hardsigmoids + hard_activations.hardswishes;
  sum.input_scales_fused = input_scales_fused;
  sum.squeeze_excites_fused = squeeze_excites_fused;
  if (program) {
    for (const ProgramInstruction& inst : program->instructions) {
      if (inst.kind == ProgramInstruction::Kind::kOp) {
        sum.device_ops++;
        sum.ops_by_name[std::string(inst.op->name)]++;
      } else {
        sum.transfers++;
      }
    }
  } else if (graph) {
    for (const DeviceNode& node : graph->nodes) {
      sum.device_ops++;
      sum.ops_by_name[std::string(node.op->name)]++;
    }
  }
  sum.arena_bytes = memory.arena_bytes;
  sum.constant_bytes = memory.constant_bytes;
  sum.peak_device_bytes = memory.arena_bytes + memory.constant_bytes;
  sum.activation_bytes_without_reuse = memory.sum_of_activation_bytes;
  sum.eviction = eviction.ToString();
  if (op_order) sum.op_order = op_order->ToString();
  if (sram) sum.sram = sram->ToString();
  if (weight_prefetch) sum.weight_prefetch = weight_prefetch->ToString();
  if (sharing) sum.sharing = sharing->ToString();
  return sum;
}

std::string CompileSummary::ToString() const {
  std::ostringstream os;
  os << "ATen nodes:        " << aten_nodes << "\n"
     << "device ops:        " << device_ops << " (" << folded_nodes << " folded into constants, "
     << permutes_composed << " permutes of permutes composed, " << cse_nodes
     << " repeats removed, " << cse_constants << " repeated constants merged, " << safe_softmaxes_fused
     << " safe softmaxes and " << gelu_tanhs_fused << " tanh GELUs fused, " << reshapes_aliased
     << " reshapes aliased, "
     << batch_norms_folded << " batch norms into convolutions, " << matmul_reshapes_folded
     << " matmuls' reshapes, " << sliced_matmuls_split << " sliced matmuls split, " << matmul_scales_folded << " scalar muls and " << head_splits_folded
     << " head splits folded into matmuls, " << rearranges_fused << " reshapes fused into a rearrange, "
     << permutes_as_reshapes << " permutes of size-1 dims made reshapes; " << residuals_fused
     << " residual adds, " << masks_fused << " mask adds and "
     << activations_fused << " activations fused into their producer, " << activations_recognised
     << " decomposed activations recognised, " << input_scales_fused << " channel gates fused into a convolution, "
     << squeeze_excites_fused << " squeeze-excitations fused into theirs)\n";
  for (const auto& [name, count] : ops_by_name) os << "  " << name << ": " << count << "\n";
  os << "transfers:         " << transfers << "\n"
     << "arena:             " << arena_bytes << " bytes (" << activation_bytes_without_reuse
     << " without reuse)\n"
     << "constants:         " << constant_bytes << " bytes\n"
     << "peak device DRAM:  " << peak_device_bytes << " bytes\n";
  if (!sram.empty()) os << "SRAM:              " << sram << "\n";
  if (!weight_prefetch.empty()) os << "weight prefetch:   " << weight_prefetch << "\n";
  if (!op_order.empty()) os << "op order:          " << op_order << "\n";
  if (!eviction.empty()) os << "eviction:          " << eviction << "\n";
  if (!sharing.empty()) os << "shared:            " << sharing << "\n";
  return os.str();
}

}  // namespace kiln::compiler
