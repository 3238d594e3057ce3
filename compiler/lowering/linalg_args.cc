#include "compiler/lowering/linalg_args.h"

#include "absl/strings/str_cat.h"
#include "base/macros.h"
#include "ops/shape_util.h"

namespace kiln::compiler {

ops::Shape BatchDims(const ops::Shape& s) { return ops::Shape(s.begin(), s.end() - 2); }

absl::StatusOr<int> SquareArg(LoweringContext& ctx, const AtenNode& node, const std::string& arg) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, arg));
  const ops::Shape& s = ctx.graph().values[x].shape;
  if (s.size() < 2 || s[s.size() - 1] != s[s.size() - 2])
    return ctx.NodeError(node, absl::StrCat(arg, " must be a batch of square matrices [..., n, n], got ",
                                            ops::ShapeToString(s)));
  return x;
}

absl::Status BroadcastBatch(OpBuilder& b, int* a, int* rhs) {
  const ops::Shape sa = b.Shape(*a), sb = b.Shape(*rhs);
  ops::Shape batch;
  if (std::string err = ops::BroadcastShapes(BatchDims(sa), BatchDims(sb), &batch); !err.empty())
    return b.Error(absl::StrCat("the batch dims of ", ops::ShapeToString(sa), " and ", ops::ShapeToString(sb),
                                " do not broadcast"));
  ops::Shape full_a = batch, full_b = batch;
  full_a.insert(full_a.end(), sa.end() - 2, sa.end());
  full_b.insert(full_b.end(), sb.end() - 2, sb.end());
  KILN_ASSIGN_OR_RETURN(*a, b.Expand(*a, full_a));
  KILN_ASSIGN_OR_RETURN(*rhs, b.Expand(*rhs, full_b));
  return absl::OkStatus();
}

absl::StatusOr<int> Transposed(OpBuilder& b, int x) {
  std::vector<int64_t> dims;
  for (size_t d = 0; d < b.Shape(x).size(); ++d) dims.push_back(static_cast<int64_t>(d));
  std::swap(dims[dims.size() - 1], dims[dims.size() - 2]);
  return b.Permute(x, dims);
}

absl::StatusOr<int> MatrixArg(LoweringContext& ctx, const AtenNode& node, const std::string& arg) {
  KILN_ASSIGN_OR_RETURN(auto x, ctx.Tensor(node, arg));
  const ops::Shape& s = ctx.graph().values[x].shape;
  if (s.size() < 2)
    return ctx.NodeError(node, absl::StrCat(arg, " must be a batch of matrices [..., m, n], got ", ops::ShapeToString(s)));
  return x;
}

absl::Status BindParts(OpBuilder& b, LoweringContext& ctx, const AtenNode& node, const std::string& op,
                       const std::vector<int>& inputs, size_t num_parts) {
  for (size_t part = 0; part < num_parts; ++part) {
    if (!b.Wants(part)) continue;
    ops::Attrs attrs;
    attrs.SetInt("part", static_cast<int64_t>(part));
    KILN_ASSIGN_OR_RETURN(auto v, b.Op(op, inputs, attrs));
    KILN_RETURN_IF_ERROR(ctx.Bind(node, v, part));
  }
  return absl::OkStatus();
}

}  // namespace kiln::compiler
