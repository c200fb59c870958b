// ONNX lowerings of the RetinaNet / Keypoint R-CNN / PanopticFPN ops (lower_dense_detections.cc,
// ...): traced graphs -> ONNX (opset 16 and 17, strict shape inference + checker) -> ONNX Runtime
// vs the d2x op in LibTorch, at other sizes and batches than the trace, incl. batch 2 with
// different image sizes and empty results.
#include <onnx/onnx_pb.h>
#include <torch/script.h>

#include <filesystem>
#include <fstream>

#include "core/ops/detection_ops.h"
#include "core/trace/trace.h"
#include "gtest/gtest.h"
#include "plugins/format/onnx/lowering.h"
#include "plugins/format/onnx/ort_node_runner.h"
#include "tests/onnx/onnx_test_util.h"

namespace d2x::onnx_format {
namespace {

using onnx_test::Lowered;

absl::StatusOr<Lowered> TraceAndLower(const trace::TraceFunction& fn,
                                      const std::vector<at::Tensor>& sample,
                                      std::vector<InputSpec> specs, int opset,
                                      const std::string& name) {
  std::vector<std::string> names;
  for (const InputSpec& s : specs) names.push_back(s.name);
  LoweringOptions options;
  options.opset = opset;
  for (size_t i = 0; i < specs.size(); ++i) {
    specs[i].shape = sample[i].sizes().vec();
    specs[i].elem_type = sample[i].scalar_type() == at::kLong   ? onnx::TensorProto::INT64
                         : sample[i].scalar_type() == at::kBool ? onnx::TensorProto::BOOL
                                                                : onnx::TensorProto::FLOAT;
  }
  options.inputs = specs;
  return onnx_test::TraceLowerAndWrite(fn, sample, names, "__torch__.d2x.OnnxDenseTest", options,
                                       name);
}

// Runs both; returns {ort, torch} outputs after checking count, shapes and dtypes.
std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> RunBoth(
    const Lowered& lowered, const std::vector<InputSpec>& specs,
    const std::vector<at::Tensor>& inputs) {
  absl::StatusOr<std::vector<at::Tensor>> expected = trace::RunModule(lowered.module, inputs);
  EXPECT_TRUE(expected.ok()) << expected.status();
  std::vector<std::pair<std::string, at::Tensor>> named;
  for (size_t i = 0; i < inputs.size(); ++i) named.emplace_back(specs[i].name, inputs[i]);
  absl::StatusOr<std::vector<at::Tensor>> got =
      RunInOnnxRuntime(onnx_test::OrtTestConfig(), lowered.path, named);
  EXPECT_TRUE(got.ok()) << got.status();
  if (!expected.ok() || !got.ok()) return {};
  EXPECT_EQ(got->size(), expected->size());
  for (size_t i = 0; i < std::min(got->size(), expected->size()); ++i) {
    EXPECT_EQ((*got)[i].sizes(), (*expected)[i].sizes()) << "output " << i;
    EXPECT_EQ((*got)[i].scalar_type(), (*expected)[i].scalar_type()) << "output " << i;
  }
  return {*got, *expected};
}

double MaxDiff(const at::Tensor& a, const at::Tensor& b) {
  if (a.numel() == 0) return 0.0;
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// --- d2x::dense_detections -------------------------------------------------------------------

constexpr int64_t kClasses = 3, kAnchors = 2;

struct DenseInputs {
  std::vector<at::Tensor> tensors;  // logits l0, l1, deltas l0, l1, image_sizes
};

DenseInputs MakeDenseInputs(int64_t n, int64_t h, int64_t w, double logit_shift) {
  DenseInputs in;
  for (int64_t l = 0; l < 2; ++l) {
    const int64_t hl = (h + (1 << l) - 1) >> l, wl = (w + (1 << l) - 1) >> l;
    in.tensors.push_back(at::randn({n, kAnchors * kClasses, hl, wl}) * 2 + logit_shift);
  }
  for (int64_t l = 0; l < 2; ++l) {
    const int64_t hl = (h + (1 << l) - 1) >> l, wl = (w + (1 << l) - 1) >> l;
    in.tensors.push_back(at::randn({n, 4 * kAnchors, hl, wl}) * 0.5);
  }
  in.tensors.push_back(at::tensor({h * 8, w * 8}, at::kLong).repeat({n, 1}));
  return in;
}

TEST(OnnxDenseOpsTest, DenseDetectionsMatchesTheOpInOnnxRuntime) {
  torch::manual_seed(0);
  const at::Tensor cells0 = at::tensor({-16.f, -8.f, 16.f, 8.f, -8.f, -16.f, 8.f, 16.f}).view({2, 4});
  const at::Tensor cells1 = cells0 * 2;
  trace::TraceFunction fn = [&](const std::vector<at::Tensor>& in) {
    auto [boxes, scores, classes, index] = ops::DenseDetections(
        {in[0], in[1]}, {in[2], in[3]}, {cells0, cells1}, {8, 16}, 0.0, in[4], kClasses,
        {1.0, 1.0, 1.0, 1.0}, std::log(1000.0 / 16), 0.3, /*topk_candidates=*/40,
        /*nms_thresh=*/0.5, /*max_detections=*/25);
    return std::vector<at::Tensor>{boxes, scores, classes, index};
  };
  const std::vector<InputSpec> specs = {
      {"logits0", 0, {}, {"N", "", "H0", "W0"}}, {"logits1", 0, {}, {"N", "", "H1", "W1"}},
      {"deltas0", 0, {}, {"N", "", "H0", "W0"}}, {"deltas1", 0, {}, {"N", "", "H1", "W1"}},
      {"image_sizes", 0, {}, {"N", ""}}};
  for (int opset : {16, 17}) {
    absl::StatusOr<Lowered> lowered =
        TraceAndLower(fn, MakeDenseInputs(1, 6, 8, 0).tensors, specs, opset, "dense");
    ASSERT_TRUE(lowered.ok()) << lowered.status();
    struct Case {
      int64_t n, h, w;
      double shift;
    };
    // Other sizes, batch 2 (the per-image top-k / NMS must not mix images), few candidates
    // (top-k larger than some levels), and no score above the threshold (empty results).
    for (const Case& c : {Case{1, 9, 5, 0}, Case{2, 7, 11, 0}, Case{3, 2, 3, 0},
                          Case{2, 5, 6, -20}}) {
      SCOPED_TRACE(testing::Message() << "opset " << opset << ", n " << c.n << ", " << c.h << "x"
                                      << c.w << ", shift " << c.shift);
      const DenseInputs in = MakeDenseInputs(c.n, c.h, c.w, c.shift);
      auto [got, expected] = RunBoth(*lowered, specs, in.tensors);
      ASSERT_EQ(got.size(), 4u);
      if (c.shift < 0) EXPECT_EQ(expected[0].size(0), 0);
      else EXPECT_GT(expected[0].size(0), c.n);
      if (got[0].sizes() != expected[0].sizes()) continue;
      EXPECT_TRUE(at::equal(got[3], expected[3])) << got[3] << expected[3];
      EXPECT_TRUE(at::equal(got[2], expected[2])) << got[2] << expected[2];
      EXPECT_LE(MaxDiff(got[1], expected[1]), 1e-6);
      EXPECT_LE(MaxDiff(got[0], expected[0]), 1e-3);
    }
  }
}


// RetinaNet's configuration: 5 levels (strides 8..128), 9 anchors, 80 classes, top 1000
// candidates per level, 100 detections, a batch of 2 with feature sizes of a 256x320 canvas.
TEST(OnnxDenseOpsTest, DenseDetectionsRetinaNetShapes) {
  torch::manual_seed(5);
  constexpr int64_t kA = 9, kK = 80;
  std::vector<at::Tensor> cells;
  std::vector<int64_t> strides;
  for (int64_t l = 0; l < 5; ++l) {
    cells.push_back(at::randn({kA, 4}) * 10 * (1 << l) +
                    at::tensor({-16.f, -16.f, 16.f, 16.f}) * (1 << l));
    strides.push_back(8 << l);
  }
  trace::TraceFunction fn = [&](const std::vector<at::Tensor>& in) {
    auto [boxes, scores, classes, index] = ops::DenseDetections(
        {in[0], in[1], in[2], in[3], in[4]}, {in[5], in[6], in[7], in[8], in[9]}, cells, strides,
        0.0, in[10], kK, {1.0, 1.0, 1.0, 1.0}, std::log(1000.0 / 16), 0.05, 1000, 0.5, 100);
    return std::vector<at::Tensor>{boxes, scores, classes, index};
  };
  auto make = [&](int64_t n, int64_t h, int64_t w) {
    std::vector<at::Tensor> t;
    for (int64_t l = 0; l < 5; ++l) {
      t.push_back(at::randn({n, kA * kK, (h + (8 << l) - 1) / (8 << l), (w + (8 << l) - 1) / (8 << l)}) - 4);
    }
    for (int64_t l = 0; l < 5; ++l) {
      t.push_back(at::randn({n, 4 * kA, t[l].size(2), t[l].size(3)}) * 0.3);
    }
    t.push_back(at::tensor({h, w}, at::kLong).repeat({n, 1}));
    return t;
  };
  std::vector<InputSpec> specs;
  for (int64_t i = 0; i < 10; ++i) {
    specs.push_back({"in" + std::to_string(i), 0, {}, {"N", "", "H" + std::to_string(i % 5), "W" + std::to_string(i % 5)}});
  }
  specs.push_back({"image_sizes", 0, {}, {"N", ""}});
  absl::StatusOr<Lowered> lowered = TraceAndLower(fn, make(1, 256, 320), specs, 17, "retina");
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  auto [got, expected] = RunBoth(*lowered, specs, make(2, 256, 320));
  ASSERT_EQ(got.size(), 4u);
  ASSERT_EQ(got[0].sizes(), expected[0].sizes());
  EXPECT_TRUE(at::equal(got[3], expected[3]));
  EXPECT_TRUE(at::equal(got[2], expected[2]));
  EXPECT_LE(MaxDiff(got[1], expected[1]), 1e-6);
  EXPECT_LE(MaxDiff(got[0], expected[0]), 1e-3);
}


// --- d2x::sem_seg_postprocess ----------------------------------------------------------------

TEST(OnnxDenseOpsTest, SemSegPostprocessMatchesTheOpInOnnxRuntime) {
  torch::manual_seed(2);
  trace::TraceFunction fn = [](const std::vector<at::Tensor>& in) {
    return std::vector<at::Tensor>{ops::SemSegPostprocess(in[0], in[1], in[2])};
  };
  const std::vector<InputSpec> specs = {{"logits", 0, {}, {"N", "", "H", "W"}},
                                        {"image_sizes", 0, {}, {"N", ""}},
                                        {"output_sizes", 0, {}, {"N", ""}}};
  auto sizes = [](std::vector<int64_t> v) {
    return at::tensor(v, at::kLong).view({-1, 2});
  };
  for (int opset : {16, 17}) {
    absl::StatusOr<Lowered> lowered = TraceAndLower(
        fn, {at::randn({1, 4, 16, 20}), sizes({16, 20}), sizes({32, 40})}, specs, opset,
        "sem_seg");
    ASSERT_TRUE(lowered.ok()) << lowered.status();
    struct Case {
      at::Tensor logits, in, out;
    };
    // Batch 2 with different image and output sizes (up- and downscaling, odd factors, an
    // output of height 1) and a single image at its own size.
    for (const Case& c :
         {Case{at::randn({2, 4, 24, 32}), sizes({24, 30, 17, 32}), sizes({50, 61, 9, 70})},
          Case{at::randn({1, 4, 12, 12}), sizes({12, 12}), sizes({12, 12})},
          Case{at::randn({2, 4, 8, 16}), sizes({8, 16, 5, 9}), sizes({1, 33, 20, 7})}}) {
      auto [got, expected] = RunBoth(*lowered, specs, {c.logits, c.in, c.out});
      ASSERT_EQ(got.size(), 1u);
      if (got[0].sizes() != expected[0].sizes()) continue;
      // ORT maps dst -> src as (dst + 0.5) / (out / in) - 0.5, torch as (dst + 0.5) * (in / out)
      // - 0.5: source coordinates (up to ~60 here) differ by a few float ulps (~1e-5 px), times
      // the field's slope between neighbouring logits (randn: up to ~8 per pixel) -> <= 1e-4.
      EXPECT_LE(MaxDiff(got[0], expected[0]), 1e-4) << "opset " << opset;
    }
  }
}


// --- d2x::heatmaps_to_keypoints --------------------------------------------------------------

TEST(OnnxDenseOpsTest, HeatmapsToKeypointsMatchesTheOpInOnnxRuntime) {
  torch::manual_seed(7);
  trace::TraceFunction fn = [](const std::vector<at::Tensor>& in) {
    return std::vector<at::Tensor>{ops::HeatmapsToKeypoints(in[0], in[1])};
  };
  const std::vector<InputSpec> specs = {{"maps", 0, {}, {"R", "", "", ""}},
                                        {"rois", 0, {}, {"R", ""}}};
  auto rois = [](int64_t r) {
    at::Tensor xy = at::rand({r, 2}) * 100;
    // Sizes from below 1 px (clamped to 1) to 60 px, fractional (ceil + corrections).
    at::Tensor wh = at::rand({r, 2}) * 60 + 0.3;
    return at::cat({xy, xy + wh}, 1);
  };
  for (int opset : {16, 17}) {
    absl::StatusOr<Lowered> lowered =
        TraceAndLower(fn, {at::randn({2, 5, 14, 14}), rois(2)}, specs, opset, "keypoints");
    ASSERT_TRUE(lowered.ok()) << lowered.status();
    for (int64_t r : {7, 1, 0}) {
      SCOPED_TRACE(testing::Message() << "opset " << opset << ", " << r << " rois");
      auto [got, expected] = RunBoth(*lowered, specs, {at::randn({r, 5, 14, 14}) * 3, rois(r)});
      ASSERT_EQ(got.size(), 1u);
      if (got[0].sizes() != expected[0].sizes() || r == 0) continue;
      // Same argmax pixel: x, y equal up to float rounding; logit and score.
      EXPECT_LE(MaxDiff(got[0].select(2, 0), expected[0].select(2, 0)), 1e-4);
      EXPECT_LE(MaxDiff(got[0].select(2, 1), expected[0].select(2, 1)), 1e-4);
      EXPECT_LE(MaxDiff(got[0].select(2, 2), expected[0].select(2, 2)), 1e-4);
      // score = 1 / sum(exp(maps - logit)): its relative error is the logit's error (bicubic
      // taps summed in another order), bounded above.
      const at::Tensor rel = (got[0].select(2, 3) / expected[0].select(2, 3) - 1).abs();
      EXPECT_LE(rel.max().item<double>(), 1e-4);
    }
  }
}


// The keypoint head's logits upscaling: aten::upsample_bilinear2d with scale factor 2,
// align_corners=False (detectron2's interpolate) -> Resize linear half_pixel.
TEST(OnnxDenseOpsTest, UpsampleBilinearMatchesLibTorchInOnnxRuntime) {
  torch::manual_seed(8);
  trace::TraceFunction fn = [](const std::vector<at::Tensor>& in) {
    at::Tensor up = at::upsample_bilinear2d(in[0], c10::nullopt, /*align_corners=*/false,
                                            std::vector<double>{2.0, 2.0});
    // aten::slice with constant bounds (and an open end), as the keypoint rewriter splits columns.
    return std::vector<at::Tensor>{up, up.slice(2, 1, 5), up.slice(3, 2)};
  };
  const std::vector<InputSpec> specs = {{"x", 0, {}, {"R", "", "H", "W"}}};
  for (int opset : {16, 17}) {
    absl::StatusOr<Lowered> lowered =
        TraceAndLower(fn, {at::randn({2, 3, 14, 14})}, specs, opset, "bilinear");
    ASSERT_TRUE(lowered.ok()) << lowered.status();
    auto [got, expected] = RunBoth(*lowered, specs, {at::randn({5, 3, 9, 17})});
    ASSERT_EQ(got.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      ASSERT_EQ(got[i].sizes(), expected[i].sizes()) << "output " << i;
      EXPECT_LE(MaxDiff(got[i], expected[i]), 1e-5) << "output " << i;
    }
  }
}


// --- d2x::panoptic_combine -------------------------------------------------------------------

TEST(OnnxDenseOpsTest, PanopticCombineMatchesTheOpInOnnxRuntime) {
  torch::manual_seed(11);
  trace::TraceFunction fn = [](const std::vector<at::Tensor>& in) {
    auto [seg, info, score, count] =
        ops::PanopticCombine(in[0], in[1], in[2], in[3], in[4], in[5], /*overlap=*/0.5,
                             /*stuff_area=*/20, /*instances_score=*/0.3);
    return std::vector<at::Tensor>{seg, info, score, count};
  };
  const std::vector<InputSpec> specs = {
      {"scores", 0, {}, {"D"}},         {"classes", 0, {}, {"D"}},
      {"masks", 0, {}, {"D", "H", "W"}}, {"batch_index", 0, {}, {"D"}},
      {"sem_seg", 0, {}, {"N", "", "H", "W"}}, {"output_sizes", 0, {}, {"N", ""}}};
  constexpr int64_t kC = 5;
  // Overlapping rectangles (so the overlap rule and the free-pixel painting matter), scores
  // across the threshold, per-image counts, smooth semantic logits (stuff regions).
  auto make = [&](std::vector<int64_t> counts, int64_t hm, int64_t wm,
                  std::vector<int64_t> sizes) {
    const int64_t n = static_cast<int64_t>(counts.size());
    int64_t d = 0;
    for (int64_t k : counts) d += k;
    std::vector<at::Tensor> masks;
    std::vector<int64_t> index;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t k = 0; k < counts[i]; ++k) {
        at::Tensor m = at::zeros({hm, wm}, at::kBool);
        const int64_t y0 = at::randint(0, sizes[2 * i] - 2, {1}).item<int64_t>();
        const int64_t x0 = at::randint(0, sizes[2 * i + 1] - 2, {1}).item<int64_t>();
        m.slice(0, y0, y0 + 4 + k % 7).slice(1, x0, x0 + 5 + k % 5).fill_(true);
        masks.push_back(m);
        index.push_back(i);
      }
    }
    at::Tensor sem = at::upsample_bilinear2d(at::randn({n, kC, 3, 4}) * 3, {hm, wm}, false);
    return std::vector<at::Tensor>{
        at::rand({d}), at::randint(0, 4, {d}, at::kLong),
        d ? at::stack(masks) : at::zeros({0, hm, wm}, at::kBool),
        at::tensor(index, at::kLong), sem, at::tensor(sizes, at::kLong).view({n, 2})};
  };
  for (int opset : {16, 17}) {
    absl::StatusOr<Lowered> lowered =
        TraceAndLower(fn, make({3}, 20, 24, {20, 24}), specs, opset, "panoptic");
    ASSERT_TRUE(lowered.ok()) << lowered.status();
    struct Case {
      std::vector<int64_t> counts;
      int64_t hm, wm;
      std::vector<int64_t> sizes;
    };
    // Batch 2 of different sizes with many overlapping instances, an image without
    // detections, and no detections at all.
    for (const Case& c : {Case{{12, 7}, 30, 40, {30, 40, 22, 31}}, Case{{0, 5}, 16, 18, {12, 18, 16, 9}},
                          Case{{0}, 14, 15, {14, 15}}}) {
      SCOPED_TRACE(testing::Message() << "opset " << opset << ", " << c.counts.size()
                                      << " images");
      auto [got, expected] = RunBoth(*lowered, specs, make(c.counts, c.hm, c.wm, c.sizes));
      ASSERT_EQ(got.size(), 4u);
      for (size_t i = 0; i < 4; ++i) {
        if (got[i].sizes() != expected[i].sizes()) continue;
        EXPECT_TRUE(at::equal(got[i], expected[i]))
            << "output " << i << "\nort:\n" << got[i] << "\ntorch:\n" << expected[i];
      }
      EXPECT_GT(expected[1].size(0), 0);
    }
  }
}


// The semantic head's GroupNorm (32 groups of 4 channels here), with affine weights.
TEST(OnnxDenseOpsTest, GroupNormMatchesLibTorchInOnnxRuntime) {
  torch::manual_seed(12);
  const at::Tensor w = at::rand({16}) + 0.5, bias = at::randn({16});
  trace::TraceFunction fn = [&](const std::vector<at::Tensor>& in) {
    return std::vector<at::Tensor>{at::relu(at::group_norm(in[0], 4, w, bias, 1e-5))};
  };
  const std::vector<InputSpec> specs = {{"x", 0, {}, {"N", "", "H", "W"}}};
  for (int opset : {16, 17}) {
    absl::StatusOr<Lowered> lowered =
        TraceAndLower(fn, {at::randn({1, 16, 8, 10})}, specs, opset, "group_norm");
    ASSERT_TRUE(lowered.ok()) << lowered.status();
    auto [got, expected] = RunBoth(*lowered, specs, {at::randn({2, 16, 13, 7}) * 5 + 2});
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(got[0].sizes(), expected[0].sizes());
    EXPECT_LE(MaxDiff(got[0], expected[0]), 1e-5);
  }
}

}  // namespace
}  // namespace d2x::onnx_format
