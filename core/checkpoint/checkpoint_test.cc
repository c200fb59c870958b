// Loads detectron2's fixture checkpoints (.pth for every architecture, the mask_rcnn model-zoo
// .pkl) and checks names, shapes, dtypes and .pth/.pkl bit-identity.
#include "core/checkpoint/checkpoint.h"

#include <ATen/ATen.h>

#include <map>
#include <set>
#include <string>

#include "core/testing/fixtures.h"
#include "gtest/gtest.h"

namespace d2x::checkpoint {
namespace {

std::map<std::string, at::Tensor> AsMap(const Checkpoint& ckpt) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, tensor] : ckpt.tensors) out[name] = tensor;
  return out;
}

Checkpoint MustLoad(const std::string& arch, const std::string& file) {
  absl::StatusOr<std::string> path = testing::FixturePath(arch, file);
  EXPECT_TRUE(path.ok()) << path.status();
  if (!path.ok()) return {};
  absl::StatusOr<Checkpoint> ckpt = LoadCheckpoint(*path);
  EXPECT_TRUE(ckpt.ok()) << ckpt.status();
  return ckpt.ok() ? *std::move(ckpt) : Checkpoint{};
}

std::vector<int64_t> Shape(const at::Tensor& t) { return t.sizes().vec(); }

TEST(CheckpointTest, EveryFixturePthLoads) {
  for (const std::string& arch : testing::FixtureArchitectures()) {
    SCOPED_TRACE(arch);
    Checkpoint ckpt = MustLoad(arch, "model_final.pth");
    EXPECT_EQ(ckpt.format, "pth");
    EXPECT_FALSE(ckpt.matching_heuristics);
    EXPECT_GT(ckpt.tensors.size(), 100u);
    EXPECT_EQ(ckpt.metadata["iteration"], "0");
    EXPECT_TRUE(ckpt.ignored_classes.empty());
    ASSERT_TRUE(ckpt.module_versions.has_value());
    // FrozenBatchNorm2d._version == 3 for the ResNet norms.
    EXPECT_EQ(ckpt.module_versions->at("backbone.bottom_up.res2.0.conv1.norm"), 3);
    std::set<std::string> names;
    for (const auto& [name, tensor] : ckpt.tensors) {
      EXPECT_TRUE(names.insert(name).second) << "duplicate " << name;
      EXPECT_EQ(tensor.scalar_type(), at::kFloat) << name;
      EXPECT_TRUE(tensor.is_contiguous()) << name;
      EXPECT_TRUE(tensor.isfinite().all().item<bool>()) << name;
    }
    auto t = AsMap(ckpt);
    // Backbone spot checks (the fixtures' small ResNet-50: stem 16 channels).
    ASSERT_TRUE(t.count("backbone.bottom_up.stem.conv1.weight"));
    EXPECT_EQ(Shape(t["backbone.bottom_up.stem.conv1.weight"]), (std::vector<int64_t>{16, 3, 7, 7}));
    EXPECT_TRUE(t.count("backbone.bottom_up.stem.conv1.norm.weight"));
    EXPECT_TRUE(t.count("backbone.bottom_up.res2.0.conv1.norm.running_var"));
    EXPECT_TRUE(t.count("backbone.bottom_up.res2.0.shortcut.weight"));
    EXPECT_TRUE(t.count("backbone.bottom_up.res5.2.conv3.weight"));
    EXPECT_FALSE(t.count("backbone.bottom_up.res2.0.conv1.norm.num_batches_tracked"));
    // FPN output channels 64.
    const bool retina = arch == "retinanet";
    const std::string first_lateral = retina ? "backbone.fpn_lateral3.weight" : "backbone.fpn_lateral2.weight";
    ASSERT_TRUE(t.count(first_lateral));
    EXPECT_EQ(t[first_lateral].size(0), 64);
  }
}

TEST(CheckpointTest, ArchitectureSpecificWeights) {
  {
    auto t = AsMap(MustLoad("faster_rcnn", "model_final.pth"));
    EXPECT_EQ(Shape(t["roi_heads.box_predictor.cls_score.weight"]), (std::vector<int64_t>{81, 256}));
    EXPECT_EQ(Shape(t["roi_heads.box_predictor.bbox_pred.weight"]), (std::vector<int64_t>{320, 256}));
    EXPECT_EQ(Shape(t["proposal_generator.rpn_head.conv.weight"]), (std::vector<int64_t>{64, 64, 3, 3}));
    EXPECT_EQ(Shape(t["proposal_generator.rpn_head.objectness_logits.weight"]),
              (std::vector<int64_t>{3, 64, 1, 1}));
    EXPECT_EQ(t["roi_heads.box_head.fc2.weight"].size(0), 256);
  }
  {
    auto t = AsMap(MustLoad("mask_rcnn", "model_final.pth"));
    EXPECT_EQ(Shape(t["roi_heads.box_predictor.cls_score.weight"]), (std::vector<int64_t>{81, 256}));
    EXPECT_EQ(Shape(t["roi_heads.mask_head.predictor.weight"]), (std::vector<int64_t>{80, 64, 1, 1}));
    EXPECT_TRUE(t.count("roi_heads.mask_head.mask_fcn4.weight"));
    EXPECT_TRUE(t.count("roi_heads.mask_head.deconv.weight"));
  }
  {
    auto t = AsMap(MustLoad("keypoint_rcnn", "model_final.pth"));
    EXPECT_EQ(Shape(t["roi_heads.box_predictor.cls_score.weight"]), (std::vector<int64_t>{2, 256}));
    EXPECT_TRUE(t.count("roi_heads.keypoint_head.conv_fcn8.weight"));
    EXPECT_EQ(t["roi_heads.keypoint_head.score_lowres.weight"].size(1), 17);
  }
  {
    auto t = AsMap(MustLoad("retinanet", "model_final.pth"));
    // 9 anchors x 80 classes; 9 x 4 deltas.
    EXPECT_EQ(t["head.cls_score.weight"].size(0), 720);
    EXPECT_EQ(t["head.bbox_pred.weight"].size(0), 36);
    EXPECT_TRUE(t.count("backbone.top_block.p6.weight"));
  }
  {
    auto t = AsMap(MustLoad("panoptic_fpn", "model_final.pth"));
    EXPECT_EQ(t["sem_seg_head.predictor.weight"].size(0), 54);
    EXPECT_TRUE(t.count("roi_heads.mask_head.predictor.weight"));
  }
}

// The weights' output sizes agree with the tensors the fixture manifests list (detectron2's
// intermediate outputs computed with these very weights).
TEST(CheckpointTest, ShapesAgreeWithFixtureManifests) {
  auto manifest_shape = [](const std::string& arch, const std::string& name) {
    absl::StatusOr<at::Tensor> t = testing::LoadFixtureTensor(arch, name);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? t->sizes().vec() : std::vector<int64_t>{};
  };
  for (const char* arch : {"faster_rcnn", "mask_rcnn", "keypoint_rcnn", "panoptic_fpn"}) {
    SCOPED_TRACE(arch);
    auto t = AsMap(MustLoad(arch, "model_final.pth"));
    // box_head.scores [R, K + 1] / box_head.deltas [R, 4K] come out of the box predictor.
    EXPECT_EQ(manifest_shape(arch, "256x320.box_head.scores")[1],
              t["roi_heads.box_predictor.cls_score.weight"].size(0));
    EXPECT_EQ(manifest_shape(arch, "256x320.box_head.deltas")[1],
              t["roi_heads.box_predictor.bbox_pred.weight"].size(0));
    // features.p2 [1, C, H, W] comes out of fpn_output2.
    EXPECT_EQ(manifest_shape(arch, "256x320.features.p2")[1],
              t["backbone.fpn_output2.weight"].size(0));
  }
  auto kp = AsMap(MustLoad("keypoint_rcnn", "model_final.pth"));
  EXPECT_EQ(manifest_shape("keypoint_rcnn", "256x320.pred_keypoints")[1],
            kp["roi_heads.keypoint_head.score_lowres.weight"].size(1));  // ConvTranspose: [in, out]
  auto retina = AsMap(MustLoad("retinanet", "model_final.pth"));
  EXPECT_EQ(manifest_shape("retinanet", "256x320.head.cls_logits.0")[1],
            retina["head.cls_score.weight"].size(0));
  EXPECT_EQ(manifest_shape("retinanet", "256x320.features.p6")[1],
            retina["backbone.top_block.p6.weight"].size(0));
  auto panoptic = AsMap(MustLoad("panoptic_fpn", "model_final.pth"));
  EXPECT_EQ(manifest_shape("panoptic_fpn", "200x296.sem_seg")[0],
            panoptic["sem_seg_head.predictor.weight"].size(0));
}

TEST(CheckpointTest, ModelZooPklIsBitIdenticalToPth) {
  Checkpoint pth = MustLoad("mask_rcnn", "model_final.pth");
  Checkpoint pkl = MustLoad("mask_rcnn", "model_zoo.pkl");
  EXPECT_EQ(pkl.format, "pkl-detectron2");
  EXPECT_FALSE(pkl.matching_heuristics);
  EXPECT_FALSE(pkl.metadata["__author__"].empty());
  EXPECT_FALSE(pkl.module_versions.has_value());
  ASSERT_EQ(pth.tensors.size(), pkl.tensors.size());
  for (size_t i = 0; i < pth.tensors.size(); ++i) {
    const auto& [name, a] = pth.tensors[i];
    const auto& [pkl_name, b] = pkl.tensors[i];
    ASSERT_EQ(name, pkl_name);
    ASSERT_EQ(a.scalar_type(), b.scalar_type()) << name;
    ASSERT_EQ(a.sizes(), b.sizes()) << name;
    ASSERT_EQ(std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), a.nbytes()), 0)
        << name;
  }
}

TEST(CheckpointTest, MissingFileIsAnError) {
  absl::StatusOr<Checkpoint> ckpt = LoadCheckpoint("/nonexistent/model.pth");
  ASSERT_FALSE(ckpt.ok());
  EXPECT_NE(ckpt.status().message().find("/nonexistent/model.pth"), std::string::npos);
}

}  // namespace
}  // namespace d2x::checkpoint
