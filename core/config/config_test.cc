#include "core/config/config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "core/config/config_test_util.h"
#include "core/testing/fixtures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// Defaults, the fixture configs, dumps, overrides and typed access. File loading (_BASE_, errors,
// YAML typing, versions) is in config_files_test.cc.
namespace d2x::config {
namespace {

using ::d2x::config::test_util::ExpectOneLine;
using ::d2x::config::test_util::FixtureConfig;
using ::d2x::config::test_util::TempDir;
using ::d2x::config::test_util::WriteFile;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

void ExpectSameYaml(const YAML::Node& expected, const YAML::Node& actual, const std::string& path) {
  ASSERT_EQ(expected.Type(), actual.Type()) << path;
  if (expected.IsScalar()) {
    EXPECT_EQ(expected.Scalar(), actual.Scalar()) << path;
  } else if (expected.IsSequence()) {
    ASSERT_EQ(expected.size(), actual.size()) << path;
    for (size_t k = 0; k < expected.size(); ++k) {
      ExpectSameYaml(expected[k], actual[k], path + "[" + std::to_string(k) + "]");
    }
  } else if (expected.IsMap()) {
    std::vector<std::string> ek, ak;
    for (const auto& kv : expected) ek.push_back(kv.first.Scalar());
    for (const auto& kv : actual) ak.push_back(kv.first.Scalar());
    ASSERT_EQ(ek, ak) << path;
    for (const std::string& k : ek) ExpectSameYaml(expected[k], actual[k], path + "." + k);
  }
}

TEST(ConfigTest, DefaultsAreDetectron2s) {
  Config cfg = Config::Defaults();
  EXPECT_EQ(*cfg.GetInt("VERSION"), 2);
  EXPECT_EQ(*cfg.GetString("MODEL.META_ARCHITECTURE"), "GeneralizedRCNN");
  EXPECT_EQ(*cfg.GetString("MODEL.DEVICE"), "cuda");
  EXPECT_THAT(*cfg.GetFloatList("MODEL.PIXEL_MEAN"), ElementsAre(103.53, 116.28, 123.675));
  EXPECT_THAT(*cfg.GetFloatListList("MODEL.ANCHOR_GENERATOR.SIZES"),
              ElementsAre(ElementsAre(32, 64, 128, 256, 512)));
  EXPECT_THAT(*cfg.GetFloatListList("MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS"),
              ElementsAre(ElementsAre(0.5, 1.0, 2.0)));
  EXPECT_THAT(*cfg.GetIntList("MODEL.ROI_KEYPOINT_HEAD.CONV_DIMS"),
              ElementsAre(512, 512, 512, 512, 512, 512, 512, 512));
  EXPECT_THAT(*cfg.GetFloatList("MODEL.ROI_BOX_HEAD.BBOX_REG_WEIGHTS"),
              ElementsAre(10.0, 10.0, 5.0, 5.0));
  EXPECT_THAT(*cfg.GetStringList("MODEL.RPN.IN_FEATURES"), ElementsAre("res4"));
  EXPECT_THAT(*cfg.GetIntList("INPUT.MIN_SIZE_TRAIN"), ElementsAre(800));
  EXPECT_EQ(*cfg.GetInt("INPUT.MIN_SIZE_TEST"), 800);
  EXPECT_EQ(*cfg.GetFloat("SOLVER.WARMUP_FACTOR"), 1.0 / 1000);
  EXPECT_TRUE(cfg.IsNone("SOLVER.WEIGHT_DECAY_BIAS"));
  EXPECT_TRUE(*cfg.GetBool("MODEL.PANOPTIC_FPN.COMBINE.ENABLED"));
  EXPECT_EQ(*cfg.GetString("MODEL.FPN.NORM"), "");
  EXPECT_EQ(cfg.source(), "");
  EXPECT_EQ(Config::Defaults().Hash(), cfg.Hash());
  // Stable across runs and builds: FNV-1a 64 of ToYaml(). Changes only with the defaults or the
  // dump format.
  EXPECT_EQ(cfg.Hash(), "796f9b5d54d3861b");
}

TEST(ConfigTest, EveryFixtureConfigLoadsAndDumpsLikeDetectron2) {
  for (const std::string& arch : d2x::testing::FixtureArchitectures()) {
    SCOPED_TRACE(arch);
    const std::string path = FixtureConfig(arch);
    absl::StatusOr<Config> cfg = Config::FromFile(path);
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    EXPECT_EQ(cfg->source(), path);
    // Every key of the dump (and no other) with the same value, written the same way.
    ExpectSameYaml(YAML::LoadFile(path), YAML::Load(cfg->ToYaml()), arch);
  }
}

TEST(ConfigTest, FixtureValues) {
  std::map<std::string, Config> cfgs;
  for (const std::string& arch : d2x::testing::FixtureArchitectures()) {
    absl::StatusOr<Config> cfg = Config::FromFile(FixtureConfig(arch));
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    cfgs.emplace(arch, *cfg);
    EXPECT_EQ(*cfg->GetInt("MODEL.RESNETS.STEM_OUT_CHANNELS"), 16) << arch;
    EXPECT_EQ(*cfg->GetInt("MODEL.RESNETS.RES2_OUT_CHANNELS"), 64) << arch;
    EXPECT_EQ(*cfg->GetInt("MODEL.FPN.OUT_CHANNELS"), 64) << arch;
    EXPECT_EQ(*cfg->GetInt("MODEL.ROI_BOX_HEAD.FC_DIM"), 256) << arch;
    EXPECT_EQ(*cfg->GetInt("INPUT.MIN_SIZE_TEST"), 0) << arch;
    EXPECT_EQ(*cfg->GetString("MODEL.DEVICE"), "cpu") << arch;
  }
  EXPECT_EQ(*cfgs.at("faster_rcnn").GetString("MODEL.META_ARCHITECTURE"), "GeneralizedRCNN");
  EXPECT_FALSE(*cfgs.at("faster_rcnn").GetBool("MODEL.MASK_ON"));
  EXPECT_THAT(*cfgs.at("faster_rcnn").GetFloatListList("MODEL.ANCHOR_GENERATOR.SIZES"),
              ElementsAre(ElementsAre(32), ElementsAre(64), ElementsAre(128), ElementsAre(256),
                          ElementsAre(512)));
  EXPECT_THAT(*cfgs.at("faster_rcnn").GetStringList("MODEL.RPN.IN_FEATURES"),
              ElementsAre("p2", "p3", "p4", "p5", "p6"));
  EXPECT_TRUE(*cfgs.at("mask_rcnn").GetBool("MODEL.MASK_ON"));
  EXPECT_EQ(*cfgs.at("mask_rcnn").GetInt("MODEL.ROI_MASK_HEAD.CONV_DIM"), 64);
  EXPECT_EQ(*cfgs.at("mask_rcnn").GetInt("MODEL.ROI_MASK_HEAD.NUM_CONV"), 4);

  const Config& keypoint = cfgs.at("keypoint_rcnn");
  EXPECT_TRUE(*keypoint.GetBool("MODEL.KEYPOINT_ON"));
  EXPECT_EQ(*keypoint.GetInt("MODEL.ROI_HEADS.NUM_CLASSES"), 1);
  EXPECT_THAT(*keypoint.GetIntList("MODEL.ROI_KEYPOINT_HEAD.CONV_DIMS"),
              ElementsAre(64, 64, 64, 64, 64, 64, 64, 64));

  const Config& retinanet = cfgs.at("retinanet");
  EXPECT_EQ(*retinanet.GetString("MODEL.META_ARCHITECTURE"), "RetinaNet");
  absl::StatusOr<std::vector<std::vector<double>>> sizes =
      retinanet.GetFloatListList("MODEL.ANCHOR_GENERATOR.SIZES");
  ASSERT_TRUE(sizes.ok()) << sizes.status();
  ASSERT_EQ(sizes->size(), 5u);
  for (size_t k = 0; k < 5; ++k) {
    const double x = 32 << k;
    EXPECT_THAT((*sizes)[k], ElementsAre(x, x * std::pow(2.0, 1.0 / 3), x * std::pow(2.0, 2.0 / 3)));
  }
  EXPECT_NEAR((*sizes)[0][1], 40.3174, 1e-4);
  EXPECT_NEAR((*sizes)[0][2], 50.7968, 1e-4);
  EXPECT_THAT(*retinanet.GetStringList("MODEL.RETINANET.IN_FEATURES"),
              ElementsAre("p3", "p4", "p5", "p6", "p7"));
  EXPECT_EQ(*retinanet.GetFloat("MODEL.RETINANET.SMOOTH_L1_LOSS_BETA"), 0.0);

  const Config& panoptic = cfgs.at("panoptic_fpn");
  EXPECT_EQ(*panoptic.GetString("MODEL.META_ARCHITECTURE"), "PanopticFPN");
  EXPECT_TRUE(*panoptic.GetBool("MODEL.PANOPTIC_FPN.COMBINE.ENABLED"));
  EXPECT_EQ(*panoptic.GetFloat("MODEL.PANOPTIC_FPN.COMBINE.OVERLAP_THRESH"), 0.5);
  EXPECT_EQ(*panoptic.GetInt("MODEL.PANOPTIC_FPN.COMBINE.STUFF_AREA_LIMIT"), 4096);
  EXPECT_EQ(*panoptic.GetFloat("MODEL.PANOPTIC_FPN.COMBINE.INSTANCES_CONFIDENCE_THRESH"), 0.5);
  EXPECT_EQ(*panoptic.GetFloat("MODEL.PANOPTIC_FPN.INSTANCE_LOSS_WEIGHT"), 1.0);
  EXPECT_EQ(*panoptic.GetFloat("MODEL.SEM_SEG_HEAD.LOSS_WEIGHT"), 0.5);
  EXPECT_EQ(*panoptic.GetInt("MODEL.SEM_SEG_HEAD.CONVS_DIM"), 64);
  EXPECT_EQ(*panoptic.GetInt("MODEL.SEM_SEG_HEAD.NUM_CLASSES"), 54);
}

TEST(ConfigTest, DumpRoundTrips) {
  for (const std::string& arch : d2x::testing::FixtureArchitectures()) {
    SCOPED_TRACE(arch);
    absl::StatusOr<Config> cfg = Config::FromFile(FixtureConfig(arch));
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    const std::string yaml = cfg->ToYaml();
    absl::StatusOr<Config> again = Config::FromYamlString(yaml, "dump.yaml");
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(*again == *cfg);
    EXPECT_EQ(again->ToYaml(), yaml);
    EXPECT_EQ(again->Hash(), cfg->Hash());
    EXPECT_EQ(cfg->Hash().size(), 16u);
    EXPECT_NE(cfg->Hash(), Config::Defaults().Hash());
  }
  Config defaults = Config::Defaults();
  absl::StatusOr<Config> again = Config::FromYamlString(defaults.ToYaml());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(*again == defaults);
}

// The model-zoo files behind the fixtures (same keys and values as detectron2's configs/), merged
// like detectron2 does, give exactly the fixture configs: checks every default and the merge rules.
TEST(ConfigTest, ZooStyleFilesReproduceTheFixtureConfigs) {
  const std::string zoo = TempDir("zoo");
  WriteFile(zoo + "/Base-RCNN-FPN.yaml", R"(
MODEL:
  META_ARCHITECTURE: "GeneralizedRCNN"
  BACKBONE: {NAME: "build_resnet_fpn_backbone"}
  RESNETS: {OUT_FEATURES: ["res2", "res3", "res4", "res5"]}
  FPN: {IN_FEATURES: ["res2", "res3", "res4", "res5"]}
  ANCHOR_GENERATOR:
    SIZES: [[32], [64], [128], [256], [512]]  # One size per feature map
    ASPECT_RATIOS: [[0.5, 1.0, 2.0]]
  RPN:
    IN_FEATURES: ["p2", "p3", "p4", "p5", "p6"]
    PRE_NMS_TOPK_TRAIN: 2000
    PRE_NMS_TOPK_TEST: 1000
    POST_NMS_TOPK_TRAIN: 1000
    POST_NMS_TOPK_TEST: 1000
  ROI_HEADS: {NAME: "StandardROIHeads", IN_FEATURES: ["p2", "p3", "p4", "p5"]}
  ROI_BOX_HEAD: {NAME: "FastRCNNConvFCHead", NUM_FC: 2, POOLER_RESOLUTION: 7}
  ROI_MASK_HEAD: {NAME: "MaskRCNNConvUpsampleHead", NUM_CONV: 4, POOLER_RESOLUTION: 14}
DATASETS:
  TRAIN: ("coco_2017_train",)
  TEST: ("coco_2017_val",)
SOLVER:
  IMS_PER_BATCH: 16
  BASE_LR: 0.02
  STEPS: (60000, 80000)
  MAX_ITER: 90000
INPUT:
  MIN_SIZE_TRAIN: (640, 672, 704, 736, 768, 800)
VERSION: 2
)");
  WriteFile(zoo + "/Base-RetinaNet.yaml", R"(
MODEL:
  META_ARCHITECTURE: "RetinaNet"
  BACKBONE: {NAME: "build_retinanet_resnet_fpn_backbone"}
  RESNETS: {OUT_FEATURES: ["res3", "res4", "res5"]}
  ANCHOR_GENERATOR:
    SIZES: !!python/object/apply:eval ["[[x, x * 2**(1.0/3), x * 2**(2.0/3) ] for x in [32, 64, 128, 256, 512 ]]"]
  FPN: {IN_FEATURES: ["res3", "res4", "res5"]}
  RETINANET: {IOU_THRESHOLDS: [0.4, 0.5], IOU_LABELS: [0, -1, 1], SMOOTH_L1_LOSS_BETA: 0.0}
DATASETS:
  TRAIN: ("coco_2017_train",)
  TEST: ("coco_2017_val",)
SOLVER:
  IMS_PER_BATCH: 16
  BASE_LR: 0.01  # RetinaNet's learning rate
  STEPS: (60000, 80000)
  MAX_ITER: 90000
INPUT:
  MIN_SIZE_TRAIN: (640, 672, 704, 736, 768, 800)
VERSION: 2
)");
  const std::string schedule = R"(
  WEIGHTS: "detectron2://ImageNetPretrained/MSRA/R-50.pkl"
  RESNETS: {DEPTH: 50}
SOLVER:
  STEPS: (210000, 250000)
  MAX_ITER: 270000
)";
  WriteFile(zoo + "/COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml",
            "_BASE_: \"../Base-RCNN-FPN.yaml\"\nMODEL:\n  MASK_ON: False" + schedule);
  WriteFile(zoo + "/COCO-Detection/retinanet_R_50_FPN_3x.yaml",
            "_BASE_: \"../Base-RetinaNet.yaml\"\nMODEL:" + schedule);
  WriteFile(zoo + "/COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml",
            "_BASE_: \"../Base-RCNN-FPN.yaml\"\nMODEL:\n  MASK_ON: True" + schedule);
  WriteFile(zoo + "/COCO-Keypoints/Base-Keypoint-RCNN-FPN.yaml", R"(
_BASE_: "../Base-RCNN-FPN.yaml"
MODEL:
  KEYPOINT_ON: True
  ROI_HEADS: {NUM_CLASSES: 1}
  ROI_BOX_HEAD: {SMOOTH_L1_BETA: 0.5}
  RPN: {POST_NMS_TOPK_TRAIN: 1500}
DATASETS:
  TRAIN: ("keypoints_coco_2017_train",)
  TEST: ("keypoints_coco_2017_val",)
)");
  WriteFile(zoo + "/COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x.yaml",
            "_BASE_: \"Base-Keypoint-RCNN-FPN.yaml\"\nMODEL:" + schedule);
  WriteFile(zoo + "/COCO-PanopticSegmentation/Base-Panoptic-FPN.yaml", R"(
_BASE_: "../Base-RCNN-FPN.yaml"
MODEL:
  META_ARCHITECTURE: "PanopticFPN"
  MASK_ON: True
  SEM_SEG_HEAD: {LOSS_WEIGHT: 0.5}
DATASETS:
  TRAIN: ("coco_2017_train_panoptic_separated",)
  TEST: ("coco_2017_val_panoptic_separated",)
DATALOADER: {FILTER_EMPTY_ANNOTATIONS: False}
)");
  WriteFile(zoo + "/COCO-PanopticSegmentation/panoptic_fpn_R_50_3x.yaml",
            "_BASE_: \"Base-Panoptic-FPN.yaml\"\nMODEL:" + schedule);

  // manifest.json meta.overrides, plus the device and weights the fixture models were run with.
  const std::vector<std::string> overrides = {
      "MODEL.RESNETS.STEM_OUT_CHANNELS", "16", "MODEL.RESNETS.RES2_OUT_CHANNELS", "64",
      "MODEL.RESNETS.WIDTH_PER_GROUP", "16", "MODEL.FPN.OUT_CHANNELS", "64",
      "MODEL.ROI_BOX_HEAD.FC_DIM", "256", "MODEL.ROI_MASK_HEAD.CONV_DIM", "64",
      "MODEL.ROI_KEYPOINT_HEAD.CONV_DIMS", "(64, 64, 64, 64, 64, 64, 64, 64)",
      "MODEL.SEM_SEG_HEAD.CONVS_DIM", "64", "INPUT.MIN_SIZE_TEST", "0",
      "MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", "''"};
  const std::map<std::string, std::string> zoo_files = {
      {"faster_rcnn", "COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml"},
      {"mask_rcnn", "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml"},
      {"keypoint_rcnn", "COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x.yaml"},
      {"retinanet", "COCO-Detection/retinanet_R_50_FPN_3x.yaml"},
      {"panoptic_fpn", "COCO-PanopticSegmentation/panoptic_fpn_R_50_3x.yaml"}};
  for (const std::string& arch : d2x::testing::FixtureArchitectures()) {
    SCOPED_TRACE(arch);
    absl::StatusOr<Config> built = Config::FromFile(zoo + "/" + zoo_files.at(arch), overrides);
    ASSERT_TRUE(built.ok()) << built.status();
    absl::StatusOr<Config> fixture = Config::FromFile(FixtureConfig(arch));
    ASSERT_TRUE(fixture.ok()) << fixture.status();
    EXPECT_EQ(built->ToYaml(), fixture->ToYaml());
    EXPECT_TRUE(*built == *fixture);
  }
}

TEST(ConfigTest, MergeFromListOverrides) {
  Config cfg = Config::Defaults();
  ASSERT_TRUE(cfg.MergeFromList({
      "MODEL.ROI_HEADS.NUM_CLASSES", "3",
      "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.5",
      "MODEL.MASK_ON", "True",
      "MODEL.DEVICE", "cpu",                                  // not a literal: a string
      "MODEL.WEIGHTS", "'/path/with spaces/model.pth'",      // a quoted Python string
      "MODEL.PIXEL_STD", "[57.375, 57.12, 58.395]",
      "MODEL.ROI_KEYPOINT_HEAD.CONV_DIMS", "(64, 64)",
      "INPUT.MIN_SIZE_TRAIN", "[640, 800]",                   // list into a tuple
      "MODEL.RPN.IN_FEATURES", "('p2', 'p3')",                // tuple into a list
      "MODEL.ANCHOR_GENERATOR.SIZES", "[[32], [64]]",
      "SOLVER.WEIGHT_DECAY_BIAS", "0.0",                      // replaces None
      "MODEL.FPN.NORM", "GN",
      "DATASETS.TEST", "('coco_2017_val',)",
  }).ok());
  EXPECT_EQ(*cfg.GetInt("MODEL.ROI_HEADS.NUM_CLASSES"), 3);
  EXPECT_EQ(*cfg.GetFloat("MODEL.ROI_HEADS.SCORE_THRESH_TEST"), 0.5);
  EXPECT_TRUE(*cfg.GetBool("MODEL.MASK_ON"));
  EXPECT_EQ(*cfg.GetString("MODEL.DEVICE"), "cpu");
  EXPECT_EQ(*cfg.GetString("MODEL.WEIGHTS"), "/path/with spaces/model.pth");
  EXPECT_THAT(*cfg.GetFloatList("MODEL.PIXEL_STD"), ElementsAre(57.375, 57.12, 58.395));
  EXPECT_THAT(*cfg.GetIntList("MODEL.ROI_KEYPOINT_HEAD.CONV_DIMS"), ElementsAre(64, 64));
  EXPECT_THAT(*cfg.GetIntList("INPUT.MIN_SIZE_TRAIN"), ElementsAre(640, 800));
  EXPECT_THAT(*cfg.GetStringList("MODEL.RPN.IN_FEATURES"), ElementsAre("p2", "p3"));
  EXPECT_THAT(*cfg.GetFloatListList("MODEL.ANCHOR_GENERATOR.SIZES"),
              ElementsAre(ElementsAre(32), ElementsAre(64)));
  EXPECT_EQ(*cfg.GetFloat("SOLVER.WEIGHT_DECAY_BIAS"), 0.0);
  EXPECT_EQ(*cfg.GetString("MODEL.FPN.NORM"), "GN");
  EXPECT_THAT(*cfg.GetStringList("DATASETS.TEST"), ElementsAre("coco_2017_val"));
  // Tuples are dumped as lists, as detectron2 does.
  EXPECT_THAT(cfg.ToYaml(), HasSubstr("  CONV_DIMS:\n    - 64\n    - 64\n"));
  // None replaces anything but a node.
  ASSERT_TRUE(cfg.MergeFromList({"MODEL.WEIGHTS", "None"}).ok());
  EXPECT_TRUE(cfg.IsNone("MODEL.WEIGHTS"));
  EXPECT_FALSE(cfg.GetString("MODEL.WEIGHTS").ok());
  // Options given to FromFile apply after the file.
  absl::StatusOr<Config> from_file =
      Config::FromFile(FixtureConfig("mask_rcnn"), {"MODEL.ROI_HEADS.NUM_CLASSES", "5"});
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(*from_file->GetInt("MODEL.ROI_HEADS.NUM_CLASSES"), 5);
}

TEST(ConfigTest, MergeFromListErrors) {
  Config cfg = Config::Defaults();
  const std::string before = cfg.ToYaml();

  absl::Status odd = cfg.MergeFromList({"MODEL.DEVICE", "cpu", "MODEL.MASK_ON"});
  EXPECT_EQ(odd.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(odd.message(), AllOf(HasSubstr("pairs"), HasSubstr("MODEL.MASK_ON")));

  absl::Status unknown = cfg.MergeFromList({"MODEL.ROI_HEADS.NUM_CLASES", "3"});
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.message(), AllOf(HasSubstr("'MODEL.ROI_HEADS.NUM_CLASES'"),
                                       HasSubstr("did you mean 'MODEL.ROI_HEADS.NUM_CLASSES'")));
  absl::Status unknown_parent = cfg.MergeFromList({"MODEL.ROI_HEAD.NUM_CLASSES", "3"});
  EXPECT_THAT(unknown_parent.message(), HasSubstr("did you mean 'MODEL.ROI_HEADS.NUM_CLASSES'"));
  absl::Status below_leaf = cfg.MergeFromList({"MODEL.DEVICE.X", "3"});
  EXPECT_THAT(below_leaf.message(), HasSubstr("unknown config key 'MODEL.DEVICE.X'"));

  absl::Status mismatch = cfg.MergeFromList({"MODEL.ROI_HEADS.NUM_CLASSES", "three"});
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatch.message(), AllOf(HasSubstr("MODEL.ROI_HEADS.NUM_CLASSES"),
                                        HasSubstr("expected int"), HasSubstr("got str 'three'")));
  // yacs does not convert int to float or bool to int.
  EXPECT_THAT(cfg.MergeFromList({"SOLVER.BASE_LR", "1"}).message(),
              AllOf(HasSubstr("SOLVER.BASE_LR"), HasSubstr("expected float"), HasSubstr("got int")));
  EXPECT_THAT(cfg.MergeFromList({"MODEL.ROI_HEADS.NUM_CLASSES", "True"}).message(),
              HasSubstr("got bool"));
  EXPECT_THAT(cfg.MergeFromList({"MODEL.MASK_ON", "true"}).message(),
              AllOf(HasSubstr("expected bool"), HasSubstr("True or False")));
  EXPECT_THAT(cfg.MergeFromList({"MODEL.ROI_HEADS", "3"}).message(),
              HasSubstr("config node"));
  EXPECT_THAT(cfg.MergeFromList({"_BASE_", "x.yaml"}).message(), HasSubstr("_BASE_"));
  EXPECT_THAT(cfg.MergeFromList({"MODEL.ROI_HEADS.NUM_CLASSES", "{1: 2}"}).message(),
              HasSubstr("dict"));
  EXPECT_THAT(cfg.MergeFromList({"MODEL.ROI_HEADS.NUM_CLASSES", "123456789012345678901234"})
                  .message(),
              HasSubstr("64 bits"));

  // A failed merge changes nothing, even when earlier pairs were fine.
  EXPECT_FALSE(cfg.MergeFromList({"MODEL.DEVICE", "cpu", "MODEL.NOPE", "1"}).ok());
  EXPECT_EQ(cfg.ToYaml(), before);
  for (const absl::Status& s : {odd, unknown, unknown_parent, below_leaf, mismatch}) {
    ExpectOneLine(s);
  }
}

TEST(ConfigTest, GettersCheckTypesAndKeys) {
  Config cfg = Config::Defaults();
  EXPECT_TRUE(cfg.Has("MODEL.ROI_HEADS"));
  EXPECT_TRUE(cfg.Has("MODEL.ROI_HEADS.NUM_CLASSES"));
  EXPECT_FALSE(cfg.Has("MODEL.ROI_HEADS.NUM_CLASES"));
  EXPECT_FALSE(cfg.Has(""));
  EXPECT_EQ(*cfg.GetFloat("MODEL.ROI_HEADS.NUM_CLASSES"), 80.0);  // ints are floats

  absl::StatusOr<int64_t> missing = cfg.GetInt("MODEL.ROI_HEADS.NUM_CLASES");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("did you mean 'MODEL.ROI_HEADS.NUM_CLASSES'"));

  absl::StatusOr<int64_t> wrong = cfg.GetInt("MODEL.DEVICE");
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.status().message(),
              AllOf(HasSubstr("MODEL.DEVICE"), HasSubstr("expected int"), HasSubstr("str")));
  EXPECT_THAT(cfg.GetBool("MODEL.ROI_HEADS.NUM_CLASSES").status().message(),
              HasSubstr("expected bool"));
  EXPECT_THAT(cfg.GetInt("MODEL.MASK_ON").status().message(), HasSubstr("got bool"));
  EXPECT_THAT(cfg.GetString("MODEL.ROI_HEADS").status().message(), HasSubstr("CfgNode"));
  EXPECT_FALSE(cfg.GetIntList("MODEL.PIXEL_MEAN").ok());  // floats
  EXPECT_FALSE(cfg.GetStringList("MODEL.PIXEL_MEAN").ok());
  EXPECT_FALSE(cfg.GetFloatList("MODEL.DEVICE").ok());
  EXPECT_FALSE(cfg.GetFloatListList("MODEL.PIXEL_MEAN").ok());
  EXPECT_THAT(*cfg.GetFloatListList("MODEL.ANCHOR_GENERATOR.ANGLES"),
              ElementsAre(ElementsAre(-90, 0, 90)));
  EXPECT_THAT(*cfg.GetFloatListList("MODEL.ROI_BOX_CASCADE_HEAD.BBOX_REG_WEIGHTS"),
              ElementsAre(ElementsAre(10, 10, 5, 5), ElementsAre(20, 20, 10, 10),
                          ElementsAre(30, 30, 15, 15)));
  EXPECT_THAT(*cfg.GetStringList("DATASETS.TRAIN"), ::testing::IsEmpty());
}

TEST(ConfigTest, CopiesAreIndependent) {
  Config a;
  EXPECT_TRUE(a == Config::Defaults());
  Config b = a;
  ASSERT_TRUE(b.MergeFromList({"MODEL.DEVICE", "cpu"}).ok());
  EXPECT_EQ(*a.GetString("MODEL.DEVICE"), "cuda");
  EXPECT_EQ(*b.GetString("MODEL.DEVICE"), "cpu");
  EXPECT_TRUE(a != b);
  EXPECT_NE(a.Hash(), b.Hash());
  EXPECT_EQ(*Config::Defaults().GetString("MODEL.DEVICE"), "cuda");
  EXPECT_THAT(b.ToYaml(), AllOf(HasSubstr("\n  DEVICE: cpu\n"), Not(HasSubstr("cuda"))));
}

}  // namespace
}  // namespace d2x::config
