// GeneralizedRCNN (Faster / Mask / Keypoint R-CNN, FPN) vs detectron2's golden outputs.
//
// Stage-wise (each stage fed with detectron2's own inputs where possible, so a divergence is
// located at its stage) and end to end from the input PNG. Tolerances are the fixtures' README:
// features ~1e-5 relative; detections detection-aware (same class, box IoU > 0.99,
// |score delta| < 1e-3, mask IoU > 0.99, keypoints within 0.5 px) for >= 99% of detections.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "plugins/arch/rcnn/generalized_rcnn.h"
#include "tests/parity/detection_match.h"
#include "tests/parity/parity_util.h"
#include "tests/parity/rcnn_fixture_model.h"

namespace d2x::parity {
namespace {

// Feature maps: max |diff| <= kFeatureRelTol * max |expected| (README: ~1e-5 relative).
constexpr double kFeatureRelTol = 1e-4;
// Box predictor outputs from detectron2's own features + proposals.
constexpr double kPredictorRelTol = 1e-4;
// Per-ROI mask probabilities from detectron2's own features + boxes.
constexpr double kMaskProbAtol = 1e-4;

// The fixture model of `arch`, built once per test binary; null (with a test failure) on error.
rcnn::GeneralizedRcnn* Model(const std::string& arch) {
  static auto* models = new std::map<std::string, std::unique_ptr<rcnn::GeneralizedRcnn>>();
  auto it = models->find(arch);
  if (it == models->end()) {
    absl::StatusOr<std::unique_ptr<rcnn::GeneralizedRcnn>> model = BuildFixtureModel(arch);
    if (!model.ok()) {
      ADD_FAILURE() << arch << ": " << model.status();
      return nullptr;
    }
    it = models->emplace(arch, *std::move(model)).first;
  }
  return it->second.get();
}

#define D2X_FIXTURE_MODEL(var, arch)            \
  rcnn::GeneralizedRcnn* var##_ptr = Model(arch); \
  ASSERT_NE(var##_ptr, nullptr);                  \
  rcnn::GeneralizedRcnn& var = *var##_ptr

verify::DetectionSet ToSet(const Instances& instances) { return verify::FromInstances(instances); }

struct Param {
  std::string arch;
  std::string key;
};

class RcnnParityTest : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  std::string arch() const { return std::get<0>(GetParam()); }
  std::string key() const { return std::get<1>(GetParam()); }
};

// Preprocessing, backbone features and RPN proposals from the input image.
TEST_P(RcnnParityTest, PreprocessFeaturesProposals) {
  D2X_FIXTURE_MODEL(model, arch());
  rcnn::RcnnStages stages;
  absl::StatusOr<std::vector<ImageResult>> results =
      model.InferenceWithStages({FixtureImageInput(arch(), key())}, &stages);
  ASSERT_TRUE(results.ok()) << results.status();
  std::cout << arch() << " " << key() << ":\n";
  ExpectScaledClose("preprocessed", stages.images.tensor, Fixture(arch(), key() + ".preprocessed"),
                    1e-6);
  for (const char* p : {"p2", "p3", "p4", "p5", "p6"}) {
    ExpectScaledClose(std::string("features.") + p, stages.features.at(p),
                      Fixture(arch(), key() + ".features." + p), kFeatureRelTol);
  }
  ASSERT_EQ(stages.proposals.size(), 1u);
  verify::DetectionSet expected, actual;
  expected.boxes = Fixture(arch(), key() + ".proposals.boxes");
  expected.scores = Fixture(arch(), key() + ".proposals.objectness_logits");
  expected.classes = at::zeros({expected.boxes.size(0)}, at::kLong);
  actual.boxes = stages.proposals[0].boxes;
  actual.scores = stages.proposals[0].objectness_logits;
  actual.classes = at::zeros({actual.boxes.size(0)}, at::kLong);
  verify::MatchReport report = verify::MatchDetections(expected, actual);
  std::cout << "  proposals (score = objectness logit): " << report.Summary().substr(0, 400)
            << "\n";
  EXPECT_TRUE(report.ok) << report.Summary();
}

// The box predictor on detectron2's features and proposals.
TEST_P(RcnnParityTest, BoxPredictorOnFixtureProposals) {
  D2X_FIXTURE_MODEL(model, arch());
  at::NoGradGuard no_grad;
  rcnn::FastRcnnOutputLayers::Predictions predictions = model.roi_heads().ForwardBoxPredictions(
      FixtureFeatures(arch(), key()), {Fixture(arch(), key() + ".proposals.boxes")});
  std::cout << arch() << " " << key() << ":\n";
  ExpectScaledClose("box_head.scores", predictions.scores,
                    Fixture(arch(), key() + ".box_head.scores"), kPredictorRelTol);
  ExpectScaledClose("box_head.deltas", predictions.deltas,
                    Fixture(arch(), key() + ".box_head.deltas"), kPredictorRelTol);
}

// The ROI heads (box inference, then mask / keypoint branches) on detectron2's features and
// proposals, postprocessed like the model does, vs detectron2's final detections.
TEST_P(RcnnParityTest, RoiHeadsOnFixtureProposals) {
  D2X_FIXTURE_MODEL(model, arch());
  at::NoGradGuard no_grad;
  const auto size = ImageSizeOf(key());
  std::vector<rcnn::RoiHeadsResult> raw = model.roi_heads().Inference(
      FixtureFeatures(arch(), key()), {Fixture(arch(), key() + ".proposals.boxes")}, {size});
  ASSERT_EQ(raw.size(), 1u);
  verify::DetectionSet actual;
  actual.boxes = raw[0].boxes;
  actual.scores = raw[0].scores;
  actual.classes = raw[0].classes;
  if (raw[0].mask_probs.defined()) {
    actual.masks = rcnn::PasteMasksInImage(raw[0].mask_probs.select(1, 0), raw[0].boxes, size[0],
                                           size[1]);
  }
  if (raw[0].keypoints.defined()) actual.keypoints = raw[0].keypoints;
  verify::MatchReport report = verify::MatchDetections(FixtureDetections(arch(), key()), actual);
  std::cout << arch() << " " << key() << " ROI heads on fixture proposals: " << report.Summary()
            << "\n";
  EXPECT_TRUE(report.ok) << report.Summary();
}

// Mask / keypoint branches on detectron2's features and final boxes.
TEST_P(RcnnParityTest, MaskAndKeypointHeadsOnFixtureBoxes) {
  D2X_FIXTURE_MODEL(model, arch());
  const rcnn::RoiHeadsOptions& options = model.roi_heads().options();
  if (!options.mask_on && !options.keypoint_on) GTEST_SKIP() << "no mask or keypoint head";
  at::NoGradGuard no_grad;
  std::vector<rcnn::RoiHeadsResult> results(1);
  results[0].boxes = Fixture(arch(), key() + ".pred_boxes");
  results[0].classes = Fixture(arch(), key() + ".pred_classes");
  results[0].scores = Fixture(arch(), key() + ".scores");
  model.roi_heads().ForwardWithGivenBoxes(FixtureFeatures(arch(), key()), results);
  std::cout << arch() << " " << key() << ":\n";
  if (options.mask_on) {
    at::Tensor expected = Fixture(arch(), key() + ".raw.pred_masks");
    Closeness c = CompareTensors(results[0].mask_probs, expected, 0.0, kMaskProbAtol);
    std::cout << "  raw.pred_masks max |diff| " << c.max_abs << "\n";
    EXPECT_TRUE(c.ok) << c.message;
  }
  if (options.keypoint_on) {
    at::Tensor expected = Fixture(arch(), key() + ".pred_keypoints");
    at::Tensor actual = results[0].keypoints;
    ASSERT_EQ(actual.sizes(), expected.sizes());
    at::Tensor dist = (actual.slice(2, 0, 2) - expected.slice(2, 0, 2)).pow(2).sum(2).sqrt();
    at::Tensor score_diff = (actual.select(2, 2) - expected.select(2, 2)).abs();
    std::cout << "  pred_keypoints max xy dist " << dist.max().item<double>()
              << " px, max score diff " << score_diff.max().item<double>() << "\n";
    EXPECT_LE(dist.max().item<double>(), 0.5);
  }
}

// End to end from the input PNG.
TEST_P(RcnnParityTest, EndToEndDetections) {
  D2X_FIXTURE_MODEL(model, arch());
  absl::StatusOr<std::vector<ImageResult>> results =
      model.Inference({FixtureImageInput(arch(), key())});
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 1u);
  const Instances& instances = (*results)[0].instances;
  const auto size = ImageSizeOf(key());
  EXPECT_EQ(instances.image_height, size[0]);
  EXPECT_EQ(instances.image_width, size[1]);
  verify::MatchReport report =
      verify::MatchDetections(FixtureDetections(arch(), key()), ToSet(instances));
  std::cout << arch() << " " << key() << " end to end: " << report.Summary() << "\n";
  EXPECT_TRUE(report.ok) << report.Summary();
}

INSTANTIATE_TEST_SUITE_P(All, RcnnParityTest,
                         ::testing::Combine(::testing::Values("faster_rcnn", "mask_rcnn",
                                                              "keypoint_rcnn"),
                                            ::testing::Values("256x320", "200x296")),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

// Batching. Images in a batch are padded to the batch's largest size, and with these small
// inputs every res5 unit's receptive field (~480 px) reaches the padded border, so an image that
// gets more padding in a batch than alone legitimately gets different features (detectron2 behaves
// the same way; its fixtures were computed one image at a time). So:
//  * a batch of equally padded images gives, image by image, the single-image results and
//    detectron2's (both keys: each image with its horizontal mirror);
//  * in a mixed batch, the largest image (padding unchanged) gives its single-image results and
//    detectron2's, and every image gives the same results whatever its position in the batch.
class RcnnBatchTest : public ::testing::TestWithParam<std::string> {};

void ExpectAgree(const std::string& what, const verify::DetectionSet& expected,
                 const verify::DetectionSet& actual) {
  verify::MatchReport report = verify::MatchDetections(expected, actual);
  std::cout << what << ": " << report.Summary() << "\n";
  EXPECT_TRUE(report.ok) << what << ": " << report.Summary();
}

TEST_P(RcnnBatchTest, EquallyPaddedBatchEqualsSingles) {
  const std::string arch = GetParam();
  D2X_FIXTURE_MODEL(model, arch);
  for (const std::string& key : ImageKeys()) {
    ImageInput image = FixtureImageInput(arch, key);
    ImageInput mirrored;
    mirrored.image = image.image.flip({2}).contiguous();
    absl::StatusOr<std::vector<ImageResult>> batched = model.Inference({image, mirrored});
    ASSERT_TRUE(batched.ok()) << batched.status();
    ASSERT_EQ(batched->size(), 2u);
    absl::StatusOr<std::vector<ImageResult>> single = model.Inference({image});
    absl::StatusOr<std::vector<ImageResult>> single_mirrored = model.Inference({mirrored});
    ASSERT_TRUE(single.ok() && single_mirrored.ok());
    ExpectAgree(arch + " " + key + " [image, mirror] image vs single",
                ToSet((*single)[0].instances), ToSet((*batched)[0].instances));
    ExpectAgree(arch + " " + key + " [image, mirror] mirror vs single",
                ToSet((*single_mirrored)[0].instances), ToSet((*batched)[1].instances));
    ExpectAgree(arch + " " + key + " [image, mirror] image vs detectron2",
                FixtureDetections(arch, key), ToSet((*batched)[0].instances));
  }
}

TEST_P(RcnnBatchTest, MixedSizeBatch) {
  const std::string arch = GetParam();
  D2X_FIXTURE_MODEL(model, arch);
  ImageInput large = FixtureImageInput(arch, "256x320");
  ImageInput small = FixtureImageInput(arch, "200x296");
  absl::StatusOr<std::vector<ImageResult>> ls = model.Inference({large, small});
  absl::StatusOr<std::vector<ImageResult>> sl = model.Inference({small, large});
  absl::StatusOr<std::vector<ImageResult>> single = model.Inference({large});
  ASSERT_TRUE(ls.ok() && sl.ok() && single.ok());
  ASSERT_EQ(ls->size(), 2u);
  ASSERT_EQ(sl->size(), 2u);
  // Output sizes are each image's own.
  EXPECT_EQ((*ls)[1].instances.image_height, 200);
  EXPECT_EQ((*ls)[1].instances.image_width, 296);
  EXPECT_EQ((*ls)[0].instances.image_height, 256);
  EXPECT_EQ((*ls)[0].instances.image_width, 320);
  ExpectAgree(arch + " [256x320, 200x296] 256x320 vs single", ToSet((*single)[0].instances),
              ToSet((*ls)[0].instances));
  ExpectAgree(arch + " [256x320, 200x296] 256x320 vs detectron2",
              FixtureDetections(arch, "256x320"), ToSet((*ls)[0].instances));
  ExpectAgree(arch + " 256x320 at batch position 0 vs 1", ToSet((*ls)[0].instances),
              ToSet((*sl)[1].instances));
  ExpectAgree(arch + " 200x296 at batch position 1 vs 0", ToSet((*ls)[1].instances),
              ToSet((*sl)[0].instances));
}

INSTANTIATE_TEST_SUITE_P(All, RcnnBatchTest,
                         ::testing::Values("faster_rcnn", "mask_rcnn", "keypoint_rcnn"));

// The model-zoo .pkl and the .pth hold the same weights: identical outputs.
TEST(RcnnWeightsTest, PklAndPthGiveIdenticalOutputs) {
  absl::StatusOr<std::unique_ptr<rcnn::GeneralizedRcnn>> from_pkl =
      BuildFixtureModel("mask_rcnn", "model_zoo.pkl");
  ASSERT_TRUE(from_pkl.ok()) << from_pkl.status();
  D2X_FIXTURE_MODEL(from_pth, "mask_rcnn");
  // Same state, tensor for tensor.
  auto a = from_pth.StateDict();
  auto b = (*from_pkl)->StateDict();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(at::equal(a[i].second, b[i].second)) << a[i].first;
  }
  for (const std::string& key : ImageKeys()) {
    ImageInput input = FixtureImageInput("mask_rcnn", key);
    absl::StatusOr<std::vector<ImageResult>> ra = from_pth.Inference({input});
    absl::StatusOr<std::vector<ImageResult>> rb = (*from_pkl)->Inference({input});
    ASSERT_TRUE(ra.ok() && rb.ok());
    const Instances& ia = (*ra)[0].instances;
    const Instances& ib = (*rb)[0].instances;
    ASSERT_EQ(ia.fields.size(), ib.fields.size());
    for (const auto& [name, t] : ia.fields) {
      EXPECT_TRUE(at::equal(t, ib.fields.at(name))) << key << " " << name;
    }
  }
}

}  // namespace
}  // namespace d2x::parity
