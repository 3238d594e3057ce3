// Shared by the op reference tests (ops_test.cc and the ops/*_test.cc files linked into the same
// //ops:ops_test binary): run one op's kernel on ATen tensors, compare with ATen, and record which
// ops some test covers so that Registry.EveryOpHasAReferenceTest sees every file.
#ifndef KILN_OPS_OPS_TEST_UTIL_H_
#define KILN_OPS_OPS_TEST_UTIL_H_

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ops/attrs.h"
#include "ops/dtype.h"
#include "ops/kernels.h"
#include "ops/op_def.h"

namespace kiln::ops {

// Ops that some reference test below exercises. Registered at static-init time, so the coverage
// check works whatever order or subset of tests runs; adding an op without a test fails it.
inline std::set<std::string>& CoveredOps() {
  static std::set<std::string> covered;
  return covered;
}
inline bool Covers(std::initializer_list<const char*> names) {
  for (const char* n : names) CoveredOps().insert(n);
  return true;
}

inline Shape ShapeOf(const at::Tensor& t) { return t.sizes().vec(); }

inline at::Tensor Randn(Shape shape) { return at::randn(shape, at::kFloat); }
// Uniform in [lo, hi).
inline at::Tensor Uniform(Shape shape, double lo, double hi) {
  return at::rand(shape, at::kFloat) * (hi - lo) + lo;
}

// Infers the output shape (expecting success) and runs the kernel; an undefined tensor on failure.
inline at::Tensor RunOp(std::string_view name, const std::vector<at::Tensor>& inputs, const Attrs& attrs = {}) {
  const OpDef* def = FindOp(name);
  if (!def) {
    ADD_FAILURE() << "unknown op " << name;
    return {};
  }
  std::vector<at::Tensor> held;
  std::vector<Shape> shapes;
  for (const at::Tensor& t : inputs) {
    held.push_back(t.to(at::kFloat).contiguous());
    shapes.push_back(ShapeOf(held.back()));
  }
  std::vector<ConstView> views;
  for (size_t i = 0; i < held.size(); ++i) views.push_back({held[i].data_ptr<float>(), shapes[i]});
  Shape out_shape;
  const std::string err = InferOutputShape(*def, shapes, attrs, &out_shape);
  if (!err.empty()) {
    ADD_FAILURE() << name << ": " << err;
    return {};
  }
  // NaN-filled so an element the kernel forgets to write fails the comparison.
  at::Tensor out = at::full(out_shape, std::numeric_limits<float>::quiet_NaN(), at::kFloat);
  const KernelFn kernel = FindKernel(*def);
  if (!kernel) {
    ADD_FAILURE() << name << ": no kernel";
    return {};
  }
  kernel(views, attrs, MutView{out.data_ptr<float>(), out_shape});
  return out;
}

inline ::testing::AssertionResult AllClose(const at::Tensor& got, const at::Tensor& want, double rtol = 1e-4,
                                    double atol = 1e-5) {
  if (!got.defined()) return ::testing::AssertionFailure() << "kernel did not run";
  if (got.sizes() != want.sizes())
    return ::testing::AssertionFailure() << "shape " << got.sizes() << ", want " << want.sizes();
  const at::Tensor w = want.to(at::kFloat).contiguous();
  if (at::allclose(got, w, rtol, atol, /*equal_nan=*/true)) return ::testing::AssertionSuccess();
  const at::Tensor diff = (got - w).abs();
  return ::testing::AssertionFailure()
         << "max abs diff " << diff.nan_to_num(1e30).max().item<float>() << " at flat index "
         << diff.nan_to_num(1e30).flatten().argmax().item<int64_t>() << " of shape " << w.sizes();
}

inline std::string InferError(std::string_view name, const std::vector<Shape>& shapes, const Attrs& attrs = {}) {
  const OpDef* def = FindOp(name);
  if (!def) return "unknown op";
  Shape out;
  return InferOutputShape(*def, shapes, attrs, &out);
}

inline Shape InferOk(std::string_view name, const std::vector<Shape>& shapes, const Attrs& attrs = {}) {
  Shape out;
  const std::string err = InferOutputShape(*FindOp(name), shapes, attrs, &out);
  EXPECT_EQ(err, "") << name;
  return out;
}

inline double Work(std::string_view name, const std::vector<Shape>& shapes, const Attrs& attrs = {}) {
  const OpDef* def = FindOp(name);
  return def->work(shapes, InferOk(name, shapes, attrs), attrs);
}

}  // namespace kiln::ops

#endif  // KILN_OPS_OPS_TEST_UTIL_H_
