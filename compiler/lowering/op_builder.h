// Emits the device ops of one ATen node's decomposition, with the attribute plumbing of the common
// data-movement and reduction ops in one place (rules with many steps read as the math they do).
#ifndef KILN_COMPILER_LOWERING_OP_BUILDER_H_
#define KILN_COMPILER_LOWERING_OP_BUILDER_H_

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "compiler/lowering/lowering_context.h"
#include "ops/shape_util.h"

namespace kiln::compiler {

class OpBuilder {
 public:
  OpBuilder(LoweringContext& ctx, const AtenNode& node) : ctx_(ctx), node_(node) {}

  const ops::Shape& Shape(int v) const { return ctx_.graph().values[v].shape; }
  int Scalar(double v) { return ctx_.ScalarConstant(v); }
  int Constant(const std::string& what, ops::Shape shape, std::vector<float> values) {
    return ctx_.graph().AddConstant(node_.name + "_" + what, std::move(shape), std::move(values));
  }
  // A constant of `shape` filled with `value`: a scalar expanded (the program stores one number).
  absl::StatusOr<int> Filled(ops::Shape shape, double value) { return Expand(Scalar(value), std::move(shape)); }

  absl::StatusOr<int> Op(const std::string& op, std::vector<int> inputs, ops::Attrs attrs = {}) {
    return ctx_.Emit(node_, op, std::move(inputs), std::move(attrs));
  }
  absl::StatusOr<int> Reshape(int v, ops::Shape shape) {
    if (Shape(v) == shape) return v;
    ops::Attrs a;
    a.SetInts("shape", std::move(shape));
    return Op("reshape", {v}, a);
  }
  absl::StatusOr<int> Expand(int v, ops::Shape shape) {
    if (Shape(v) == shape) return v;
    ops::Attrs a;
    a.SetInts("shape", std::move(shape));
    return Op("expand", {v}, a);
  }
  absl::StatusOr<int> Permute(int v, std::vector<int64_t> dims) {
    ops::Attrs a;
    a.SetInts("dims", std::move(dims));
    return Op("permute", {v}, a);
  }
  // reduce_sum, reduce_mean, reduce_max, ... over `dims`.
  absl::StatusOr<int> Reduce(const std::string& op, int v, std::vector<int64_t> dims, bool keepdim) {
    ops::Attrs a;
    a.SetInts("dims", std::move(dims)).SetInt("keepdim", keepdim ? 1 : 0);
    return Op(op, {v}, a);
  }
  absl::StatusOr<int> Slice(int v, int64_t dim, int64_t start, int64_t end, int64_t step = 1) {
    ops::Attrs a;
    a.SetInt("dim", dim).SetInt("start", start).SetInt("end", end).SetInt("step", step);
    return Op("slice", {v}, a);
  }
  // Constant padding (negative counts crop): pads = [before_0, after_0, before_1, after_1, ...].
  absl::StatusOr<int> Pad(int v, std::vector<int64_t> pads, double value) {
    bool any = false;
    for (int64_t p : pads) any |= p != 0;
    if (!any) return v;
    ops::Attrs a;
    a.SetInts("pads", std::move(pads)).SetInt("mode", 0).SetFloat("value", value);
    return Op("pad", {v}, a);
  }
  // take / gather / argmax / ... with one `dim` attribute.
  absl::StatusOr<int> AlongDim(const std::string& op, std::vector<int> inputs, int64_t dim) {
    ops::Attrs a;
    a.SetInt("dim", dim);
    return Op(op, std::move(inputs), a);
  }
  // x with src added at index along dim (scatter with sum; out-of-range indices are skipped).
  absl::StatusOr<int> ScatterAdd(int x, int index, int src, int64_t dim) {
    ops::Attrs a;
    a.SetInt("dim", dim).SetInt("reduce", 1).SetInt("include_self", 1);
    return Op("scatter", {x, index, src}, a);
  }

  // Whether the graph uses output `i` of the node (torch.export names every tensor output, used or
  // not, so multi-output rules skip the work for the ones nothing reads).
  bool Wants(size_t i) const {
    if (i >= node_.outputs.size() || node_.outputs[i].empty()) return false;
    const std::string& name = node_.outputs[i];
    const AtenGraph& g = ctx_.aten();
    if (std::find(g.outputs.begin(), g.outputs.end(), name) != g.outputs.end()) return true;
    for (const AtenNode& n : g.nodes)
      for (const NamedArgument& a : n.inputs)
        if (a.arg.tensor == name || std::find(a.arg.tensors.begin(), a.arg.tensors.end(), name) != a.arg.tensors.end())
          return true;
    return false;
  }
  // Binds output `i` when the graph uses it.
  absl::Status BindIfWanted(int v, size_t i) { return Wants(i) ? ctx_.Bind(node_, v, i) : absl::OkStatus(); }
  absl::Status Error(const std::string& message) const { return ctx_.NodeError(node_, message); }

 private:
  LoweringContext& ctx_;
  const AtenNode& node_;
};

}  // namespace kiln::compiler

#endif  // KILN_COMPILER_LOWERING_OP_BUILDER_H_
