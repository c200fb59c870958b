// Building the shared blocks from detectron2 configs (defaults + overrides).
#include "core/modeling/build.h"

#include <ATen/ATen.h>

#include "gtest/gtest.h"

namespace d2x::modeling {
namespace {

config::Config With(const std::vector<std::string>& overrides) {
  config::Config cfg = config::Config::Defaults();
  absl::Status s = cfg.MergeFromList(overrides);
  EXPECT_TRUE(s.ok()) << s;
  return cfg;
}

TEST(BuildTest, DefaultConfigIsC4ResNetWithRpnOnRes4) {
  config::Config cfg = config::Config::Defaults();
  auto backbone = BuildBackbone(cfg);
  ASSERT_TRUE(backbone.ok()) << backbone.status();
  EXPECT_EQ((*backbone)->out_features(), (std::vector<std::string>{"res4"}));
  EXPECT_EQ((*backbone)->size_divisibility(), 0);
  auto shapes = (*backbone)->output_shape();
  EXPECT_EQ(shapes["res4"].channels, 1024);
  EXPECT_EQ(shapes["res4"].stride, 16);
  auto rpn = BuildRpn(cfg, shapes);
  ASSERT_TRUE(rpn.ok()) << rpn.status();
  EXPECT_EQ((*rpn)->anchor_generator().num_anchors(), (std::vector<int64_t>{15}));
  EXPECT_EQ((*rpn)->options().pre_nms_topk, 6000);
  EXPECT_EQ((*rpn)->options().post_nms_topk, 1000);
  EXPECT_DOUBLE_EQ((*rpn)->options().anchors.offset, 0.0);
  EXPECT_EQ((*rpn)->named_parameters()["rpn_head.anchor_deltas.weight"].sizes(),
            (at::IntArrayRef{60, 1024, 1, 1}));
  auto input = InputOptionsFromConfig(cfg);
  ASSERT_TRUE(input.ok());
  EXPECT_EQ(input->pixel_mean, (std::vector<double>{103.530, 116.280, 123.675}));
  EXPECT_EQ(input->format, "BGR");
  EXPECT_EQ(input->min_size_test, 800);
  EXPECT_EQ(input->max_size_test, 1333);
}

TEST(BuildTest, FpnBackbones) {
  auto fpn = BuildBackbone(With({"MODEL.BACKBONE.NAME", "build_resnet_fpn_backbone",
                                 "MODEL.RESNETS.OUT_FEATURES", "['res2', 'res3', 'res4', 'res5']",
                                 "MODEL.FPN.IN_FEATURES", "['res2', 'res3', 'res4', 'res5']",
                                 "MODEL.RESNETS.DEPTH", "101"}));
  ASSERT_TRUE(fpn.ok()) << fpn.status();
  EXPECT_EQ((*fpn)->out_features(), (std::vector<std::string>{"p2", "p3", "p4", "p5", "p6"}));
  EXPECT_EQ((*fpn)->size_divisibility(), 32);
  EXPECT_EQ((*fpn)->named_parameters().size() + (*fpn)->named_buffers().size(),
            // R101: 1 + (3 + 4 + 23 + 3) * 3 + 4 convs with FrozenBN (5 tensors), 8 FPN convs.
            (1 + 33 * 3 + 4) * 5 + 16u);

  auto retina = BuildBackbone(With({"MODEL.BACKBONE.NAME", "build_retinanet_resnet_fpn_backbone",
                                    "MODEL.RESNETS.OUT_FEATURES", "['res3', 'res4', 'res5']",
                                    "MODEL.FPN.IN_FEATURES", "['res3', 'res4', 'res5']"}));
  ASSERT_TRUE(retina.ok()) << retina.status();
  EXPECT_EQ((*retina)->out_features(), (std::vector<std::string>{"p3", "p4", "p5", "p6", "p7"}));
  EXPECT_EQ((*retina)->named_parameters()["top_block.p6.weight"].sizes(),
            (at::IntArrayRef{256, 2048, 3, 3}));
}

TEST(BuildTest, UnsupportedAndInvalidSettingsAreErrors) {
  EXPECT_EQ(BuildBackbone(With({"MODEL.BACKBONE.NAME", "build_vit_backbone"})).status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(BuildBackbone(With({"MODEL.RESNETS.DEFORM_ON_PER_STAGE",
                                "[False, True, True, True]"}))
                .status()
                .code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_FALSE(BuildBackbone(With({"MODEL.RESNETS.DEPTH", "42"})).ok());
  EXPECT_FALSE(BuildBackbone(With({"MODEL.BACKBONE.NAME", "build_resnet_fpn_backbone",
                                   "MODEL.FPN.IN_FEATURES", "['res2', 'res4']",
                                   "MODEL.RESNETS.OUT_FEATURES", "['res2', 'res4']"}))
                   .ok());  // strides not log2-contiguous
  const std::map<std::string, ShapeSpec> shapes = {{"res4", {1024, 16}}};
  EXPECT_EQ(BuildRpn(With({"MODEL.PROPOSAL_GENERATOR.NAME", "RRPN"}), shapes).status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(BuildRpn(With({"MODEL.RPN.HEAD_NAME", "FooHead"}), shapes).status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_FALSE(BuildRpn(With({"MODEL.RPN.IN_FEATURES", "['p2']"}), shapes).ok());
}

TEST(BuildTest, AnchorSizesPerLevel) {
  auto anchors = AnchorGeneratorOptionsFromConfig(
      With({"MODEL.ANCHOR_GENERATOR.SIZES", "[[32], [64], [128], [256], [512]]",
            "MODEL.ANCHOR_GENERATOR.OFFSET", "0.5"}));
  ASSERT_TRUE(anchors.ok()) << anchors.status();
  EXPECT_EQ(anchors->sizes.size(), 5u);
  EXPECT_EQ(anchors->sizes[4], (std::vector<double>{512}));
  EXPECT_EQ(anchors->aspect_ratios, (std::vector<std::vector<double>>{{0.5, 1.0, 2.0}}));
  EXPECT_DOUBLE_EQ(anchors->offset, 0.5);
  EXPECT_EQ(AnchorGeneratorOptionsFromConfig(
                With({"MODEL.ANCHOR_GENERATOR.NAME", "RotatedAnchorGenerator"}))
                .status()
                .code(),
            absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace d2x::modeling
