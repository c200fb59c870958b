#include <string>

#include "core/config/config.h"
#include "core/config/config_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// Loading files: _BASE_ inheritance and cycles, error messages, PyYAML typing, old VERSIONs.
namespace d2x::config {
namespace {

using ::d2x::config::test_util::ExpectOneLine;
using ::d2x::config::test_util::TempDir;
using ::d2x::config::test_util::WriteFile;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ConfigTest, BaseInheritanceWithRelativePaths) {
  const std::string dir = TempDir("bases");
  WriteFile(dir + "/Base-Common.yaml", R"(
MODEL:
  RESNETS: {DEPTH: 101, OUT_FEATURES: [res2, res3]}
  ROI_HEADS: {NUM_CLASSES: 10, SCORE_THRESH_TEST: 0.3}
SOLVER: {BASE_LR: 0.5}
)");
  WriteFile(dir + "/Base-Other.yaml", "MODEL:\n  ROI_HEADS: {NUM_CLASSES: 20}\n  MASK_ON: true\n");
  WriteFile(dir + "/sub/Base-Middle.yaml",
            "_BASE_: ../Base-Common.yaml\nMODEL:\n  RESNETS: {DEPTH: 50}\n  DEVICE: cpu\n");
  WriteFile(dir + "/sub/deeper/child.yaml",
            "_BASE_: \"../Base-Middle.yaml\"\nMODEL:\n  ROI_HEADS:\n    NUM_CLASSES: 3\n");
  WriteFile(dir + "/sub/multi.yaml",
            "_BASE_: [../Base-Common.yaml, ../Base-Other.yaml]\nSOLVER: {BASE_LR: 0.25}\n");

  absl::StatusOr<Config> child = Config::FromFile(dir + "/sub/deeper/child.yaml");
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(*child->GetInt("MODEL.ROI_HEADS.NUM_CLASSES"), 3);        // child
  EXPECT_EQ(*child->GetInt("MODEL.RESNETS.DEPTH"), 50);              // middle over common
  EXPECT_THAT(*child->GetStringList("MODEL.RESNETS.OUT_FEATURES"),   // common, merged per key
              ElementsAre("res2", "res3"));
  EXPECT_EQ(*child->GetFloat("MODEL.ROI_HEADS.SCORE_THRESH_TEST"), 0.3);
  EXPECT_EQ(*child->GetString("MODEL.DEVICE"), "cpu");
  EXPECT_EQ(*child->GetFloat("SOLVER.BASE_LR"), 0.5);
  EXPECT_EQ(*child->GetInt("MODEL.FPN.OUT_CHANNELS"), 256);          // default
  EXPECT_FALSE(child->Has("_BASE_"));

  absl::StatusOr<Config> multi = Config::FromFile(dir + "/sub/multi.yaml");
  ASSERT_TRUE(multi.ok()) << multi.status();
  EXPECT_EQ(*multi->GetInt("MODEL.ROI_HEADS.NUM_CLASSES"), 20);  // later base wins
  EXPECT_EQ(*multi->GetInt("MODEL.RESNETS.DEPTH"), 101);
  EXPECT_TRUE(*multi->GetBool("MODEL.MASK_ON"));
  EXPECT_EQ(*multi->GetFloat("SOLVER.BASE_LR"), 0.25);

  // FromYamlString resolves relative bases against the directory of `name`.
  absl::StatusOr<Config> text = Config::FromYamlString(
      "_BASE_: Base-Common.yaml\nMODEL: {ROI_HEADS: {NUM_CLASSES: 7}}\n", dir + "/virtual.yaml");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text->GetInt("MODEL.ROI_HEADS.NUM_CLASSES"), 7);
  EXPECT_EQ(*text->GetInt("MODEL.RESNETS.DEPTH"), 101);

  // A mapping over a base's non-mapping value.
  WriteFile(dir + "/bad-inherit.yaml", "_BASE_: Base-Common.yaml\nSOLVER:\n  BASE_LR: {X: 1}\n");
  absl::StatusOr<Config> bad = Config::FromFile(dir + "/bad-inherit.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), AllOf(HasSubstr("bad-inherit.yaml"),
                                            HasSubstr("SOLVER.BASE_LR"), HasSubstr("inherit")));
  ExpectOneLine(bad.status());

  // A missing base names the including file and the base.
  WriteFile(dir + "/missing-base.yaml", "_BASE_: nowhere/Base.yaml\n");
  absl::StatusOr<Config> missing = Config::FromFile(dir + "/missing-base.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(),
              AllOf(HasSubstr("missing-base.yaml:1"), HasSubstr("nowhere/Base.yaml")));
}

TEST(ConfigTest, BaseCyclesAreErrorsNamingTheFiles) {
  const std::string dir = TempDir("cycle");
  WriteFile(dir + "/a.yaml", "_BASE_: b.yaml\nMODEL: {DEVICE: cpu}\n");
  WriteFile(dir + "/b.yaml", "_BASE_: sub/../c.yaml\n");
  WriteFile(dir + "/c.yaml", "_BASE_: ./a.yaml\n");
  WriteFile(dir + "/self.yaml", "_BASE_: self.yaml\n");
  absl::StatusOr<Config> cfg = Config::FromFile(dir + "/a.yaml");
  ASSERT_FALSE(cfg.ok());
  EXPECT_THAT(cfg.status().message(),
              AllOf(HasSubstr("cycle"), HasSubstr("a.yaml"), HasSubstr("b.yaml"),
                    HasSubstr("c.yaml")));
  ExpectOneLine(cfg.status());
  absl::StatusOr<Config> self = Config::FromFile(dir + "/self.yaml");
  ASSERT_FALSE(self.ok());
  EXPECT_THAT(self.status().message(), AllOf(HasSubstr("cycle"), HasSubstr("self.yaml")));
  // A diamond is not a cycle.
  WriteFile(dir + "/d1.yaml", "_BASE_: common.yaml\n");
  WriteFile(dir + "/d2.yaml", "_BASE_: common.yaml\n");
  WriteFile(dir + "/common.yaml", "MODEL: {DEVICE: cpu}\n");
  WriteFile(dir + "/diamond.yaml", "_BASE_: [d1.yaml, d2.yaml]\n");
  absl::StatusOr<Config> diamond = Config::FromFile(dir + "/diamond.yaml");
  ASSERT_TRUE(diamond.ok()) << diamond.status();
  EXPECT_EQ(*diamond->GetString("MODEL.DEVICE"), "cpu");
}

TEST(ConfigTest, FileErrorsNameTheFileAndLine) {
  const std::string dir = TempDir("errors");
  WriteFile(dir + "/syntax.yaml", "MODEL:\n  DEVICE: cpu\n  PIXEL_MEAN: [1.0, 2.0\nINPUT: {}\n");
  absl::StatusOr<Config> syntax = Config::FromFile(dir + "/syntax.yaml");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(syntax.status().message(), AllOf(HasSubstr("syntax.yaml:"), HasSubstr("YAML")));
  ExpectOneLine(syntax.status());

  absl::StatusOr<Config> missing = Config::FromFile(dir + "/does-not-exist.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("does-not-exist.yaml"));

  absl::StatusOr<Config> directory = Config::FromFile(dir);
  ASSERT_FALSE(directory.ok());
  EXPECT_THAT(directory.status().message(), HasSubstr("not a regular file"));

  WriteFile(dir + "/unknown.yaml", "MODEL:\n  DEVICE: cpu\n  ROI_HEADS:\n    NUM_CLASES: 3\n");
  absl::StatusOr<Config> unknown = Config::FromFile(dir + "/unknown.yaml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(),
              AllOf(HasSubstr("unknown.yaml:4"), HasSubstr("'MODEL.ROI_HEADS.NUM_CLASES'"),
                    HasSubstr("did you mean 'MODEL.ROI_HEADS.NUM_CLASSES'")));

  WriteFile(dir + "/mismatch.yaml", "MODEL:\n  ROI_HEADS:\n    NUM_CLASSES: many\n");
  absl::StatusOr<Config> mismatch = Config::FromFile(dir + "/mismatch.yaml");
  ASSERT_FALSE(mismatch.ok());
  EXPECT_THAT(mismatch.status().message(),
              AllOf(HasSubstr("mismatch.yaml:3"), HasSubstr("MODEL.ROI_HEADS.NUM_CLASSES"),
                    HasSubstr("expected int"), HasSubstr("'many'")));

  WriteFile(dir + "/eval.yaml",
            "MODEL:\n  ANCHOR_GENERATOR:\n    SIZES: !!python/object/apply:eval "
            "[\"__import__('os').system('true')\"]\n");
  absl::StatusOr<Config> eval = Config::FromFile(dir + "/eval.yaml");
  ASSERT_FALSE(eval.ok());
  EXPECT_THAT(eval.status().message(),
              AllOf(HasSubstr("eval.yaml:3"), HasSubstr("apply:eval"), HasSubstr("not supported")));

  WriteFile(dir + "/tag.yaml", "MODEL: !!python/object/apply:os.system [\"true\"]\n");
  absl::StatusOr<Config> tag = Config::FromFile(dir + "/tag.yaml");
  ASSERT_FALSE(tag.ok());
  EXPECT_THAT(tag.status().message(), AllOf(HasSubstr("tag.yaml:1"), HasSubstr("unsupported")));

  WriteFile(dir + "/list.yaml", "- MODEL\n");
  EXPECT_THAT(Config::FromFile(dir + "/list.yaml").status().message(), HasSubstr("mapping"));
  WriteFile(dir + "/none-node.yaml", "MODEL:\n");
  EXPECT_THAT(Config::FromFile(dir + "/none-node.yaml").status().message(),
              AllOf(HasSubstr("none-node.yaml:1"), HasSubstr("config node")));
  WriteFile(dir + "/version.yaml", "VERSION: 3\n");
  EXPECT_THAT(Config::FromFile(dir + "/version.yaml").status().message(), HasSubstr("v3"));

  // An empty file is an empty mapping.
  WriteFile(dir + "/empty.yaml", "# nothing here\n");
  absl::StatusOr<Config> empty = Config::FromFile(dir + "/empty.yaml");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(*empty == Config::Defaults());

  for (const absl::StatusOr<Config>* s : {&syntax, &missing, &unknown, &mismatch, &eval, &tag}) {
    ExpectOneLine(s->status());
  }
}

TEST(ConfigTest, FailedMergeFromFileLeavesConfigUnchanged) {
  const std::string dir = TempDir("atomic");
  WriteFile(dir + "/partial.yaml", "MODEL:\n  DEVICE: cpu\n  ZZZ: 1\n");
  Config cfg = Config::Defaults();
  EXPECT_FALSE(cfg.MergeFromFile(dir + "/partial.yaml").ok());
  EXPECT_EQ(*cfg.GetString("MODEL.DEVICE"), "cuda");
  EXPECT_EQ(cfg.source(), "");
}

TEST(ConfigTest, YamlValuesAreTypedLikePyYamlThenLiteralEvaluated) {
  absl::StatusOr<Config> cfg = Config::FromYamlString(R"(
MODEL:
  MASK_ON: yes                      # YAML 1.1 bool
  DEVICE: "cpu"
  WEIGHTS: detectron2://ImageNetPretrained/MSRA/R-50.pkl
  PIXEL_STD: [57.375, 57.120, 58.395]
  ROI_HEADS:
    NUM_CLASSES: "7"                # quoted, then literal_eval'd to an int, as yacs does
    SCORE_THRESH_TEST: 1.0e-2
    NMS_THRESH_TEST: 5e-1           # a str for YAML 1.1, a float after literal_eval
  RPN:
    BBOX_REG_WEIGHTS: !!python/tuple [2.0, 2.0, 1.0, 1.0]
  ROI_KEYPOINT_HEAD:
    CONV_DIMS: (256, 256)
  RETINANET:
    TOPK_CANDIDATES_TEST: 1_000
SOLVER:
  STEPS: (210000, 250000)
  WEIGHT_DECAY_BIAS: ~
)", "typed.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_TRUE(*cfg->GetBool("MODEL.MASK_ON"));
  EXPECT_EQ(*cfg->GetString("MODEL.DEVICE"), "cpu");
  EXPECT_EQ(*cfg->GetString("MODEL.WEIGHTS"), "detectron2://ImageNetPretrained/MSRA/R-50.pkl");
  EXPECT_EQ(*cfg->GetInt("MODEL.ROI_HEADS.NUM_CLASSES"), 7);
  EXPECT_EQ(*cfg->GetFloat("MODEL.ROI_HEADS.SCORE_THRESH_TEST"), 0.01);
  EXPECT_EQ(*cfg->GetFloat("MODEL.ROI_HEADS.NMS_THRESH_TEST"), 0.5);
  EXPECT_THAT(*cfg->GetFloatList("MODEL.RPN.BBOX_REG_WEIGHTS"), ElementsAre(2, 2, 1, 1));
  EXPECT_THAT(*cfg->GetIntList("MODEL.ROI_KEYPOINT_HEAD.CONV_DIMS"), ElementsAre(256, 256));
  EXPECT_EQ(*cfg->GetInt("MODEL.RETINANET.TOPK_CANDIDATES_TEST"), 1000);
  EXPECT_THAT(*cfg->GetIntList("SOLVER.STEPS"), ElementsAre(210000, 250000));
  EXPECT_TRUE(cfg->IsNone("SOLVER.WEIGHT_DECAY_BIAS"));
  EXPECT_EQ(cfg->source(), "typed.yaml");
}

TEST(ConfigTest, OldVersionsAreUpgradedLikeDetectron2) {
  // No VERSION but MODEL.WEIGHT: detectron2 guesses v1 and renames the keys.
  absl::StatusOr<Config> v1 = Config::FromYamlString(R"(
MODEL:
  WEIGHT: old.pkl
  RPN: {ANCHOR_SIZES: [[16], [32]]}
  ROI_HEADS: {SCORE_THRESH: 0.25}
TEST: {DETECTIONS_PER_IMG: 50, AUG_ON: true}
)", "v1.yaml");
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(*v1->GetInt("VERSION"), 2);
  EXPECT_EQ(*v1->GetString("MODEL.WEIGHTS"), "old.pkl");
  EXPECT_THAT(*v1->GetFloatListList("MODEL.ANCHOR_GENERATOR.SIZES"),
              ElementsAre(ElementsAre(16), ElementsAre(32)));
  EXPECT_EQ(*v1->GetFloat("MODEL.ROI_HEADS.SCORE_THRESH_TEST"), 0.25);
  EXPECT_EQ(*v1->GetInt("TEST.DETECTIONS_PER_IMAGE"), 50);
  EXPECT_TRUE(*v1->GetBool("TEST.AUG.ENABLED"));
  EXPECT_FALSE(v1->Has("MODEL.WEIGHT"));
  EXPECT_FALSE(v1->Has("MODEL.RPN.ANCHOR_SIZES"));
  EXPECT_FALSE(v1->Has("MODEL.RETINANET.ANCHOR_STRIDES"));
  // Same keys as the defaults after the upgrade.
  absl::StatusOr<Config> defaults_again =
      Config::FromYamlString(Config::Defaults().ToYaml(), "d.yaml");
  ASSERT_TRUE(defaults_again.ok());
  absl::StatusOr<Config> v1_reloaded = Config::FromYamlString(v1->ToYaml(), "v1-dump.yaml");
  EXPECT_TRUE(v1_reloaded.ok()) << v1_reloaded.status();

  // RetinaNet takes its anchors from the RETINANET keys.
  absl::StatusOr<Config> retina = Config::FromYamlString(R"(
VERSION: 1
MODEL:
  META_ARCHITECTURE: RetinaNet
  RETINANET: {ANCHOR_SIZES: [[8, 9]], INFERENCE_TOPK_CANDIDATES: 10}
)", "v1-retina.yaml");
  ASSERT_TRUE(retina.ok()) << retina.status();
  EXPECT_THAT(*retina->GetFloatListList("MODEL.ANCHOR_GENERATOR.SIZES"),
              ElementsAre(ElementsAre(8, 9)));
  EXPECT_EQ(*retina->GetInt("MODEL.RETINANET.TOPK_CANDIDATES_TEST"), 10);
  // v0 (ConverterV1's rename as well).
  absl::StatusOr<Config> v0 =
      Config::FromYamlString("VERSION: 0\nMODEL: {RPN_HEAD: {NAME: MyHead}, WEIGHT: w.pkl}\n");
  ASSERT_TRUE(v0.ok()) << v0.status();
  EXPECT_EQ(*v0->GetString("MODEL.RPN.HEAD_NAME"), "MyHead");
  EXPECT_EQ(*v0->GetString("MODEL.WEIGHTS"), "w.pkl");
  EXPECT_FALSE(v0->Has("MODEL.RPN_HEAD"));
  EXPECT_EQ(v0->ToYaml(), Config::FromYamlString(
      "MODEL: {RPN: {HEAD_NAME: MyHead}, WEIGHTS: w.pkl}\n")->ToYaml());
  // New key names are unknown in a v1 file.
  EXPECT_FALSE(Config::FromYamlString("VERSION: 1\nMODEL: {WEIGHTS: x}\n").ok());
}

}  // namespace
}  // namespace d2x::config
