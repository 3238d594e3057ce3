// The pass pipeline: every step of compilation, from lowering the ATen graph to writing .kiln bytes,
// is a named pass over one CompileState, and the default pipeline is built in one place
// (BuildPipeline). The compiler, the compile tool's --dump-after/--stop-after/--time-passes and the
// tests all run that one list, or a named slice of it (as IREE's compile-from/compile-to phases do).
//
// A pass reads and writes the state's current IR: lowering turns the ATen graph into a device graph,
// placement turns the device graph into a scheduled program (and releases the graph), serialization
// turns the program into bytes. Between passes the structural verifier (verifier.h) checks the IR
// when `verify_each` is set, so a broken invariant is reported after the pass that broke it.
#ifndef KILN_COMPILER_PIPELINE_PIPELINE_H_
#define KILN_COMPILER_PIPELINE_PIPELINE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "compiler/aten/aten_graph.h"
#include "compiler/lowering/device_graph.h"
#include "compiler/passes/alias_reshapes.h"
#include "compiler/passes/common_subexpressions.h"
#include "compiler/passes/compose_permutes.h"
#include "compiler/passes/constant_folding.h"
#include "compiler/passes/eviction.h"
#include "compiler/passes/fold_batch_norm.h"
#include "compiler/passes/fuse_epilogue.h"
#include "compiler/passes/fuse_gelu_tanh.h"
#include "compiler/passes/fuse_hard_activation.h"
#include "compiler/passes/fuse_rearranges.h"
#include "compiler/passes/fuse_safe_softmax.h"
#include "compiler/passes/op_ordering.h"
#include "compiler/passes/memory_planning.h"
#include "compiler/passes/prefetch_weights.h"
#include "compiler/passes/share_constants.h"
#include "compiler/passes/sram_residency.h"
#include "compiler/program/scheduled_program.h"
#include "ops/dtype.h"
#include "target/chip_config.h"

namespace kiln::compiler {

// Debug builds verify the IR after every pass by default; optimized builds only when asked.
#ifdef NDEBUG
inline constexpr bool kVerifyEachByDefault = false;
#else
inline constexpr bool kVerifyEachByDefault = true;
#endif

struct CompileOptions {
  target::ChipConfig chip = target::DefaultChipConfig();  // capacity the memory plan must fit
  bool fold_constants = true;  // when false, the pipeline has no fold-constants pass
  bool compose_permutes = true;                 // when false, no compose-permutes pass
  bool eliminate_common_subexpressions = true;  // when false, no cse pass
  bool fuse_safe_softmax = true;                // when false, no fuse-safe-softmax pass
  bool fuse_gelu_tanh = true;                   // when false, no fuse-gelu-tanh pass
  bool fold_batch_norm = true;  // when false, no fold-batch-norm pass (batch norms run as their own ops)
  bool fuse_epilogues = true;   // when false, none of the fuse-* passes (activations run as their own ops)
  bool order_ops = true;        // when false, no order-ops pass (ops run in the graph's order)
  bool sram_residency = true;   // when false, no sram-residency pass (every device tensor in DRAM)
  bool alias_reshapes = true;   // when false, no alias-reshapes pass (every reshape copies)
  bool prefetch_weights = true;  // when false, no prefetch-weights pass (each op reads its DRAM weights)
  // The naive baseline (docs/BENCHMARKS.md): no folding, fusion or reordering, and place-naive instead of
  // place, schedule and evict: every op uploads its operands and downloads its result.
  bool naive = false;
  ops::DType device_dtype = ops::DType::kF32;  // storage of weights and activations on the device
  bool verify_each = kVerifyEachByDefault;     // run the structural verifier after every pass
  // When set, serialize streams the .kiln file here, one constant at a time, so the weights are never
  // held twice; when empty, the bytes go to CompileState::kiln (tests, in-process use).
  std::string output_path;
  // When set, the program is compiled beside this owner program (its constant regions; see
  // compiler/passes/share_constants.h): a share-constants pass before plan-memory places the
  // constants identical to the owner's in regions laid out like the owner's, so an executor created
  // beside the owner's (runtime::Executor::CreateSharing) uses the owner's copy on the device.
  std::shared_ptr<const OwnerConstants> share_from;
};

struct CompileSummary {
  int aten_nodes = 0;
  int device_ops = 0;
  int folded_nodes = 0;
  int permutes_composed = 0;  // permutes of a permute, now one permute
  int cse_nodes = 0;      // repeated computations removed
  int cse_constants = 0;  // repeated constants merged
  int safe_softmaxes_fused = 0;
  int gelu_tanhs_fused = 0;
  int batch_norms_folded = 0;
  int matmul_reshapes_folded = 0;
  int matmul_scales_folded = 0;
  int head_splits_folded = 0;
  int sliced_matmuls_split = 0;
  int rearranges_fused = 0;  // reshapes that moved into a rearrange with their permute
  int permutes_as_reshapes = 0;
  int residuals_fused = 0;
  int masks_fused = 0;  // adds of a broadcast operand fused as a matmul's bias
  int activations_fused = 0;
  int activations_recognised = 0;  // decomposed silu, hardsigmoid and hardswish made one op each
  int input_scales_fused = 0;
  int squeeze_excites_fused = 0;  // convolution + SE gate blocks made one conv2d_squeeze_excite
  int reshapes_aliased = 0;  // reshapes that became aliases of their operand
  int transfers = 0;
  std::map<std::string, int> ops_by_name;
  uint64_t arena_bytes = 0;
  uint64_t constant_bytes = 0;
  uint64_t peak_device_bytes = 0;
  uint64_t activation_bytes_without_reuse = 0;
  std::string sharing;   // what share-constants did; empty when the program was compiled alone
  std::string eviction;  // what the evict pass did; empty when the program fit
  std::string op_order;  // what the order-ops pass found; empty when it did not run
  std::string sram;      // what the sram-residency pass placed; empty when it did not run
  std::string weight_prefetch;  // what the prefetch-weights pass staged; empty when it did not run

  std::string ToString() const;
};

// Which IR a pass leaves as the state's current one (what a dump after it prints).
enum class IrKind { kAten, kDeviceGraph, kProgram, kKiln };

struct PassTiming {
  std::string pass;
  double seconds = 0;         // the pass itself
  double verify_seconds = 0;  // the verifier after it (0 when off)
};

// Everything compilation carries from pass to pass.
struct CompileState {
  const AtenGraph* aten = nullptr;           // the input; not owned, must outlive the run
  int aten_nodes = 0;                        // set by lowering, for the summary
  std::vector<std::string> warnings;         // for the user, e.g. a float64 input computed in float32
  std::optional<DeviceGraph> graph;          // from lowering until placement
  std::optional<ScheduledProgram> program;   // from placement on
  bool memory_planned = false;               // offsets in `program` are final
  std::string kiln;                          // the .kiln bytes, from serialization on (no output_path)
  uint64_t kiln_bytes = 0;                   // the .kiln's size, in memory or written to output_path
  FoldingStats folding;
  PermuteStats permutes;
  CseStats cse;
  SafeSoftmaxStats safe_softmax;
  GeluTanhStats gelu_tanh;
  BatchNormFoldingStats batch_norm_folding;
  int silus_fused = 0;  // fuse-silu: sigmoid + mul pairs that became one silu
  HardActivationStats hard_activations;
  int matmul_reshapes_folded = 0;  // fold-matmul-reshapes: matmuls that now produce their reshaped result
  int matmul_scales_folded = 0;    // fold-matmul-scales: scalar muls folded into a matmul's weight
  int head_splits_folded = 0;      // fold-head-splits: reshape + permute pairs a matmul now does itself
  int sliced_matmuls_split = 0;    // split-sliced-matmuls: matmuls that became one per slice of their result
  RearrangeStats rearranges;       // fuse-rearranges
  EpilogueFusionStats epilogue_fusion;
  int squeeze_excites_fused = 0;  // fuse-squeeze-excite: SE blocks made one op with their convolution
  int input_scales_fused = 0;  // fuse-input-scale: gate muls moved into a conv2d
  std::optional<OpOrderStats> op_order;
  std::optional<SramResidencyStats> sram;
  std::optional<WeightPrefetchStats> weight_prefetch;
  MemoryStats memory;
  EvictionStats eviction;
  std::optional<SharingStats> sharing;
  AliasStats aliasing;
  std::vector<PassTiming> timings;  // one per pass run, in order
  std::string last_pass;            // "" before any pass ran

  IrKind current() const;
  CompileSummary Summary() const;
};

struct Pass {
  std::string name;         // e.g. "fold-constants": what --dump-after/--stop-after take
  std::string summary;      // one line, for --list-passes
  std::string description;  // what it does to the IR, briefly, with an example
  IrKind input;   // where a run without start_at begins
  IrKind output;  // checked after the pass runs
  std::function<absl::Status(CompileState&)> run;
};

// The default pipeline for `options`, in order: lower, fold-constants (if enabled), compose-permutes (if
// enabled), cse (if enabled), fuse-safe-softmax (if enabled), fuse-gelu-tanh (if enabled), fold-batch-norm
// (if enabled), fuse-silu, fuse-hard-activations, fold-matmul-reshapes, split-sliced-matmuls,
// fold-matmul-scales, fold-head-splits, fuse-rearranges, fuse-epilogues, fuse-squeeze-excite and
// fuse-input-scale (if enabled), dce, order-ops (if enabled), place, select-layouts, schedule, sram-residency
// (if enabled), evict, prefetch, share-constants (with share_from), alias-reshapes (if enabled),
// prefetch-weights (if enabled, with sram-residency), plan-memory, serialize.
std::vector<Pass> BuildPipeline(const CompileOptions& options);

// The pass named `name`, or an error naming it and listing the pipeline's passes.
absl::StatusOr<const Pass*> FindPass(const std::vector<Pass>& pipeline, std::string_view name);

// What to run of the pipeline and what to observe.
struct RunOptions {
  std::string start_at;    // "" = the first pass whose input is the state's current IR
  std::string stop_after;  // "" = run to the end
  // Called after each pass (and its verification) succeeds; an error stops the run.
  std::function<absl::Status(const Pass&, const CompileState&)> after_pass;
};

// Runs `pipeline` (or the slice `run` names) over `state`. A pass's own error is returned unchanged;
// a verifier error is prefixed with the pass after which the invariant broke (or "before pass" for
// an IR that was already broken when the run started).
absl::Status RunPasses(const std::vector<Pass>& pipeline, CompileState& state, const CompileOptions& options,
                       const RunOptions& run = {});

// Conveniences that run the default pipeline for `options`: from an ATen graph (the result no longer
// points to it), or from a device graph (starting after lowering). `stop_after` = "" runs to
// serialization; a pass name stops after that pass, e.g. RunPipeline(graph, options, "plan-memory").
absl::StatusOr<CompileState> RunPipeline(const AtenGraph& aten, const CompileOptions& options,
                                         std::string_view stop_after = "");
absl::StatusOr<CompileState> RunPipeline(DeviceGraph graph, const CompileOptions& options,
                                         std::string_view stop_after = "");

// The text form of the state's current IR (printer.h), or of the ATen graph's size and the
// .kiln's size where there is no device IR; used by --dump-after.
std::string PrintState(const CompileState& state);

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_PIPELINE_PIPELINE_H_
