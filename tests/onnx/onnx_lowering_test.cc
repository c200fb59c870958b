// Per-op ONNX lowering tests: small traced graphs -> ONNX (opset 16 and 17) -> libonnx strict
// shape inference + checker -> ONNX Runtime (npm onnxruntime-node through ort_run.js), compared
// with LibTorch running the same traced module. Inputs are dynamic (batch/height/width) and the
// ORT runs use other sizes than the trace.
#include <torch/csrc/jit/api/module.h>
#include <torch/script.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "core/ops/detection_ops.h"
#include "core/ops/ops.h"
#include "core/trace/trace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plugins/format/onnx/lowering.h"
#include "plugins/format/onnx/ort_node_runner.h"
#include "tests/onnx/onnx_test_util.h"

namespace d2x::onnx_format {
namespace {

using onnx_test::Lowered;

// Traces fn at `sample`, lowers it with the given inputs' dynamic dims, writes the model.
absl::StatusOr<Lowered> TraceAndLower(const trace::TraceFunction& fn,
                                      const std::vector<at::Tensor>& sample,
                                      const std::vector<InputSpec>& specs, int opset,
                                      const std::string& name) {
  std::vector<std::string> input_names;
  for (const InputSpec& s : specs) input_names.push_back(s.name);
  LoweringOptions options;
  options.opset = opset;
  options.inputs = specs;
  for (size_t i = 0; i < specs.size(); ++i) {
    options.inputs[i].shape = sample[i].sizes().vec();
    options.inputs[i].elem_type = sample[i].scalar_type() == at::kLong
                                      ? onnx::TensorProto::INT64
                                      : onnx::TensorProto::FLOAT;
  }
  return onnx_test::TraceLowerAndWrite(fn, sample, input_names, "__torch__.d2x.OnnxTest", options,
                                       name);
}

void ExpectOrtMatchesTorch(const Lowered& lowered, const std::vector<InputSpec>& specs,
                           const std::vector<at::Tensor>& inputs, double atol) {
  absl::StatusOr<std::vector<at::Tensor>> expected = trace::RunModule(lowered.module, inputs);
  ASSERT_TRUE(expected.ok()) << expected.status();
  std::vector<std::pair<std::string, at::Tensor>> named;
  for (size_t i = 0; i < inputs.size(); ++i) named.emplace_back(specs[i].name, inputs[i]);
  absl::StatusOr<std::vector<at::Tensor>> got =
      RunInOnnxRuntime(onnx_test::OrtTestConfig(), lowered.path, named);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), expected->size());
  for (size_t i = 0; i < got->size(); ++i) {
    const at::Tensor& e = (*expected)[i];
    const at::Tensor& g = (*got)[i];
    ASSERT_EQ(g.sizes(), e.sizes()) << "output " << i;
    ASSERT_EQ(g.scalar_type(), e.scalar_type()) << "output " << i;
    if (e.is_floating_point()) {
      const double diff = e.numel() ? (g - e).abs().max().item<double>() : 0.0;
      EXPECT_LE(diff, atol) << "output " << i;
    } else {
      EXPECT_TRUE(at::equal(g, e)) << "output " << i << "\nort: " << g << "\ntorch: " << e;
    }
  }
}

// The backbone/FPN ops of the traced R-CNN graph: _convolution (+bias, stride, groups),
// batch_norm, relu_, max_pool2d, upsample_nearest2d(scale 2), add, cat, sigmoid; and the box
// head's flatten + linear on a second input.
TEST(OnnxLoweringTest, BackboneOpsMatchLibTorchInOnnxRuntime) {
  torch::manual_seed(0);
  const at::Tensor w1 = at::randn({8, 3, 3, 3}), b1 = at::randn({8});
  const at::Tensor gamma = at::rand({8}) + 0.5, beta = at::randn({8});
  const at::Tensor mean = at::randn({8}), var = at::rand({8}) + 0.5;
  const at::Tensor w2 = at::randn({8, 4, 3, 3}), w3 = at::randn({8, 8, 1, 1});
  const at::Tensor lw = at::randn({5, 4 * 2 * 2}), lb = at::randn({5});
  trace::TraceFunction fn = [&](const std::vector<at::Tensor>& in) {
    at::Tensor x = at::conv2d(in[0], w1, b1, {1, 1}, {1, 1});
    x = at::batch_norm(x, gamma, beta, mean, var, false, 0.1, 1e-5, false);
    x = at::relu_(x);
    at::Tensor p = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
    at::Tensor y = at::conv2d(p, w2, {}, {1, 1}, {1, 1}, {1, 1}, /*groups=*/2);
    at::Tensor up = at::upsample_nearest2d(y, c10::nullopt, std::vector<double>{2.0, 2.0});
    at::Tensor lateral = at::conv2d(x, w3);
    at::Tensor fused = at::add(lateral, up);
    at::Tensor both = at::cat({fused, at::sigmoid(x)}, 1);
    at::Tensor head = at::linear(at::relu(at::flatten(in[1], 1)), lw, lb);
    return std::vector<at::Tensor>{both, head};
  };
  const std::vector<InputSpec> specs = {{"images", 0, {}, {"N", "", "H", "W"}},
                                        {"box_features", 0, {}, {"K", "", "", ""}}};
  const std::vector<at::Tensor> sample = {at::randn({1, 3, 16, 16}), at::randn({3, 4, 2, 2})};
  for (int opset : {16, 17}) {
    absl::StatusOr<Lowered> lowered = TraceAndLower(fn, sample, specs, opset, "backbone");
    ASSERT_TRUE(lowered.ok()) << lowered.status();
    EXPECT_EQ(lowered->model.opset_import(0).version(), opset);
    EXPECT_EQ(lowered->model.graph().input(0).type().tensor_type().shape().dim(2).dim_param(),
              "H");
    // Other batch and sizes than the trace (H, W even: the trace's upsample needs 2x pooled).
    ExpectOrtMatchesTorch(*lowered, specs, {at::randn({2, 3, 24, 40}), at::randn({7, 4, 2, 2})},
                          1e-4);
  }
}

// aten::_convolution as the Python-traced R-CNN graph records it: plain (stride 2, dilation 2)
// and transposed (the mask head's ConvTranspose, stride 2).
TEST(OnnxLoweringTest, ConvolutionAndTransposedMatchLibTorchInOnnxRuntime) {
  torch::manual_seed(4);
  const at::Tensor w = at::randn({6, 3, 3, 3}), b = at::randn({6});
  const at::Tensor wt = at::randn({6, 4, 2, 2}), bt = at::randn({4});
  trace::TraceFunction fn = [&](const std::vector<at::Tensor>& in) {
    at::Tensor x = at::_convolution(in[0], w, b, {2, 2}, {2, 2}, {2, 2}, false, {0, 0}, 1, false,
                                    false, true, true);
    at::Tensor y = at::_convolution(at::relu(x), wt, bt, {2, 2}, {0, 0}, {1, 1}, true, {0, 0},
                                    1, false, false, true, true);
    return std::vector<at::Tensor>{x, y};
  };
  const std::vector<InputSpec> specs = {{"images", 0, {}, {"N", "", "H", "W"}}};
  absl::StatusOr<Lowered> lowered =
      TraceAndLower(fn, {at::randn({1, 3, 14, 14})}, specs, 17, "convolution");
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  std::map<std::string, int> op_types;
  for (const onnx::NodeProto& n : lowered->model.graph().node()) ++op_types[n.op_type()];
  EXPECT_EQ(op_types["Conv"], 1);
  EXPECT_EQ(op_types["ConvTranspose"], 1);
  ExpectOrtMatchesTorch(*lowered, specs, {at::randn({2, 3, 20, 26})}, 1e-4);
}

at::Tensor RandomRois(int64_t k, int64_t batch, double h, double w) {
  at::Tensor xy = at::rand({k, 2}) * at::tensor({w * 0.8, h * 0.8});
  at::Tensor wh = at::rand({k, 2}) * at::tensor({w * 0.5, h * 0.5});
  at::Tensor idx = at::randint(batch, {k, 1}).to(at::kFloat);
  return at::cat({idx, xy, xy + wh}, 1).to(at::kFloat);
}

// d2x::roi_align -> RoiAlign-16: aligned=True is half_pixel, aligned=False output_half_pixel.
TEST(OnnxLoweringTest, RoiAlignBothModesMatchLibTorchInOnnxRuntime) {
  torch::manual_seed(1);
  for (bool aligned : {true, false}) {
    for (int64_t sampling_ratio : {0, 2}) {
      trace::TraceFunction fn = [&](const std::vector<at::Tensor>& in) {
        return std::vector<at::Tensor>{
            ops::RoiAlign(in[0], in[1], 0.25, 7, 5, sampling_ratio, aligned)};
      };
      const std::vector<InputSpec> specs = {{"features", 0, {}, {"N", "", "H", "W"}},
                                            {"rois", 0, {}, {"K", ""}}};
      const std::vector<at::Tensor> sample = {at::randn({1, 4, 10, 12}),
                                              RandomRois(3, 1, 40, 48)};
      absl::StatusOr<Lowered> lowered = TraceAndLower(fn, sample, specs, 16, "roi_align");
      ASSERT_TRUE(lowered.ok()) << lowered.status();
      const std::vector<at::Tensor> inputs = {at::randn({2, 4, 20, 24}),
                                              RandomRois(12, 2, 80, 96)};
      ExpectOrtMatchesTorch(*lowered, specs, inputs, 1e-5);

      // Control: the other coordinate mode gives other values, so the comparison above does
      // detect a wrong mode.
      onnx::ModelProto flipped = lowered->model;
      int flips = 0;
      for (onnx::NodeProto& n : *flipped.mutable_graph()->mutable_node()) {
        for (onnx::AttributeProto& a : *n.mutable_attribute()) {
          if (a.name() == "coordinate_transformation_mode") {
            a.set_s(aligned ? "output_half_pixel" : "half_pixel");
            ++flips;
          }
        }
      }
      ASSERT_EQ(flips, 1);
      const std::string path = lowered->path + ".flipped.onnx";
      std::ofstream(path, std::ios::binary) << flipped.SerializeAsString();
      absl::StatusOr<std::vector<at::Tensor>> expected = trace::RunModule(lowered->module, inputs);
      ASSERT_TRUE(expected.ok()) << expected.status();
      absl::StatusOr<std::vector<at::Tensor>> got = RunInOnnxRuntime(
          onnx_test::OrtTestConfig(), path, {{"features", inputs[0]}, {"rois", inputs[1]}});
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_GT(((*got)[0] - (*expected)[0]).abs().max().item<double>(), 1e-2);
    }
  }
}

// d2x::nms -> NonMaxSuppression + Gather: the same indices in the same order.
TEST(OnnxLoweringTest, NmsMatchesLibTorchInOnnxRuntime) {
  torch::manual_seed(2);
  trace::TraceFunction fn = [](const std::vector<at::Tensor>& in) {
    return std::vector<at::Tensor>{ops::Nms(in[0], in[1], 0.5)};
  };
  auto boxes = [](int64_t k) {
    at::Tensor xy = at::rand({k, 2}) * 100;
    return at::cat({xy, xy + at::rand({k, 2}) * 40 + 1}, 1);
  };
  const std::vector<InputSpec> specs = {{"boxes", 0, {}, {"K", ""}}, {"scores", 0, {}, {"K"}}};
  absl::StatusOr<Lowered> lowered =
      TraceAndLower(fn, {boxes(10), at::rand({10})}, specs, 17, "nms");
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  ExpectOrtMatchesTorch(*lowered, specs, {boxes(200), at::rand({200})}, 0);
}

// d2x::normalize_images: normalized and zeroed outside each image's size, bit-identical.
TEST(OnnxLoweringTest, NormalizeImagesMatchesLibTorchInOnnxRuntime) {
  torch::manual_seed(3);
  trace::TraceFunction fn = [](const std::vector<at::Tensor>& in) {
    return std::vector<at::Tensor>{
        ops::NormalizeImages(in[0], in[1], {103.53, 116.28, 123.675}, {57.375, 57.12, 58.395})};
  };
  const std::vector<InputSpec> specs = {{"images", 0, {}, {"N", "", "H", "W"}},
                                        {"image_sizes", 0, {}, {"N", ""}}};
  absl::StatusOr<Lowered> lowered = TraceAndLower(
      fn, {at::rand({1, 3, 32, 32}) * 255, at::tensor({32, 30}, at::kLong).view({1, 2})}, specs,
      17, "normalize_images");
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  ExpectOrtMatchesTorch(
      *lowered, specs,
      {at::rand({2, 3, 64, 96}) * 255, at::tensor({64, 70, 41, 96}, at::kLong).view({2, 2})}, 0);
}

// The generic lowerings at other shapes than the trace: reshape / view with a constant size that
// has a -1 (the batch), upsample_nearest2d to a constant output size and by non-power-of-2
// factors, and scalar operands of add/sub/mul/div on float and int64 tensors. 14 -> 16 is a size
// where ONNX Resize (dst / (out / in)) and LibTorch (dst * float(in / out)) floor differently;
// the lowering must give LibTorch's pixels.
TEST(OnnxLoweringTest, ReshapeResizeToSizeAndScalarOperandsMatchLibTorchInOnnxRuntime) {
  torch::manual_seed(5);
  trace::TraceFunction fn = [](const std::vector<at::Tensor>& in) {
    const at::Tensor x = in[0];
    at::Tensor rows = x.view({-1, 4}) * 2.5;
    at::Tensor flat = at::reshape(x - 1.0, {-1, 3 * 8 * 8}) / 3.0;
    // The .vec overload, as F.interpolate(size=...) records it.
    const std::vector<int64_t> up_size = {16, 46}, down_size = {4, 2};
    const c10::optional<at::ArrayRef<double>> no_scales;
    at::Tensor up = at::upsample_nearest2d(in[2], at::OptionalIntArrayRef(up_size), no_scales);
    at::Tensor down =
        at::upsample_nearest2d(in[2], at::OptionalIntArrayRef(down_size), no_scales);
    const std::vector<double> factors = {1.5, 0.7};
    at::Tensor scaled = at::upsample_nearest2d(in[2], c10::nullopt, at::ArrayRef<double>(factors));
    at::Tensor ints = (in[1] + 3) * 2 - 1;
    return std::vector<at::Tensor>{rows, flat, up, down, scaled, ints};
  };
  const std::vector<InputSpec> specs = {{"x", 0, {}, {"N", "", "", ""}},
                                        {"ids", 0, {}, {"K"}},
                                        {"z", 0, {}, {"M", "", "H", "W"}}};
  for (int opset : {16, 17}) {
    absl::StatusOr<Lowered> lowered = TraceAndLower(
        fn, {at::randn({1, 3, 8, 8}), at::arange(5, at::kLong), at::randn({1, 2, 8, 12})}, specs,
        opset, "generic");
    ASSERT_TRUE(lowered.ok()) << lowered.status();
    // Other batch, length and spatial size (8x12 -> 5x7) than the trace.
    ExpectOrtMatchesTorch(*lowered, specs,
                          {at::randn({3, 3, 8, 8}), at::arange(-4, 7, at::kLong),
                           at::randn({2, 2, 14, 14})},
                          0);
  }
}

// sigmoid is lowered as torch computes it, 1 / (1 + exp(-x)): it rounds to exactly 1.0f for the
// same inputs as torch (ONNX Sigmoid in ORT does from x >= 15.84 instead of 16.64, making exact
// score ties that decide top-k / NMS in saturated heads), and elsewhere differs by at most 2 ulps
// on a few percent of inputs (ORT's Exp).
TEST(OnnxLoweringTest, SigmoidSaturatesLikeTorch) {
  trace::TraceFunction fn = [](const std::vector<at::Tensor>& in) {
    return std::vector<at::Tensor>{in[0].sigmoid()};
  };
  const std::vector<InputSpec> specs = {{"x", 0, {}, {"N"}}};
  const at::Tensor x = at::linspace(-20, 20, 200001, at::kFloat);
  const at::Tensor expected = x.sigmoid();
  for (int opset : {16, 17}) {
    absl::StatusOr<Lowered> lowered = TraceAndLower(fn, {at::randn({7})}, specs, opset, "sigmoid");
    ASSERT_TRUE(lowered.ok()) << lowered.status();
    absl::StatusOr<std::vector<at::Tensor>> got =
        RunInOnnxRuntime(onnx_test::OrtTestConfig(), lowered->path, {{"x", x}});
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), 1u);
    const at::Tensor& y = (*got)[0];
    ASSERT_EQ(y.sizes(), expected.sizes());
    EXPECT_TRUE(at::equal(y.eq(1.0f), expected.eq(1.0f)))
        << "saturated: ort " << y.eq(1.0f).sum().item<int64_t>() << ", torch "
        << expected.eq(1.0f).sum().item<int64_t>();
    // 2 ulps of float32 in [0.5, 1) (2 * 2^-24); smaller values have smaller ulps.
    EXPECT_LE((y - expected).abs().max().item<double>(), std::ldexp(2.0, -24));
    const double differing = y.ne(expected).to(at::kDouble).mean().item<double>();
    std::cout << "sigmoid opset " << opset << ": " << differing * 100 << " % of values differ\n";
    EXPECT_LE(differing, 0.1);
  }
}

// An op with no lowering fails the export, naming the op and where it comes from.
TEST(OnnxLoweringTest, UnloweredOpFailsNamingTheOp) {
  trace::TraceFunction fn = [](const std::vector<at::Tensor>& in) {
    return std::vector<at::Tensor>{at::exp(in[0])};
  };
  absl::StatusOr<Lowered> lowered =
      TraceAndLower(fn, {at::randn({2, 3})}, {{"x", 0, {}, {}}}, 17, "exp");
  ASSERT_FALSE(lowered.ok());
  EXPECT_EQ(lowered.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(lowered.status().message()),
              testing::HasSubstr("op aten::exp has no ONNX lowering (from "));
  EXPECT_THAT(std::string(lowered.status().message()), testing::HasSubstr("aten::exp("));
}

TEST(OnnxLoweringTest, OpsetOutsideCheckerRangeIsRejected) {
  torch::jit::Graph graph;
  LoweringOptions options;
  options.opset = 18;
  absl::StatusOr<onnx::ModelProto> model = LowerGraph(graph, options);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(std::string(model.status().message()), testing::HasSubstr("opset 18"));
}

}  // namespace
}  // namespace d2x::onnx_format
