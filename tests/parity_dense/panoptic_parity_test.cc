// PanopticFPN vs detectron2's golden outputs (<fixtures>/panoptic_fpn).
//
// Stage-wise (the semantic head and the panoptic combine fed with detectron2's own inputs, so a
// divergence is located at its stage) and end to end from the input PNG, plus batching. Tolerances
// are the fixtures' README: features / logits ~1e-5 relative; detections detection-aware (same
// class, box IoU > 0.99, |score delta| < 1e-3, mask IoU > 0.99) for >= 99%; the panoptic map after
// matching segment ids agrees on >= 99.9% of the pixels.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/testing/fixtures.h"
#include "core/verify/panoptic_match.h"
#include "plugins/arch/panoptic_fpn/panoptic_combine.h"
#include "plugins/arch/panoptic_fpn/panoptic_config.h"
#include "plugins/arch/panoptic_fpn/panoptic_fpn.h"
#include "plugins/arch/panoptic_fpn/sem_seg_head.h"
#include "plugins/arch/rcnn/mask_head.h"
#include "core/structures/postprocess.h"
#include "tests/parity/detection_match.h"
#include "tests/parity/parity_util.h"
#include "tests/parity_dense/dense_fixture_model.h"
#include "tests/parity_dense/dense_parity_util.h"

namespace d2x::parity {
namespace {

constexpr char kArch[] = "panoptic_fpn";
// max |diff| <= kRelTol * max |expected| (README: features agree to ~1e-5 relative).
constexpr double kRelTol = 1e-5;
// Panoptic maps: fraction of pixels agreeing after matching segment ids.
constexpr double kMinPixelAgreement = 0.999;

panoptic_fpn::PanopticFpn& Model() {
  static panoptic_fpn::PanopticFpn* model =
      BuildFixtureModelOrDie<panoptic_fpn::PanopticFpn>(kArch, panoptic_fpn::ReadPanopticFpnOptions);
  return *model;
}

ImageInput Input(const std::string& key) { return FixtureImageInput(kArch, key); }

// The panoptic map and segments of `actual` vs `expected` (core/verify's segment matching, the
// fixtures' tolerances), strictly: every segment agrees and >= kMinPixelAgreement of the pixels.
void ExpectSegmentsAgree(const ImageResult& expected, const ImageResult& actual,
                         const std::string& what) {
  verify::SegmentMatchReport m = verify::MatchSegments(expected, actual);
  std::cout << what << " panoptic: " << m.Summary() << "\n";
  EXPECT_TRUE(m.ok) << what << ": " << m.Summary();
  EXPECT_EQ(m.num_agreeing, m.num_expected) << what << ": " << m.Summary();
  EXPECT_EQ(m.num_actual, m.num_expected) << what << ": " << m.Summary();
  EXPECT_GE(m.pixel_agreement, kMinPixelAgreement) << what << ": " << m.Summary();
}

class PanopticParityTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string key() const { return GetParam(); }
};

// Preprocessing and backbone features from the PNG.
TEST_P(PanopticParityTest, PreprocessFeatures) {
  panoptic_fpn::PanopticStages stages;
  absl::StatusOr<std::vector<ImageResult>> results =
      Model().InferenceWithStages({Input(key())}, &stages);
  ASSERT_TRUE(results.ok()) << results.status();
  std::cout << "panoptic_fpn " << key() << " (from the PNG):\n";
  ExpectScaledClose("preprocessed", stages.rcnn.images.tensor,
                    Fixture(kArch, key() + ".preprocessed"), 1e-7);
  for (const char* p : {"p2", "p3", "p4", "p5", "p6"}) {
    ExpectScaledClose(std::string("features.") + p, stages.rcnn.features.at(p),
                      Fixture(kArch, key() + ".features." + p), kRelTol);
  }
}

// Final instances (boxes, scores, classes, pasted masks) from the PNG.
TEST_P(PanopticParityTest, InstancesEndToEnd) {
  absl::StatusOr<std::vector<ImageResult>> results = Model().Inference({Input(key())});
  ASSERT_TRUE(results.ok()) << results.status();
  verify::MatchReport report = verify::MatchDetections(
      FixtureDetections(kArch, key()), verify::FromInstances((*results)[0].instances));
  std::cout << "panoptic_fpn " << key() << " instances end to end: " << report.Summary() << "\n";
  EXPECT_TRUE(report.ok) << report.Summary();
}

// The panoptic map and segments_info from the PNG.
TEST_P(PanopticParityTest, PanopticEndToEnd) {
  absl::StatusOr<std::vector<ImageResult>> results = Model().Inference({Input(key())});
  ASSERT_TRUE(results.ok()) << results.status();
  const ImageResult& r = (*results)[0];
  const auto size = ImageSizeOf(key());
  ASSERT_EQ(r.panoptic_seg.scalar_type(), at::kInt);
  ASSERT_EQ(r.panoptic_seg.sizes(), at::IntArrayRef({size[0], size[1]}));
  ASSERT_EQ(r.sem_seg.sizes(), at::IntArrayRef({54, size[0], size[1]}));
  ExpectSegmentsAgree(FixturePanopticResult(kArch, key()), r,
                      "panoptic_fpn " + key() + " end to end vs detectron2");
}

INSTANTIATE_TEST_SUITE_P(Images, PanopticParityTest, ::testing::Values("256x320", "200x296"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return "img" + info.param;
                         });

// The semantic head + sem_seg_postprocess on detectron2's own features (200x296: the fixtures have
// sem_seg logits for this image only).
TEST(PanopticSemSegTest, SemSegOnFixtureFeatures) {
  at::NoGradGuard no_grad;
  at::Tensor logits = Model().sem_seg_head().Forward(FixtureFeatures(kArch, "200x296"));
  at::Tensor sem_seg = panoptic_fpn::SemSegPostprocess(logits[0], 200, 296, 200, 296);
  std::cout << "panoptic_fpn 200x296 sem_seg on fixture features:\n";
  ExpectScaledClose("sem_seg", sem_seg, Fixture(kArch, "200x296.sem_seg"), kRelTol);
  at::Tensor argmax = sem_seg.argmax(0);
  const double agree =
      argmax.eq(Fixture(kArch, "200x296.sem_seg").argmax(0)).to(at::kDouble).mean().item<double>();
  std::cout << "  argmax agreement " << agree << "\n";
}

// sem_seg end to end from the PNG (200x296).
TEST(PanopticSemSegTest, SemSegEndToEnd) {
  absl::StatusOr<std::vector<ImageResult>> results = Model().Inference({Input("200x296")});
  ASSERT_TRUE(results.ok()) << results.status();
  std::cout << "panoptic_fpn 200x296 sem_seg from the PNG:\n";
  ExpectScaledClose("sem_seg", (*results)[0].sem_seg, Fixture(kArch, "200x296.sem_seg"), kRelTol);
}

// combine_semantic_and_instance_outputs on detectron2's own instances and sem_seg (200x296): the
// same integer logic, so the panoptic map and segments_info must be identical.
TEST(PanopticCombineTest, CombineOnFixtureOutputs) {
  const std::string key = "200x296";
  panoptic_fpn::PanopticOutput out = panoptic_fpn::CombineSemanticAndInstanceOutputs(
      Fixture(kArch, key + ".scores"), Fixture(kArch, key + ".pred_classes"),
      Fixture(kArch, key + ".pred_masks"), Fixture(kArch, key + ".sem_seg").argmax(0),
      Model().options().combine);
  at::Tensor expected = Fixture(kArch, key + ".panoptic_seg");
  EXPECT_TRUE(at::equal(out.panoptic_seg, expected)) << "panoptic_seg differs";
  std::vector<PanopticSegment> segments = FixturePanopticResult(kArch, key).segments_info;
  ASSERT_EQ(out.segments_info.size(), segments.size());
  for (size_t i = 0; i < segments.size(); ++i) {
    const PanopticSegment& a = out.segments_info[i];
    const PanopticSegment& e = segments[i];
    EXPECT_EQ(a.id, e.id) << i;
    EXPECT_EQ(a.isthing, e.isthing) << i;
    EXPECT_EQ(a.category_id, e.category_id) << i;
    if (e.isthing) {
      EXPECT_EQ(a.score, e.score) << i;
      EXPECT_EQ(a.instance_id, e.instance_id) << i;
    } else {
      EXPECT_EQ(a.area, e.area) << i;
    }
    EXPECT_EQ(a.area, out.panoptic_seg.eq(a.id).sum().item<int64_t>()) << i;
  }
  std::cout << "panoptic_fpn 200x296 combine on fixture outputs: " << out.segments_info.size()
            << " segments, panoptic_seg identical: " << at::equal(out.panoptic_seg, expected)
            << "\n";
}

// The stages after the backbone on detectron2's own features, for both images: semantic head ->
// sem_seg_postprocess -> argmax, and the fixture's instances -> combine, vs the fixture panoptic map.
TEST(PanopticCombineTest, SemSegAndCombineOnFixtureFeaturesAndInstances) {
  for (const std::string& key : ImageKeys()) {
    at::NoGradGuard no_grad;
    const auto size = ImageSizeOf(key);
    at::Tensor logits = Model().sem_seg_head().Forward(FixtureFeatures(kArch, key));
    at::Tensor sem_seg = panoptic_fpn::SemSegPostprocess(logits[0], size[0], size[1], size[0],
                                                         size[1]);
    panoptic_fpn::PanopticOutput out = panoptic_fpn::CombineSemanticAndInstanceOutputs(
        Fixture(kArch, key + ".scores"), Fixture(kArch, key + ".pred_classes"),
        Fixture(kArch, key + ".pred_masks"), sem_seg.argmax(0), Model().options().combine);
    const ImageResult expected = FixturePanopticResult(kArch, key);
    ImageResult actual = expected;  // the fixture's instances, our panoptic map and segments
    actual.panoptic_seg = out.panoptic_seg;
    actual.segments_info = out.segments_info;
    ExpectSegmentsAgree(expected, actual,
                        "panoptic_fpn " + key + " sem_seg + combine on fixture features / instances");
  }
}

void ExpectSameResult(const ImageResult& expected, const ImageResult& actual,
                      const std::string& what) {
  verify::MatchReport det = verify::MatchDetections(verify::FromInstances(expected.instances),
                                                    verify::FromInstances(actual.instances));
  std::cout << what << " instances: " << det.Summary().substr(0, 300) << "\n";
  EXPECT_TRUE(det.ok) << what << ": " << det.Summary();
  ExpectSegmentsAgree(expected, actual, what);
}

// Two images that pad to the same size (224x320): the fixture's 200x296 input and a 210x300 crop of
// the 256x320 input. Batched == one by one; the 200x296 one still equals detectron2.
TEST(PanopticBatchTest, SamePaddedSizeBatchEqualsOneByOne) {
  ImageInput a = Input("200x296");
  ImageInput b = Input("256x320");
  b.image = b.image.slice(1, 0, 210).slice(2, 0, 300).contiguous();
  absl::StatusOr<std::vector<ImageResult>> batched = Model().Inference({a, b});
  ASSERT_TRUE(batched.ok()) << batched.status();
  ASSERT_EQ(batched->size(), 2u);
  const std::vector<ImageInput> inputs = {a, b};
  for (size_t i = 0; i < inputs.size(); ++i) {
    absl::StatusOr<std::vector<ImageResult>> single = Model().Inference({inputs[i]});
    ASSERT_TRUE(single.ok()) << single.status();
    ExpectSameResult((*single)[0], (*batched)[i],
                     "panoptic_fpn 224x320-padded batch image " + std::to_string(i) +
                         " batched vs alone");
  }
  ExpectSegmentsAgree(FixturePanopticResult(kArch, "200x296"), (*batched)[0],
                      "panoptic_fpn 200x296 in a batch vs detectron2");
}

// The fixtures' two inputs in one batch (both padded to 256x320). The 256x320 image is unchanged
// by batching. The 200x296 one sees 32 more rows of zero input than alone — real input to the
// backbone in detectron2's batched semantics (not conv padding) — so it must equal the same
// computation done alone on its normalized image zero-padded to 256x320: backbone on the canvas,
// RPN / ROI heads / detector_postprocess / mask pasting with the 200x296 image size, semantic head
// cropped to 200x296, combine.
TEST(PanopticBatchTest, FixturePairBatch) {
  panoptic_fpn::PanopticFpn& model = Model();
  std::vector<ImageInput> batch = {Input("256x320"), Input("200x296")};
  panoptic_fpn::PanopticStages stages;
  absl::StatusOr<std::vector<ImageResult>> batched = model.InferenceWithStages(batch, &stages);
  ASSERT_TRUE(batched.ok()) << batched.status();
  ASSERT_EQ(batched->size(), 2u);
  absl::StatusOr<std::vector<ImageResult>> single0 = model.Inference({batch[0]});
  ASSERT_TRUE(single0.ok()) << single0.status();
  ExpectSameResult((*single0)[0], (*batched)[0], "panoptic_fpn fixture pair image 0 batched vs alone");
  ExpectSegmentsAgree(FixturePanopticResult(kArch, "256x320"), (*batched)[0],
                      "panoptic_fpn fixture pair image 0 batched vs detectron2");

  // Image 1 alone on a 256x320 canvas.
  at::NoGradGuard no_grad;
  rcnn::GeneralizedRcnn& rcnn = model.rcnn();
  absl::StatusOr<structures::ImageList> images = rcnn.Preprocess({batch[1]});
  ASSERT_TRUE(images.ok()) << images.status();
  at::Tensor canvas = at::zeros({1, 3, 256, 320}, images->tensor.options());
  canvas.slice(2, 0, images->tensor.size(2)).slice(3, 0, images->tensor.size(3))
      .copy_(images->tensor);
  modeling::FeatureMap features = rcnn.backbone().Forward(canvas);
  for (const char* p : {"p2", "p3", "p4", "p5", "p6"}) {
    ExpectScaledClose(std::string("image 1 batched vs alone on canvas: features.") + p,
                      stages.rcnn.features.at(p).slice(0, 1, 2), features.at(p), kRelTol);
  }
  const structures::ImageSize size{200, 296};
  std::vector<modeling::Proposals> proposals = rcnn.proposal_generator().Forward({size}, features);
  std::vector<rcnn::RoiHeadsResult> raw =
      rcnn.roi_heads().Inference(features, {proposals[0].boxes}, {{200, 296}});
  Instances instances;
  instances.image_height = 200;
  instances.image_width = 296;
  instances.fields["pred_boxes"] = raw[0].boxes;
  instances.fields["scores"] = raw[0].scores;
  instances.fields["pred_classes"] = raw[0].classes;
  instances.fields["pred_masks"] = raw[0].mask_probs;
  absl::StatusOr<Instances> post = structures::DetectorPostprocess(instances, 200, 296);
  ASSERT_TRUE(post.ok()) << post.status();
  post->fields["pred_masks"] =
      rcnn::PasteMasksInImage(post->fields.at("pred_masks").select(1, 0),
                              post->fields.at("pred_boxes"), 200, 296,
                              rcnn.options().mask_threshold);
  ImageResult expected1;
  expected1.instances = *post;
  expected1.sem_seg = panoptic_fpn::SemSegPostprocess(
      model.sem_seg_head().Forward(features)[0], 200, 296, 200, 296);
  panoptic_fpn::PanopticOutput panoptic = panoptic_fpn::CombineSemanticAndInstanceOutputs(
      post->fields.at("scores"), post->fields.at("pred_classes"), post->fields.at("pred_masks"),
      expected1.sem_seg.argmax(0), model.options().combine);
  expected1.panoptic_seg = panoptic.panoptic_seg;
  expected1.segments_info = panoptic.segments_info;
  ExpectScaledClose("image 1 batched vs alone on canvas: sem_seg", (*batched)[1].sem_seg,
                    expected1.sem_seg, kRelTol);
  ExpectSameResult(expected1, (*batched)[1],
                   "panoptic_fpn fixture pair image 1 batched vs alone on a 256x320 canvas");
}

// A requested output size (ImageInput height/width): instances, sem_seg and the panoptic map come
// out at that size (detector_postprocess, sem_seg_postprocess).
TEST(PanopticOutputSizeTest, OutputSize) {
  ImageInput input = Input("200x296");
  absl::StatusOr<std::vector<ImageResult>> base = Model().Inference({input});
  ASSERT_TRUE(base.ok()) << base.status();
  input.height = 400;
  input.width = 592;
  absl::StatusOr<std::vector<ImageResult>> scaled = Model().Inference({input});
  ASSERT_TRUE(scaled.ok()) << scaled.status();
  const ImageResult& b = (*base)[0];
  const ImageResult& s = (*scaled)[0];
  EXPECT_EQ(s.instances.image_height, 400);
  EXPECT_EQ(s.instances.image_width, 592);
  EXPECT_EQ(s.instances.fields.at("pred_masks").sizes(), at::IntArrayRef({100, 400, 592}));
  EXPECT_EQ(s.sem_seg.sizes(), at::IntArrayRef({54, 400, 592}));
  EXPECT_EQ(s.panoptic_seg.sizes(), at::IntArrayRef({400, 592}));
  EXPECT_TRUE(at::equal(b.instances.fields.at("pred_boxes") * 2, s.instances.fields.at("pred_boxes")));
  // STUFF_AREA_LIMIT counts output pixels, so at 2x (4x the area) every stuff segment of the 1x
  // result is still there (more may pass the limit, as in detectron2).
  std::set<int64_t> scaled_stuff;
  for (const PanopticSegment& seg : s.segments_info) {
    if (!seg.isthing) scaled_stuff.insert(seg.category_id);
  }
  for (const PanopticSegment& seg : b.segments_info) {
    if (!seg.isthing) {
      EXPECT_TRUE(scaled_stuff.count(seg.category_id)) << seg.category_id;
    }
  }
  std::cout << "panoptic_fpn 200x296 at 400x592: " << s.segments_info.size() << " segments (1x: "
            << b.segments_info.size() << ")\n";
  // sem_seg_postprocess: at 1x the resize is the identity, so the 2x logits are the bilinear
  // (align_corners=False) resize of the 1x logits.
  at::Tensor expected_sem_seg = at::upsample_bilinear2d(b.sem_seg.unsqueeze(0), {400, 592},
                                                        /*align_corners=*/false, c10::nullopt,
                                                        c10::nullopt)[0];
  EXPECT_TRUE(at::equal(s.sem_seg, expected_sem_seg));
  ImageResult up = b;
  up.panoptic_seg = b.panoptic_seg.repeat_interleave(2, 0).repeat_interleave(2, 1);
  std::cout << "panoptic_fpn 200x296 at 400x592: nearest-upsampled 1x map agrees (ids matched) on "
            << verify::MatchSegments(up, s).pixel_agreement
            << " of the pixels (masks pasted at 2x, a new stuff segment)\n";
}

TEST(PanopticStateDictTest, DetectronNames) {
  std::set<std::string> names;
  for (const auto& [name, tensor] : Model().StateDict()) names.insert(name);
  for (const char* n :
       {"sem_seg_head.p2.0.weight", "sem_seg_head.p2.0.norm.weight", "sem_seg_head.p3.0.weight",
        "sem_seg_head.p4.2.weight", "sem_seg_head.p5.4.norm.bias", "sem_seg_head.predictor.weight",
        "sem_seg_head.predictor.bias", "roi_heads.mask_head.predictor.weight",
        "proposal_generator.rpn_head.conv.weight", "backbone.fpn_output2.weight"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  EXPECT_FALSE(names.count("sem_seg_head.p2.0.bias"));  // GN: the conv has no bias
}

}  // namespace
}  // namespace d2x::parity
