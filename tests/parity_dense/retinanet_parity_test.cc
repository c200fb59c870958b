// RetinaNet vs detectron2's golden outputs (<fixtures>/retinanet).
//
// Stage-wise — each stage fed with detectron2's own inputs where the fixtures have them, so a
// divergence is located at its stage — and end to end from the input PNG, plus batch == one by one.
// Tolerances are the fixtures' README: features ~1e-5 relative; detections detection-aware (same
// class, box IoU > 0.99, |score delta| < 1e-3) for >= 99% of detections.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/structures/postprocess.h"
#include "plugins/arch/retinanet/retinanet.h"
#include "plugins/arch/retinanet/retinanet_config.h"
#include "plugins/arch/retinanet/retinanet_inference.h"
#include "tests/parity/detection_match.h"
#include "tests/parity/parity_util.h"
#include "tests/parity_dense/dense_fixture_model.h"
#include "tests/parity_dense/dense_parity_util.h"

namespace d2x::parity {
namespace {

constexpr char kArch[] = "retinanet";
// max |diff| <= kRelTol * max |expected| (README: features agree to ~1e-5 relative).
constexpr double kRelTol = 1e-5;
constexpr int kNumLevels = 5;

retinanet::RetinaNet& Model() {
  static retinanet::RetinaNet* model =
      BuildFixtureModelOrDie<retinanet::RetinaNet>(kArch, retinanet::RetinaNetOptionsFromConfig);
  return *model;
}

ImageInput Input(const std::string& key) { return FixtureImageInput(kArch, key); }

// The head's inputs p3..p7 in level order.
std::vector<at::Tensor> HeadFeatures(const std::string& key) {
  std::vector<at::Tensor> features;
  for (auto& [level, t] : FixtureFeatures(kArch, key, {"p3", "p4", "p5", "p6", "p7"})) {
    features.push_back(t);
  }
  return features;
}

verify::DetectionSet Detections(const Instances& instances) {
  return verify::FromInstances(instances);
}

class RetinaNetParityTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string key() const { return GetParam(); }
};

// Preprocessing, backbone features p3..p7 and head outputs, end to end from the PNG.
TEST_P(RetinaNetParityTest, PreprocessFeaturesHead) {
  retinanet::RetinaNetStages stages;
  absl::StatusOr<std::vector<ImageResult>> results =
      Model().InferenceWithStages({Input(key())}, &stages);
  ASSERT_TRUE(results.ok()) << results.status();
  std::cout << "retinanet " << key() << " (from the PNG):\n";
  ExpectScaledClose("preprocessed", stages.images.tensor, Fixture(kArch, key() + ".preprocessed"),
                    1e-7);
  for (const char* p : {"p3", "p4", "p5", "p6", "p7"}) {
    ExpectScaledClose(std::string("features.") + p, stages.features.at(p),
                      Fixture(kArch, key() + ".features." + p), kRelTol);
  }
  ASSERT_EQ(stages.cls_logits.size(), static_cast<size_t>(kNumLevels));
  for (int l = 0; l < kNumLevels; ++l) {
    const std::string n = std::to_string(l);
    ExpectScaledClose("head.cls_logits." + n, stages.cls_logits[l],
                      Fixture(kArch, key() + ".head.cls_logits." + n), kRelTol);
    ExpectScaledClose("head.box_deltas." + n, stages.box_deltas[l],
                      Fixture(kArch, key() + ".head.box_deltas." + n), kRelTol);
  }
}

// The head on detectron2's own features.
TEST_P(RetinaNetParityTest, HeadOnFixtureFeatures) {
  at::NoGradGuard no_grad;
  auto [logits, deltas] = Model().head().Forward(HeadFeatures(key()));
  std::cout << "retinanet " << key() << " head on fixture features:\n";
  for (int l = 0; l < kNumLevels; ++l) {
    const std::string n = std::to_string(l);
    ExpectScaledClose("head.cls_logits." + n, logits[l],
                      Fixture(kArch, key() + ".head.cls_logits." + n), kRelTol);
    ExpectScaledClose("head.box_deltas." + n, deltas[l],
                      Fixture(kArch, key() + ".head.box_deltas." + n), kRelTol);
  }
}

// Inference (sigmoid, threshold, top-k, decode, NMS, detector_postprocess) on detectron2's own head
// outputs: the same ATen ops in the same order, so the detections must be bit-identical.
TEST_P(RetinaNetParityTest, InferenceOnFixtureHeadOutputs) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> logits, deltas;
  for (int l = 0; l < kNumLevels; ++l) {
    logits.push_back(Fixture(kArch, key() + ".head.cls_logits." + std::to_string(l)));
    deltas.push_back(Fixture(kArch, key() + ".head.box_deltas." + std::to_string(l)));
  }
  retinanet::RetinaNet& model = Model();
  std::vector<at::Tensor> anchors = model.anchor_generator().Forward(HeadFeatures(key()));
  std::vector<retinanet::DenseDetections> raw =
      retinanet::RetinaNetInference(logits, deltas, anchors, model.options().num_classes,
                                    model.box2box_transform(), model.options().inference);
  ASSERT_EQ(raw.size(), 1u);
  const auto size = ImageSizeOf(key());
  Instances instances;
  instances.image_height = size[0];
  instances.image_width = size[1];
  instances.fields["pred_boxes"] = raw[0].boxes;
  instances.fields["scores"] = raw[0].scores;
  instances.fields["pred_classes"] = raw[0].classes;
  absl::StatusOr<Instances> out = structures::DetectorPostprocess(instances, size[0], size[1]);
  ASSERT_TRUE(out.ok()) << out.status();
  verify::DetectionSet expected = FixtureDetections(kArch, key());
  verify::DetectionSet actual = Detections(*out);
  verify::MatchReport report = verify::MatchDetections(expected, actual);
  std::cout << "retinanet " << key() << " inference on fixture head outputs: " << report.Summary()
            << "\n";
  EXPECT_TRUE(report.ok) << report.Summary();
  ASSERT_EQ(actual.size(), expected.size());
  EXPECT_TRUE(at::equal(actual.boxes, expected.boxes)) << "boxes not bit-identical";
  EXPECT_TRUE(at::equal(actual.scores, expected.scores)) << "scores not bit-identical";
  EXPECT_TRUE(at::equal(actual.classes, expected.classes)) << "classes not identical";
}

// Final detections from the PNG.
TEST_P(RetinaNetParityTest, EndToEnd) {
  absl::StatusOr<std::vector<ImageResult>> results = Model().Inference({Input(key())});
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 1u);
  const Instances& instances = (*results)[0].instances;
  const auto size = ImageSizeOf(key());
  EXPECT_EQ(instances.image_height, size[0]);
  EXPECT_EQ(instances.image_width, size[1]);
  verify::MatchReport report =
      verify::MatchDetections(FixtureDetections(kArch, key()), Detections(instances));
  std::cout << "retinanet " << key() << " end to end: " << report.Summary() << "\n";
  EXPECT_TRUE(report.ok) << report.Summary();
}

INSTANTIATE_TEST_SUITE_P(Images, RetinaNetParityTest, ::testing::Values("256x320", "200x296"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return "img" + info.param;
                         });

// Runs `batch` in one forward and each image alone; returns the matches batched-vs-single.
void ExpectBatchEqualsOneByOne(const std::vector<ImageInput>& batch, const std::string& what) {
  retinanet::RetinaNet& model = Model();
  absl::StatusOr<std::vector<ImageResult>> batched = model.Inference(batch);
  ASSERT_TRUE(batched.ok()) << batched.status();
  ASSERT_EQ(batched->size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    absl::StatusOr<std::vector<ImageResult>> single = model.Inference({batch[i]});
    ASSERT_TRUE(single.ok()) << single.status();
    const Instances& b = (*batched)[i].instances;
    const Instances& s = (*single)[0].instances;
    EXPECT_EQ(b.image_height, s.image_height);
    EXPECT_EQ(b.image_width, s.image_width);
    verify::MatchReport report = verify::MatchDetections(Detections(s), Detections(b));
    std::cout << "retinanet " << what << " image " << i << " batched vs alone: " << report.Summary()
              << "\n";
    EXPECT_TRUE(report.ok) << report.Summary();
  }
}

// Two images that pad to the same size (224x320): the fixture's 200x296 input and a 210x300 crop of
// the 256x320 input. Batched == one by one, and the 200x296 one still equals detectron2.
TEST(RetinaNetBatchTest, SamePaddedSizeBatchEqualsOneByOne) {
  ImageInput a = Input("200x296");
  ImageInput b = Input("256x320");
  b.image = b.image.slice(1, 0, 210).slice(2, 0, 300).contiguous();
  ExpectBatchEqualsOneByOne({a, b}, "224x320-padded batch");
  absl::StatusOr<std::vector<ImageResult>> batched = Model().Inference({a, b});
  ASSERT_TRUE(batched.ok()) << batched.status();
  verify::MatchReport vs_d2 = verify::MatchDetections(FixtureDetections(kArch, "200x296"),
                                                      Detections((*batched)[0].instances));
  std::cout << "retinanet 200x296 in a batch vs detectron2: " << vs_d2.Summary() << "\n";
  EXPECT_TRUE(vs_d2.ok) << vs_d2.Summary();
}

// The fixtures' two inputs in one batch. detectron2 pads both to 256x320 and, like every
// DenseDetector, runs the head and decodes anchors over the whole padded canvas (the padded rows
// are real zero-valued input to the backbone, not conv padding). So only the 256x320 image is
// unchanged by batching; the 200x296 one must equal the same computation done alone on its
// normalized image zero-padded to 256x320 (detectron2's batched semantics, computed per image).
//
// On that canvas this calibrated model saturates: thousands of padded-area anchors of level 0
// have sigmoid score exactly 1.0, more than TOPK_CANDIDATES_TEST, so which 1000 of the tied
// candidates top-k keeps is decided by float noise (batch-2 vs batch-1 convolutions differ by
// ~1e-6 relative) — in detectron2 as here. The head outputs are therefore compared (stage-wise,
// same tolerance as everywhere); in the final detections of image 1 the detections of that exact
// tie are left out by core/verify (detection_match.h), and the test checks that they were.
TEST(RetinaNetBatchTest, FixturePairBatch) {
  retinanet::RetinaNet& model = Model();
  std::vector<ImageInput> batch = {Input("256x320"), Input("200x296")};
  retinanet::RetinaNetStages stages;
  absl::StatusOr<std::vector<ImageResult>> batched = model.InferenceWithStages(batch, &stages);
  ASSERT_TRUE(batched.ok()) << batched.status();
  ASSERT_EQ(batched->size(), 2u);

  absl::StatusOr<std::vector<ImageResult>> single0 = model.Inference({batch[0]});
  ASSERT_TRUE(single0.ok()) << single0.status();
  verify::MatchReport r0 = verify::MatchDetections(Detections((*single0)[0].instances),
                                                   Detections((*batched)[0].instances));
  std::cout << "retinanet fixture pair image 0 batched vs alone: " << r0.Summary() << "\n";
  EXPECT_TRUE(r0.ok) << r0.Summary();
  verify::MatchReport d0 = verify::MatchDetections(FixtureDetections(kArch, "256x320"),
                                                   Detections((*batched)[0].instances));
  std::cout << "retinanet fixture pair image 0 batched vs detectron2: " << d0.Summary() << "\n";
  EXPECT_TRUE(d0.ok) << d0.Summary();

  // Image 1 alone on a 256x320 canvas.
  at::NoGradGuard no_grad;
  absl::StatusOr<structures::ImageList> images = model.Preprocess({batch[1]});
  ASSERT_TRUE(images.ok()) << images.status();
  at::Tensor canvas = at::zeros({1, 3, 256, 320}, images->tensor.options());
  canvas.slice(2, 0, images->tensor.size(2)).slice(3, 0, images->tensor.size(3))
      .copy_(images->tensor);
  modeling::FeatureMap features = model.backbone().Forward(canvas);
  std::vector<at::Tensor> head_features;
  for (const std::string& f : model.options().in_features) head_features.push_back(features.at(f));
  auto [logits, deltas] = model.head().Forward(head_features);
  bool tie_decided = false;
  for (size_t l = 0; l < logits.size(); ++l) {
    const std::string n = std::to_string(l);
    ExpectScaledClose("image 1 batched vs alone on canvas: head.cls_logits." + n,
                      stages.cls_logits[l].slice(0, 1, 2), logits[l], kRelTol);
    ExpectScaledClose("image 1 batched vs alone on canvas: head.box_deltas." + n,
                      stages.box_deltas[l].slice(0, 1, 2), deltas[l], kRelTol);
    const int64_t saturated = (logits[l].sigmoid() == 1.0).sum().item<int64_t>();
    std::cout << "  level " << l << ": " << saturated << " candidates with score exactly 1.0\n";
    if (saturated > model.options().inference.topk_candidates) tie_decided = true;
  }
  std::vector<retinanet::DenseDetections> raw = retinanet::RetinaNetInference(
      logits, deltas, model.anchor_generator().Forward(head_features), model.options().num_classes,
      model.box2box_transform(), model.options().inference);
  Instances instances;
  instances.image_height = 200;
  instances.image_width = 296;
  instances.fields["pred_boxes"] = raw[0].boxes;
  instances.fields["scores"] = raw[0].scores;
  instances.fields["pred_classes"] = raw[0].classes;
  absl::StatusOr<Instances> expected1 = structures::DetectorPostprocess(instances, 200, 296);
  ASSERT_TRUE(expected1.ok()) << expected1.status();
  verify::MatchReport r1 =
      verify::MatchDetections(Detections(*expected1), Detections((*batched)[1].instances));
  std::cout << "retinanet fixture pair image 1 batched vs alone on a 256x320 canvas"
            << (tie_decided ? " (top-k decided by ties): " : ": ") << r1.Summary().substr(0, 400)
            << "\n";
  EXPECT_TRUE(r1.ok) << r1.Summary();
  if (tie_decided) {
    EXPECT_GT(r1.num_tie_excused_expected, 0) << r1.Summary();
  }
}

// A requested output size (ImageInput height/width) rescales the boxes as detector_postprocess
// does: twice the size gives exactly twice the boxes (scaling by 2 and clipping commute exactly).
TEST(RetinaNetOutputSizeTest, OutputSizeRescales) {
  ImageInput input = Input("200x296");
  absl::StatusOr<std::vector<ImageResult>> base = Model().Inference({input});
  ASSERT_TRUE(base.ok()) << base.status();
  input.height = 400;
  input.width = 592;
  absl::StatusOr<std::vector<ImageResult>> scaled = Model().Inference({input});
  ASSERT_TRUE(scaled.ok()) << scaled.status();
  const Instances& b = (*base)[0].instances;
  const Instances& s = (*scaled)[0].instances;
  EXPECT_EQ(s.image_height, 400);
  EXPECT_EQ(s.image_width, 592);
  ASSERT_EQ(b.size(), s.size());
  EXPECT_TRUE(at::equal(b.fields.at("pred_boxes") * 2, s.fields.at("pred_boxes")));
  EXPECT_TRUE(at::equal(b.fields.at("scores"), s.fields.at("scores")));
  EXPECT_TRUE(at::equal(b.fields.at("pred_classes"), s.fields.at("pred_classes")));
}

// The parameter names and shapes are exactly the checkpoint's (checked by loading: no missing,
// unexpected or mis-shaped key), and the head's names follow detectron2.
TEST(RetinaNetStateDictTest, DetectronNames) {
  std::vector<std::pair<std::string, at::Tensor>> state = Model().StateDict();
  std::set<std::string> names;
  for (const auto& [name, tensor] : state) names.insert(name);
  for (const char* n :
       {"head.cls_subnet.0.weight", "head.cls_subnet.6.bias", "head.bbox_subnet.2.weight",
        "head.cls_score.weight", "head.cls_score.bias", "head.bbox_pred.weight",
        "backbone.top_block.p6.weight", "backbone.top_block.p7.bias",
        "backbone.bottom_up.res5.2.conv3.norm.running_var", "backbone.fpn_lateral3.weight"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  EXPECT_FALSE(names.count("head.cls_subnet.1.weight"));  // ReLU: no parameters
}

}  // namespace
}  // namespace d2x::parity
