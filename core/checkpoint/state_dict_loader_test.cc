// LoadIntoModel: exact loading, missing keys, shape mismatches, FrozenBN fills, matching
// heuristics (suffix matching, ambiguity), the ignored keys, and a full fixture checkpoint.
#include "core/checkpoint/state_dict_loader.h"

#include <ATen/ATen.h>

#include "core/testing/fixtures.h"
#include "gtest/gtest.h"

namespace d2x::checkpoint {
namespace {

using State = std::vector<std::pair<std::string, at::Tensor>>;

Checkpoint MakeCheckpoint(State tensors, bool heuristics = false) {
  Checkpoint ckpt;
  ckpt.path = "test.pth";
  ckpt.format = "pth";
  ckpt.tensors = std::move(tensors);
  ckpt.matching_heuristics = heuristics;
  return ckpt;
}

at::Tensor Full(std::vector<int64_t> shape, float v) { return at::full(shape, v); }

TEST(StateDictLoaderTest, ExactNamesAreCopied) {
  State model = {{"conv.weight", at::zeros({2, 3})}, {"conv.bias", at::zeros({2})}};
  Checkpoint ckpt = MakeCheckpoint({{"conv.weight", Full({2, 3}, 1.5f)}, {"conv.bias", Full({2}, 2)},
                                    {"extra", Full({1}, 0)},
                                    {"anchor_generator.cell_anchors.0", Full({3, 4}, 0)}});
  absl::StatusOr<LoadReport> report = LoadIntoModel(ckpt, model);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->loaded.size(), 2u);
  EXPECT_EQ(report->unexpected, (std::vector<std::string>{"extra"}));  // cell_anchors ignored
  EXPECT_TRUE(at::equal(model[0].second, Full({2, 3}, 1.5f)));
  EXPECT_TRUE(at::equal(model[1].second, Full({2}, 2)));
  EXPECT_NE(report->ToString().find("loaded 2 tensors"), std::string::npos);
}

TEST(StateDictLoaderTest, MissingKeysAreAnErrorAndNothingIsCopied) {
  State model = {{"a.weight", at::zeros({2})}, {"b.weight", at::zeros({2})},
                 {"pixel_mean", at::zeros({3, 1, 1})}, {"pixel_std", at::zeros({3, 1, 1})}};
  Checkpoint ckpt = MakeCheckpoint({{"a.weight", Full({2}, 1)}});
  absl::StatusOr<LoadReport> report = LoadIntoModel(ckpt, model);
  ASSERT_FALSE(report.ok());
  const std::string msg(report.status().message());
  EXPECT_NE(msg.find("test.pth"), std::string::npos) << msg;
  EXPECT_NE(msg.find("b.weight"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("pixel_mean"), std::string::npos) << msg;  // missing pixel_mean/std ignored
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_TRUE(at::equal(model[0].second, at::zeros({2})));  // untouched
}

TEST(StateDictLoaderTest, ShapeMismatchIsSkippedAndReported) {
  // pixel_mean with another shape: skipped and reported, but not fatal (it comes from the config).
  State model = {{"w", at::zeros({2})}, {"pixel_mean", at::zeros({3, 1, 1})}};
  Checkpoint ok = MakeCheckpoint({{"w", Full({2}, 1)}, {"pixel_mean", Full({3}, 100)}});
  absl::StatusOr<LoadReport> report = LoadIntoModel(ok, model);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->shape_mismatch, (std::vector<std::string>{"pixel_mean"}));
  EXPECT_NE(report->ToString().find("pixel_mean: checkpoint [3] vs model [3, 1, 1]"),
            std::string::npos)
      << report->ToString();
  EXPECT_TRUE(at::equal(model[1].second, at::zeros({3, 1, 1})));
  // A weight with the wrong shape leaves the model key missing: an error that says why.
  Checkpoint bad = MakeCheckpoint({{"w", Full({81, 256}, 1)}});
  State model2 = {{"w", at::zeros({11, 256})}};
  report = LoadIntoModel(bad, model2);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("w: checkpoint [81, 256] vs model [11, 256]"),
            std::string::npos)
      << report.status();
}

State FrozenBnModel() {
  return {{"res2.conv1.weight", at::zeros({4, 4, 1, 1})},
          {"res2.conv1.norm.weight", at::zeros({4})},
          {"res2.conv1.norm.bias", at::zeros({4})},
          {"res2.conv1.norm.running_mean", Full({4}, 7)},
          {"res2.conv1.norm.running_var", Full({4}, 1 - 1e-5f)}};
}

TEST(StateDictLoaderTest, FrozenBatchNormFillsMissingRunningStats) {
  State model = FrozenBnModel();
  Checkpoint ckpt = MakeCheckpoint({{"res2.conv1.weight", Full({4, 4, 1, 1}, 1)},
                                    {"res2.conv1.norm.weight", Full({4}, 2)},
                                    {"res2.conv1.norm.bias", Full({4}, 3)}});
  absl::StatusOr<LoadReport> report = LoadIntoModel(ckpt, model);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->filled_default,
            (std::vector<std::string>{"res2.conv1.norm.running_mean", "res2.conv1.norm.running_var"}));
  // running_var becomes exactly 1 (not the constructor's 1 - eps), running_mean 0.
  EXPECT_TRUE(at::equal(model[3].second, at::zeros({4})));
  EXPECT_TRUE(at::equal(model[4].second, at::ones({4})));
  EXPECT_TRUE(at::equal(model[1].second, Full({4}, 2)));
}

TEST(StateDictLoaderTest, NoFillForModulesWithVersionTwoOrLater) {
  // A .pth saved by a FrozenBatchNorm2d of _version 3 without running stats: detectron2 does not
  // fill them, they stay missing — an error in d2x.
  State model = FrozenBnModel();
  Checkpoint ckpt = MakeCheckpoint({{"res2.conv1.weight", Full({4, 4, 1, 1}, 1)},
                                    {"res2.conv1.norm.weight", Full({4}, 2)},
                                    {"res2.conv1.norm.bias", Full({4}, 3)}});
  ckpt.module_versions = std::map<std::string, int64_t>{{"res2.conv1.norm", 3}};
  absl::StatusOr<LoadReport> report = LoadIntoModel(ckpt, model);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("res2.conv1.norm.running_var"), std::string::npos);
  // Version 1 (or none recorded for that module): filled.
  ckpt.module_versions = std::map<std::string, int64_t>{{"res2.conv1.norm", 1}};
  EXPECT_TRUE(LoadIntoModel(ckpt, model).ok());
}

TEST(StateDictLoaderTest, BatchNormGetsNumBatchesTracked) {
  State model = {{"bn.weight", at::zeros({2})}, {"bn.bias", at::zeros({2})},
                 {"bn.running_mean", at::zeros({2})}, {"bn.running_var", at::zeros({2})},
                 {"bn.num_batches_tracked", at::full({}, 5, at::kLong)}};
  Checkpoint ckpt = MakeCheckpoint({{"bn.weight", Full({2}, 1)}, {"bn.bias", Full({2}, 1)},
                                    {"bn.running_mean", Full({2}, 1)},
                                    {"bn.running_var", Full({2}, 1)}});
  absl::StatusOr<LoadReport> report = LoadIntoModel(ckpt, model);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->filled_default, (std::vector<std::string>{"bn.num_batches_tracked"}));
  EXPECT_EQ(model[4].second.item<int64_t>(), 0);
}

TEST(StateDictLoaderTest, MatchingHeuristicsUseTheLongestSuffix) {
  State model = {{"backbone.bottom_up.stem.conv1.weight", at::zeros({2})},
                 {"backbone.bottom_up.res2.0.conv1.weight", at::zeros({3})},
                 {"backbone.bottom_up.res2.0.conv1.norm.weight", at::zeros({3})},
                 {"backbone.bottom_up.res2.0.conv1.norm.bias", at::zeros({3})},
                 {"backbone.bottom_up.res2.0.conv1.norm.running_mean", at::zeros({3})},
                 {"backbone.bottom_up.res2.0.conv1.norm.running_var", at::zeros({3})},
                 {"roi_heads.box_predictor.cls_score.weight", at::zeros({4})}};
  Checkpoint ckpt = MakeCheckpoint({{"stem.conv1.weight", Full({2}, 1)},
                                    {"conv1.weight", Full({3}, 9)},  // shorter suffix: loses
                                    {"res2.0.conv1.weight", Full({3}, 2)},
                                    {"res2.0.conv1.norm.weight", Full({3}, 3)},
                                    {"res2.0.conv1.norm.bias", Full({3}, 4)},
                                    {"cls_score.weight", Full({4}, 5)},
                                    {"fc1000.weight", Full({1}, 0)}},
                                   /*heuristics=*/true);
  // Module versions are dropped by the matching (detectron2 builds a new dict): FrozenBN fills.
  ckpt.module_versions = std::map<std::string, int64_t>{{"res2.0.conv1.norm", 3}};
  absl::StatusOr<LoadReport> report = LoadIntoModel(ckpt, model);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(at::equal(model[0].second, Full({2}, 1)));
  EXPECT_TRUE(at::equal(model[1].second, Full({3}, 2)));
  EXPECT_TRUE(at::equal(model[6].second, Full({4}, 5)));
  EXPECT_EQ(report->matched_from.at("backbone.bottom_up.res2.0.conv1.weight"),
            "res2.0.conv1.weight");
  EXPECT_EQ(report->filled_default.size(), 2u);
  EXPECT_EQ(report->unexpected, (std::vector<std::string>{"conv1.weight", "fc1000.weight"}));
  // Without heuristics the same checkpoint matches nothing.
  ckpt.matching_heuristics = false;
  EXPECT_FALSE(LoadIntoModel(ckpt, model).ok());
}

TEST(StateDictLoaderTest, AmbiguousSuffixMatchIsAnError) {
  State model = {{"a.conv.weight", at::zeros({1})}, {"b.conv.weight", at::zeros({1})}};
  Checkpoint ckpt = MakeCheckpoint({{"conv.weight", Full({1}, 1)}}, /*heuristics=*/true);
  absl::StatusOr<LoadReport> report = LoadIntoModel(ckpt, model);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("ambiguous"), std::string::npos) << report.status();
}

TEST(StateDictLoaderTest, SuffixMustStartAtADot) {
  // "whatever_conv1.weight" does not match "conv1.weight" (detectron2's match()).
  State model = {{"head.whatever_conv1.weight", at::zeros({1})}};
  Checkpoint ckpt = MakeCheckpoint({{"conv1.weight", Full({1}, 1)}}, /*heuristics=*/true);
  EXPECT_FALSE(LoadIntoModel(ckpt, model).ok());
}

TEST(StateDictLoaderTest, FixtureCheckpointLoadsCompletely) {
  absl::StatusOr<std::string> path = d2x::testing::FixturePath("mask_rcnn", "model_final.pth");
  ASSERT_TRUE(path.ok()) << path.status();
  absl::StatusOr<Checkpoint> ckpt = LoadCheckpoint(*path);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  State model;
  for (const auto& [name, tensor] : ckpt->tensors) model.emplace_back(name, at::zeros_like(tensor));
  model.emplace_back("pixel_mean", at::zeros({3, 1, 1}));
  absl::StatusOr<LoadReport> report = LoadIntoModel(*ckpt, model);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->loaded.size(), ckpt->tensors.size());
  EXPECT_TRUE(report->missing.empty());
  EXPECT_TRUE(report->unexpected.empty());
  EXPECT_TRUE(report->filled_default.empty());  // version-3 FrozenBN with running stats
  for (size_t i = 0; i < ckpt->tensors.size(); ++i) {
    ASSERT_TRUE(at::equal(model[i].second, ckpt->tensors[i].second)) << model[i].first;
  }
  // The same weights from the model-zoo .pkl (no module versions, no matching heuristics).
  absl::StatusOr<std::string> pkl = d2x::testing::FixturePath("mask_rcnn", "model_zoo.pkl");
  ASSERT_TRUE(pkl.ok());
  absl::StatusOr<Checkpoint> zoo = LoadCheckpoint(*pkl);
  ASSERT_TRUE(zoo.ok()) << zoo.status();
  report = LoadIntoModel(*zoo, model);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->filled_default.empty());
}

}  // namespace
}  // namespace d2x::checkpoint
