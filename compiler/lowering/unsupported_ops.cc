// The core ATen overloads without a lowering rule (and others models meet), each with the reason, so
// that a user hitting one learns whether to wait for it or to change the model, and docs/OPS.md can
// list every core overload.
#include "compiler/lowering/lowering_context.h"

namespace kiln::compiler {

std::string UnsupportedMessage(const UnsupportedOp& op) {
  return (op.not_yet ? "not supported yet: " : "cannot run on the device: ") + op.reason;
}

const std::map<std::string, UnsupportedOp>& UnsupportedAtenOps() {
  static const auto* table = [] {
    const std::string kSymbolic =
        "symbolic size arithmetic; Kiln compiles static shapes, where torch.export makes these constants";
    const std::string kRandom = "random numbers; the device has no RNG";
    const std::string kTraining =
        kRandom + " (dropout or stochastic depth in training mode: call model.eval() before torch.export)";
    auto* t = new std::map<std::string, UnsupportedOp>{
        // Cannot run: no device meaning, or an output the device cannot produce.
        {"aten._local_scalar_dense.default", {false, "reads a tensor element into a host scalar (.item())"}},
        {"aten.nonzero.default", {false, "data-dependent output shape"}},
        {"aten._upsample_bilinear2d_aa.default",
         {true, "no rule yet for antialiased bilinear resizing (interpolate(..., antialias=True))"}},
        {"aten.linalg_eig.default",
         {false, "complex-valued: a general real matrix has complex eigenvalues and eigenvectors, and the device has "
                 "no complex dtype (torch.linalg.eigvalsh covers symmetric matrices)"}},
        {"aten.hash_tensor.default",
         {false, "XOR-reduces the elements' bit patterns as 64-bit words; the device holds every dtype as fp32 "
                 "values, not the host's bits"}},
        {"aten.atan2.out", {false, "writes into an out= tensor; exported programs are functional (atan2.default)"}},
        {"aten.resize_.default", {false, "resizes a tensor's storage in place; exported programs are functional"}},
        {"aten.rand.default", {false, kRandom}},
        {"aten.randn.default", {false, kRandom}},
        {"aten.randperm.default", {false, kRandom}},
        // Dropout and stochastic depth sample only in training mode; exported after model.eval(), they are gone.
        {"aten.native_dropout.default", {false, kTraining}},
        {"aten.bernoulli.p", {false, kTraining}},
        {"aten.bernoulli.default", {false, kTraining}},
        {"aten.sym_is_contiguous.default", {false, kSymbolic}},
        {"aten.sym_numel.default", {false, kSymbolic}},
        {"aten.sym_size.int", {false, kSymbolic}},
        {"aten.sym_storage_offset.default", {false, kSymbolic}},
        {"aten.sym_stride.int", {false, kSymbolic}},
    };
    return t;
  }();
  return *table;
}

}  // namespace kiln::compiler
