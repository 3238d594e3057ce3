// softmax / log_softmax along one dim, layer_norm over trailing dims, inference batch_norm.
#include <algorithm>

#include "ops/op_families.h"
#include "ops/shape_util.h"
#include "ops/tile_layout.h"

namespace kiln::ops {
namespace {

// Element operations per stored output element: roughly subtract, exp/square, accumulate, scale,
// shift. A cost-model constant, not an exact count.
constexpr double kNormOpsPerElement = 5.0;

double NormWork(const std::vector<Shape>&, const Shape& output, const Attrs&) {
  return kNormOpsPerElement * static_cast<double>(StoredElements(output, Layout::kTile));
}

// ---- softmax / log_softmax ----

std::string InferSoftmax(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  int64_t dim;
  // A scalar behaves as a 1-element vector (dim 0 / -1), as in PyTorch.
  const int64_t rank = std::max<int64_t>(inputs[0].size(), 1);
  if (std::string err = NormalizeDim(attrs.Int("dim"), rank, &dim); !err.empty()) return err;
  *out = inputs[0];
  return "";
}

// ---- layer_norm ----

std::string InferLayerNorm(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const Shape& x = inputs[0];
  const int64_t k = attrs.Int("normalized_ndim");
  if (k < 1 || k > static_cast<int64_t>(x.size()))
    return "normalized_ndim " + std::to_string(k) + " must be in [1, " + std::to_string(x.size()) +
           "] for input " + ShapeToString(x);
  const Shape normalized(x.end() - k, x.end());
  for (size_t i = 1; i < inputs.size(); ++i)
    if (inputs[i] != normalized)
      return std::string(i == 1 ? "weight" : "bias") + " must have the normalized shape " +
             ShapeToString(normalized) + ", got " + ShapeToString(inputs[i]);
  *out = x;
  return "";
}

// ---- batch_norm (inference) ----

std::string InferBatchNorm(const std::vector<Shape>& inputs, const Attrs& attrs, Shape* out) {
  const Shape& x = inputs[0];
  if (x.size() < 2) return "batch_norm input must be [N, C, ...], got " + ShapeToString(x);
  static const char* const kNames[] = {"x", "mean", "var", "weight", "bias"};
  for (size_t i = 1; i < inputs.size(); ++i)
    if (inputs[i] != Shape{x[1]})
      return std::string(kNames[i]) + " must be [" + std::to_string(x[1]) + "] (the channel count), got " +
             ShapeToString(inputs[i]);
  *out = x;
  return "";
}

}  // namespace

std::vector<OpDef> NormalizationOps() {
  std::vector<OpDef> ops;
  for (bool log : {false, true}) {
    OpDef def;
    def.name = log ? "log_softmax" : "softmax";
    def.summary = log ? "log(softmax(x)) along one dim, computed stably as x - max - log(sum(exp))"
                      : "exp(x) / sum(exp(x)) along one dim, max-subtracted for stability";
    def.inputs = {"x"};
    def.attrs = {{"dim", AttrKind::kInt, "Dim to normalize over (negative counts from the end)"}};
    if (!log)
      def.attrs.push_back({"zero_masked_rows", AttrKind::kInt,
                           "When 1, a slice along `dim` that is all -inf gives zeros instead of NaN (ATen's "
                           "_safe_softmax: attention rows that mask every position); default 0",
                           /*optional=*/true});
    def.unit = Unit::kVector;
    def.infer_shape = InferSoftmax;
    def.work = NormWork;
    ops.push_back(std::move(def));
  }
  {
    OpDef def;
    def.name = "layer_norm";
    def.summary = "Normalizes over the trailing dims to zero mean, unit variance, then weight/bias";
    def.inputs = {"x", "weight", "bias"};
    def.num_optional_inputs = 2;
    def.attrs = {
        {"normalized_ndim", AttrKind::kInt, "How many trailing dims to normalize over (>= 1)"},
        {"eps", AttrKind::kFloat,
         "Added to the variance before the square root (any sign, as ATen: a negative sum gives NaN)"},
    };
    def.unit = Unit::kVector;
    def.infer_shape = InferLayerNorm;
    def.work = NormWork;
    ops.push_back(std::move(def));
  }
  {
    OpDef def;
    def.name = "batch_norm";
    def.summary = "Inference batch norm: (x - mean) / sqrt(var + eps) * weight + bias per channel (dim 1)";
    def.inputs = {"x", "mean", "var", "weight", "bias"};
    def.num_optional_inputs = 2;
    def.attrs = {{"eps", AttrKind::kFloat,
         "Added to the variance before the square root (any sign, as ATen: a negative sum gives NaN)"}};
    def.unit = Unit::kVector;
    def.infer_shape = InferBatchNorm;
    def.work = NormWork;
    ops.push_back(std::move(def));
  }
  return ops;
}

}  // namespace kiln::ops
