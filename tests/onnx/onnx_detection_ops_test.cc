// ONNX lowerings of the R-CNN detection ops (d2x::rpn_proposals, multilevel_roi_align,
// box_postprocess, detector_postprocess, paste_masks) and the indexing aten ops after the box
// head: small traced graphs -> ONNX (opset 16 and 17) -> strict shape inference + checker ->
// ONNX Runtime, compared with the d2x op in LibTorch on other batch sizes / image sizes than the
// trace, including a batch of 2 images of different sizes and empty results.
#include <torch/script.h>

#include <filesystem>
#include <fstream>
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

// All dims dynamic, named <input>_<d>.
std::vector<InputSpec> DynamicSpecs(const std::vector<std::string>& names,
                                    const std::vector<at::Tensor>& sample) {
  std::vector<InputSpec> specs;
  for (size_t i = 0; i < names.size(); ++i) {
    InputSpec s;
    s.name = names[i];
    s.shape = sample[i].sizes().vec();
    s.elem_type = sample[i].scalar_type() == at::kLong ? onnx::TensorProto::INT64
                                                       : onnx::TensorProto::FLOAT;
    for (int64_t d = 0; d < sample[i].dim(); ++d) {
      s.dim_names.push_back(names[i] + "_" + std::to_string(d));
    }
    specs.push_back(s);
  }
  return specs;
}

absl::StatusOr<Lowered> TraceAndLower(const trace::TraceFunction& fn,
                                      const std::vector<std::string>& names,
                                      const std::vector<at::Tensor>& sample, int opset,
                                      const std::string& name) {
  LoweringOptions options;
  options.opset = opset;
  options.inputs = DynamicSpecs(names, sample);
  return onnx_test::TraceLowerAndWrite(fn, sample, names, "__torch__.d2x.OnnxDetectionTest",
                                       options, name);
}

struct Outputs {
  std::vector<at::Tensor> torch, ort;
};

absl::StatusOr<Outputs> RunBoth(const Lowered& lowered, const std::vector<std::string>& names,
                                const std::vector<at::Tensor>& inputs) {
  Outputs out;
  absl::StatusOr<std::vector<at::Tensor>> expected = trace::RunModule(lowered.module, inputs);
  if (!expected.ok()) return expected.status();
  out.torch = *expected;
  std::vector<std::pair<std::string, at::Tensor>> named;
  for (size_t i = 0; i < inputs.size(); ++i) named.emplace_back(names[i], inputs[i]);
  absl::StatusOr<std::vector<at::Tensor>> got =
      RunInOnnxRuntime(onnx_test::OrtTestConfig(), lowered.path, named);
  if (!got.ok()) return got.status();
  out.ort = *got;
  return out;
}

// Same shapes and dtypes; floats within atol (per output), integers and bools equal.
void ExpectClose(const Outputs& o, const std::vector<double>& atol) {
  ASSERT_EQ(o.ort.size(), o.torch.size());
  for (size_t i = 0; i < o.ort.size(); ++i) {
    const at::Tensor& e = o.torch[i];
    const at::Tensor& g = o.ort[i];
    ASSERT_EQ(g.sizes(), e.sizes()) << "output " << i;
    ASSERT_EQ(g.scalar_type(), e.scalar_type()) << "output " << i;
    if (e.is_floating_point()) {
      const double diff = e.numel() ? (g - e).abs().max().item<double>() : 0.0;
      EXPECT_LE(diff, atol.at(i)) << "output " << i;
    } else {
      EXPECT_TRUE(at::equal(g, e)) << "output " << i << "\nort: " << g << "\ntorch: " << e;
    }
  }
}

// Boxes [k, 4] inside a w x h image, sides 2..max_side.
at::Tensor RandomBoxes(int64_t k, double w, double h, double max_side) {
  at::Tensor xy = at::rand({k, 2}) * at::tensor({w * 0.9, h * 0.9});
  at::Tensor wh = at::rand({k, 2}) * (max_side - 2) + 2;
  return at::cat({xy, xy + wh}, 1).to(at::kFloat);
}

at::Tensor Rois(const std::vector<at::Tensor>& boxes_per_image) {
  std::vector<at::Tensor> rows;
  for (size_t i = 0; i < boxes_per_image.size(); ++i) {
    const at::Tensor& b = boxes_per_image[i];
    rows.push_back(at::cat({at::full({b.size(0), 1}, static_cast<double>(i)), b}, 1));
  }
  return at::cat(rows, 0).to(at::kFloat);
}

at::Tensor Sizes(std::vector<int64_t> hw) {
  return at::tensor(hw, at::kLong).view({-1, 2});
}

// ---------------------------------------------------------------------------------------------
// multilevel_roi_align: level assignment incl. boxes exactly at and next to the level boundaries
// (sqrt(area) = 112, 224, 448), RoiAlign per level, original roi order; an empty level; no rois.
TEST(OnnxDetectionOpsTest, MultilevelRoiAlignMatchesLibTorch) {
  torch::manual_seed(10);
  const std::vector<double> scales = {0.25, 0.125, 0.0625, 0.03125};
  trace::TraceFunction fn = [&](const std::vector<at::Tensor>& in) {
    return std::vector<at::Tensor>{ops::MultilevelRoiAlign({in[0], in[1], in[2], in[3]}, in[4],
                                                           scales, 7, 7, 0, true, 224, 4)};
  };
  const std::vector<std::string> names = {"p2", "p3", "p4", "p5", "rois"};
  auto features = [](int64_t n, int64_t h, int64_t w) {
    std::vector<at::Tensor> f;
    for (int64_t s : {4, 8, 16, 32}) f.push_back(at::randn({n, 8, (h + s - 1) / s, (w + s - 1) / s}));
    return f;
  };
  std::vector<at::Tensor> sample = features(1, 128, 160);
  sample.push_back(Rois({RandomBoxes(5, 160, 128, 120)}));
  for (int opset : {16, 17}) {
    absl::StatusOr<Lowered> lowered = TraceAndLower(fn, names, sample, opset, "mlroi");
    ASSERT_TRUE(lowered.ok()) << lowered.status();
    // Batch of 2 (480x640 and 400x300), random boxes plus squares at the level boundaries.
    std::vector<at::Tensor> inputs = features(2, 480, 640);
    std::vector<at::Tensor> squares;
    for (double side : {56.0, 112.0, 224.0, 448.0}) {
      for (double eps : {-1e-3, -1e-5, 0.0, 1e-5, 1e-3}) {
        squares.push_back(at::tensor({10.0, 20.0, 10.0 + side + eps, 20.0 + side + eps}).view({1, 4}));
      }
    }
    inputs.push_back(Rois({at::cat({RandomBoxes(30, 640, 480, 500), at::cat(squares, 0)}, 0),
                           RandomBoxes(17, 300, 400, 300)}));
    absl::StatusOr<Outputs> out = RunBoth(*lowered, names, inputs);
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectClose(*out, {1e-5});

    // Only small boxes (levels 3..5 empty), and no rois at all.
    inputs[4] = Rois({RandomBoxes(6, 640, 480, 20), RandomBoxes(3, 300, 400, 20)});
    out = RunBoth(*lowered, names, inputs);
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectClose(*out, {1e-5});
    inputs[4] = at::zeros({0, 5});
    out = RunBoth(*lowered, names, inputs);
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectClose(*out, {0});
  }
}

// ---------------------------------------------------------------------------------------------
// detector_postprocess: scale, clip, non-empty keep and per-image counts (bit-identical).
TEST(OnnxDetectionOpsTest, DetectorPostprocessMatchesLibTorch) {
  torch::manual_seed(11);
  trace::TraceFunction fn = [](const std::vector<at::Tensor>& in) {
    auto [boxes, scales, keep, num] = ops::DetectorPostprocess(in[0], in[1], in[2], in[3]);
    return std::vector<at::Tensor>{boxes, scales, keep, num};
  };
  const std::vector<std::string> names = {"boxes", "batch_index", "image_sizes", "output_sizes"};
  const std::vector<at::Tensor> sample = {RandomBoxes(3, 64, 64, 30),
                                          at::zeros({3}, at::kLong), Sizes({64, 64}),
                                          Sizes({128, 100})};
  for (int opset : {16, 17}) {
    absl::StatusOr<Lowered> lowered = TraceAndLower(fn, names, sample, opset, "detpost");
    ASSERT_TRUE(lowered.ok()) << lowered.status();
    // Two images; some boxes partly or wholly outside (empty after clipping).
    at::Tensor boxes = at::cat({RandomBoxes(7, 320, 240, 120), RandomBoxes(5, 200, 300, 90),
                                at::tensor({-50.f, -40.f, -10.f, -5.f, 150.f, 10.f, 400.f, 20.f})
                                    .view({2, 4})},
                               0);
    at::Tensor index = at::cat({at::zeros({7}, at::kLong), at::ones({7}, at::kLong)});
    const std::vector<at::Tensor> inputs = {boxes, index, Sizes({240, 320, 300, 200}),
                                            Sizes({480, 427, 333, 199})};
    absl::StatusOr<Outputs> out = RunBoth(*lowered, names, inputs);
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectClose(*out, {0, 0, 0, 0});
    // No detections.
    out = RunBoth(*lowered, names,
                  {at::zeros({0, 4}), at::zeros({0}, at::kLong), inputs[2], inputs[3]});
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectClose(*out, {0, 0, 0, 0});
  }
}

// ---------------------------------------------------------------------------------------------
// rpn_proposals: 5 levels, 3 anchors per cell, top-k smaller and larger than some levels, two
// images of different sizes; and an empty result (min_box_size larger than every box).
at::Tensor CellAnchors(double size) {
  std::vector<at::Tensor> rows;
  for (double ratio : {0.5, 1.0, 2.0}) {
    const double w = size / std::sqrt(ratio), h = size * std::sqrt(ratio);
    rows.push_back(at::tensor({-w / 2, -h / 2, w / 2, h / 2}, at::kFloat).view({1, 4}));
  }
  return at::cat(rows, 0);
}

TEST(OnnxDetectionOpsTest, RpnProposalsMatchesLibTorch) {
  torch::manual_seed(12);
  const std::vector<int64_t> strides = {4, 8, 16, 32, 64};
  std::vector<at::Tensor> cell_anchors;
  for (double s : {32.0, 64.0, 128.0, 256.0, 512.0}) cell_anchors.push_back(CellAnchors(s));
  auto make_fn = [&](double min_size) -> trace::TraceFunction {
    return [&, min_size](const std::vector<at::Tensor>& in) {
      std::vector<at::Tensor> obj(in.begin(), in.begin() + 5), del(in.begin() + 5, in.begin() + 10);
      auto [rois, logits] = ops::RpnProposals(obj, del, cell_anchors, strides, 0.0, in[10],
                                              {1.0, 1.0, 1.0, 1.0}, std::log(1000.0 / 16), 0.7,
                                              60, 40, min_size);
      return std::vector<at::Tensor>{rois, logits};
    };
  };
  std::vector<std::string> names;
  for (int l = 0; l < 5; ++l) names.push_back("objectness_" + std::to_string(l));
  for (int l = 0; l < 5; ++l) names.push_back("deltas_" + std::to_string(l));
  names.push_back("image_sizes");
  auto head = [&](int64_t n, int64_t h, int64_t w) {
    std::vector<at::Tensor> obj, del;
    for (int64_t s : strides) {
      const int64_t hl = (h + s - 1) / s, wl = (w + s - 1) / s;
      obj.push_back(at::randn({n, 3, hl, wl}) * 3);
      del.push_back(at::randn({n, 12, hl, wl}) * 0.3);
    }
    obj.insert(obj.end(), del.begin(), del.end());
    return obj;
  };
  std::vector<at::Tensor> sample = head(1, 64, 96);
  sample.push_back(Sizes({64, 90}));
  for (int opset : {16, 17}) {
    absl::StatusOr<Lowered> lowered = TraceAndLower(make_fn(0.0), names, sample, opset, "rpn");
    ASSERT_TRUE(lowered.ok()) << lowered.status();
    std::vector<at::Tensor> inputs = head(2, 160, 224);
    inputs.push_back(Sizes({160, 224, 131, 170}));
    absl::StatusOr<Outputs> out = RunBoth(*lowered, names, inputs);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_GT(out->torch[0].size(0), 40);  // both images have proposals
    ExpectClose(*out, {1e-4, 0});
  }
  absl::StatusOr<Lowered> empty = TraceAndLower(make_fn(1e4), names, sample, 17, "rpn_empty");
  ASSERT_TRUE(empty.ok()) << empty.status();
  std::vector<at::Tensor> inputs = head(2, 96, 128);
  inputs.push_back(Sizes({96, 128, 80, 100}));
  absl::StatusOr<Outputs> out = RunBoth(*empty, names, inputs);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->torch[0].size(0), 0);
  ExpectClose(*out, {0, 0});
}

// ---------------------------------------------------------------------------------------------
// box_postprocess: softmax / sigmoid, class-specific / class-agnostic deltas, 2 images with
// different numbers of proposals and sizes, top-k cut; and no detection above the threshold.
TEST(OnnxDetectionOpsTest, BoxPostprocessMatchesLibTorch) {
  torch::manual_seed(13);
  const int64_t k = 6;
  for (bool use_sigmoid : {false, true}) {
    for (bool agnostic : {false, true}) {
      auto make_fn = [&](double score_thresh) -> trace::TraceFunction {
        return [=](const std::vector<at::Tensor>& in) {
          auto [boxes, scores, classes, index] = ops::BoxPostprocess(
              in[0], in[1], in[2], in[3], {10.0, 10.0, 5.0, 5.0}, std::log(1000.0 / 16),
              use_sigmoid, score_thresh, 0.5, 12);
          return std::vector<at::Tensor>{boxes, scores, classes, index};
        };
      };
      const std::vector<std::string> names = {"class_logits", "box_deltas", "rois",
                                              "image_sizes"};
      auto inputs_for = [&](std::vector<int64_t> counts, std::vector<int64_t> sizes) {
        std::vector<at::Tensor> boxes;
        for (size_t i = 0; i < counts.size(); ++i) {
          boxes.push_back(RandomBoxes(counts[i], sizes[2 * i + 1], sizes[2 * i], 80));
        }
        const at::Tensor rois = Rois(boxes);
        const int64_t r = rois.size(0);
        return std::vector<at::Tensor>{at::randn({r, k + 1}) * 2,
                                       at::randn({r, agnostic ? 4 : 4 * k}), rois, Sizes(sizes)};
      };
      const std::string name = std::string("boxpost_") + (use_sigmoid ? "sig" : "soft") +
                               (agnostic ? "_agn" : "");
      for (int opset : {16, 17}) {
        absl::StatusOr<Lowered> lowered =
            TraceAndLower(make_fn(0.05), names, inputs_for({5}, {100, 120}), opset, name);
        ASSERT_TRUE(lowered.ok()) << lowered.status();
        absl::StatusOr<Outputs> out =
            RunBoth(*lowered, names, inputs_for({40, 25}, {200, 260, 150, 170}));
        ASSERT_TRUE(out.ok()) << out.status();
        ASSERT_GT(out->torch[0].size(0), 12);  // both images detect
        ExpectClose(*out, {1e-4, 1e-6, 0, 0});
      }
      absl::StatusOr<Lowered> none =
          TraceAndLower(make_fn(0.9999), names, inputs_for({5}, {100, 120}), 17, name + "_none");
      ASSERT_TRUE(none.ok()) << none.status();
      absl::StatusOr<Outputs> out =
          RunBoth(*none, names, inputs_for({9, 4}, {200, 260, 150, 170}));
      ASSERT_TRUE(out.ok()) << out.status();
      EXPECT_EQ(out->torch[0].size(0), 0);
      ExpectClose(*out, {0, 0, 0, 0});
      // No proposals at all.
      out = RunBoth(*none, names, inputs_for({0, 0}, {200, 260, 150, 170}));
      ASSERT_TRUE(out.ok()) << out.status();
      ExpectClose(*out, {0, 0, 0, 0});
    }
  }
}

// ---------------------------------------------------------------------------------------------
// paste_masks: boxes inside, across the border and tiny, 2 images of different output sizes on a
// batch-max canvas; and no detections.
TEST(OnnxDetectionOpsTest, PasteMasksMatchesLibTorch) {
  torch::manual_seed(14);
  trace::TraceFunction fn = [](const std::vector<at::Tensor>& in) {
    return std::vector<at::Tensor>{ops::PasteMasks(in[0], in[1], in[2], in[3], 0.5)};
  };
  const std::vector<std::string> names = {"masks", "boxes", "batch_index", "output_sizes"};
  const std::vector<at::Tensor> sample = {at::rand({2, 28, 28}), RandomBoxes(2, 60, 50, 30),
                                          at::zeros({2}, at::kLong), Sizes({50, 60})};
  for (int opset : {16, 17}) {
    absl::StatusOr<Lowered> lowered = TraceAndLower(fn, names, sample, opset, "paste");
    ASSERT_TRUE(lowered.ok()) << lowered.status();
    at::Tensor boxes = at::cat({RandomBoxes(4, 200, 150, 120),
                                at::tensor({-20.f, 100.f, 60.f, 170.f, 150.f, 20.f, 151.5f, 21.f})
                                    .view({2, 4}),
                                RandomBoxes(3, 120, 90, 80)},
                               0);
    at::Tensor index = at::cat({at::zeros({6}, at::kLong), at::ones({3}, at::kLong)});
    // Smooth masks (as a mask head's sigmoid) so that few values sit near the threshold.
    at::Tensor masks = at::sigmoid(at::upsample_bilinear2d(at::randn({9, 1, 7, 7}) * 4, {28, 28},
                                                           false).squeeze(1));
    absl::StatusOr<Outputs> out =
        RunBoth(*lowered, names, {masks, boxes, index, Sizes({160, 200, 90, 120})});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->ort[0].sizes(), out->torch[0].sizes());
    EXPECT_GT(out->torch[0].sum().item<int64_t>(), 1000);
    ExpectClose(*out, {0});
    out = RunBoth(*lowered, names,
                  {at::zeros({0, 28, 28}), at::zeros({0, 4}), at::zeros({0}, at::kLong),
                   Sizes({160, 200, 90, 120})});
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectClose(*out, {0});
  }
}

// ---------------------------------------------------------------------------------------------
// batched_nms: 4 classes of heavily overlapping boxes (the kernel's offset path, <= 1000 boxes),
// same indices in the same order; and no boxes.
TEST(OnnxDetectionOpsTest, BatchedNmsMatchesLibTorch) {
  torch::manual_seed(16);
  trace::TraceFunction fn = [](const std::vector<at::Tensor>& in) {
    return std::vector<at::Tensor>{ops::BatchedNms(in[0], in[1], in[2], 0.5)};
  };
  const std::vector<std::string> names = {"boxes", "scores", "idxs"};
  const std::vector<at::Tensor> sample = {RandomBoxes(6, 50, 50, 30), at::rand({6}),
                                          at::randint(3, {6}, at::kLong)};
  for (int opset : {16, 17}) {
    absl::StatusOr<Lowered> lowered = TraceAndLower(fn, names, sample, opset, "batched_nms");
    ASSERT_TRUE(lowered.ok()) << lowered.status();
    absl::StatusOr<Outputs> out = RunBoth(
        *lowered, names,
        {RandomBoxes(300, 100, 100, 40), at::rand({300}), at::randint(4, {300}, at::kLong)});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_GT(out->torch[0].size(0), 20);
    ExpectClose(*out, {0});
    // Many exactly equal scores: torchvision's stable sort processes them by index.
    out = RunBoth(*lowered, names,
                  {RandomBoxes(300, 100, 100, 40), at::round(at::rand({300}) * 4) / 4,
                   at::randint(4, {300}, at::kLong)});
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectClose(*out, {0});
    // A chain of equal-score boxes, each overlapping the next (IoU 0.6) but not the one after:
    // processed by index, every other box survives.
    {
      at::Tensor x0 = at::arange(12, at::kFloat) * 2.5f;
      at::Tensor chain = at::stack({x0, at::zeros({12}), x0 + 10, at::full({12}, 10.f)}, 1);
      out = RunBoth(*lowered, names,
                    {chain, at::full({12}, 0.25f), at::zeros({12}, at::kLong)});
      ASSERT_TRUE(out.ok()) << out.status();
      ExpectClose(*out, {0});
    }
    // An isolated box, then two overlapping ones with the same score: the lower index survives.
    out = RunBoth(*lowered, names,
                  {at::tensor({50.f, 50.f, 60.f, 60.f, 0.f, 0.f, 10.f, 10.f, 2.5f, 0.f, 12.5f, 10.f})
                       .view({3, 4}),
                   at::full({3}, 0.25f), at::zeros({3}, at::kLong)});
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectClose(*out, {0});
    // Groups of identical boxes with equal scores: the lowest index of each group survives.
    at::Tensor same = at::cat({at::tensor({10.f, 10.f, 30.f, 30.f}).expand({9, 4}),
                               at::tensor({50.f, 50.f, 70.f, 75.f}).expand({7, 4})}, 0);
    out = RunBoth(*lowered, names,
                  {same.contiguous(), at::full({16}, 0.5f),
                   at::cat({at::zeros({12}, at::kLong), at::ones({4}, at::kLong)})});
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectClose(*out, {0});
    out = RunBoth(*lowered, names,
                  {at::zeros({0, 4}), at::zeros({0}), at::zeros({0}, at::kLong)});
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectClose(*out, {0});
  }
}

// ---------------------------------------------------------------------------------------------
// The aten ops between the box head and paste_masks in the traced R-CNN graph.
TEST(OnnxDetectionOpsTest, IndexingOpsMatchLibTorch) {
  trace::TraceFunction fn = [](const std::vector<at::Tensor>& in) {
    const at::Tensor& maps = in[0];     // [D, K, 6, 6]
    const at::Tensor& classes = in[1];  // [D]
    const at::Tensor& keep = in[2];     // [D']
    at::Tensor idx = classes.view({-1, 1, 1, 1}).expand({-1, 1, 6, 6});
    at::Tensor picked = at::sigmoid(at::gather(maps, 1, idx));
    at::Tensor kept = at::index_select(picked, 0, keep).select(1, 0);
    at::Tensor col = at::unsqueeze(classes.to(at::kFloat), 1);
    return std::vector<at::Tensor>{kept, col, at::index_select(classes, 0, keep)};
  };
  const std::vector<std::string> names = {"maps", "classes", "keep"};
  torch::manual_seed(15);
  const std::vector<at::Tensor> sample = {at::randn({3, 4, 6, 6}),
                                          at::tensor({0, 3, 1}, at::kLong),
                                          at::tensor({0, 2}, at::kLong)};
  for (int opset : {16, 17}) {
    absl::StatusOr<Lowered> lowered = TraceAndLower(fn, names, sample, opset, "indexing");
    ASSERT_TRUE(lowered.ok()) << lowered.status();
    absl::StatusOr<Outputs> out = RunBoth(
        *lowered, names,
        {at::randn({7, 4, 6, 6}), at::tensor({2, 0, 3, 3, 1, 0, 2}, at::kLong),
         at::tensor({1, 2, 4, 6}, at::kLong)});
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectClose(*out, {1e-6, 0, 0});
  }
}

}  // namespace
}  // namespace d2x::onnx_format
