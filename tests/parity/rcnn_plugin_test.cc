// The shipped plugin, libd2x_rcnn.so, loaded with dlopen into a host that links the core once
// (-rdynamic), as the d2x binary does: it registers "GeneralizedRCNN", and the model it builds
// from the fixtures' config and weights reproduces detectron2's detections.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "core/checkpoint/checkpoint.h"
#include "core/checkpoint/state_dict_loader.h"
#include "core/config/config.h"
#include "core/io/image.h"
#include "core/model.h"
#include "core/plugin/loader.h"
#include "core/plugin/registry.h"
#include "core/testing/fixtures.h"
#include "tests/parity/detection_match.h"
#include "tests/parity/parity_util.h"

namespace d2x::parity {
namespace {

std::string PluginPath() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return std::string(srcdir ? srcdir : ".") + "/" + (workspace ? workspace : "d2x") +
         "/plugins/arch/rcnn/libd2x_rcnn.so";
}

TEST(RcnnPluginTest, LoadsRegistersAndMatchesDetectron2) {
  plugin::Registry& registry = plugin::Registry::Global();
  plugin::PluginLoader loader(registry);
  absl::StatusOr<plugin::PluginRecord> record = loader.Load(PluginPath());
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->name, "rcnn");
  EXPECT_EQ(record->version, "0.1.0");
  const plugin::Entry<ModelBuilder>* builder = registry.FindModelBuilder("GeneralizedRCNN");
  ASSERT_NE(builder, nullptr);
  EXPECT_EQ(builder->provenance.plugin_name, "rcnn");

  for (const std::string arch : {"faster_rcnn", "mask_rcnn", "keypoint_rcnn"}) {
    absl::StatusOr<std::string> config_path = testing::FixturePath(arch, "config.yaml");
    ASSERT_TRUE(config_path.ok()) << config_path.status();
    absl::StatusOr<config::Config> cfg = config::Config::FromFile(*config_path);
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    absl::StatusOr<std::unique_ptr<Model>> model = builder->value(*cfg);
    ASSERT_TRUE(model.ok()) << model.status();
    EXPECT_EQ((*model)->meta_architecture(), "GeneralizedRCNN");

    absl::StatusOr<std::string> weights = testing::FixturePath(arch, "model_final.pth");
    ASSERT_TRUE(weights.ok()) << weights.status();
    absl::StatusOr<checkpoint::Checkpoint> ckpt = checkpoint::LoadCheckpoint(*weights);
    ASSERT_TRUE(ckpt.ok()) << ckpt.status();
    absl::StatusOr<checkpoint::LoadReport> report =
        checkpoint::LoadIntoModel(*ckpt, (*model)->StateDict());
    ASSERT_TRUE(report.ok()) << report.status();
    // The model's state is exactly the checkpoint's: nothing missing, nothing unexpected.
    EXPECT_TRUE(report->missing.empty()) << report->ToString();
    EXPECT_TRUE(report->unexpected.empty()) << report->ToString();
    EXPECT_TRUE(report->shape_mismatch.empty()) << report->ToString();
    EXPECT_EQ(report->loaded.size(), ckpt->tensors.size()) << report->ToString();

    std::vector<ImageInput> batch;
    for (const std::string& key : ImageKeys()) {
      absl::StatusOr<std::string> path = testing::FixturePath(arch, "input_" + key + ".png");
      ASSERT_TRUE(path.ok()) << path.status();
      absl::StatusOr<at::Tensor> image = io::ReadImage(*path, "BGR");
      ASSERT_TRUE(image.ok()) << image.status();
      ImageInput input;
      input.image = *image;
      absl::StatusOr<std::vector<ImageResult>> results = (*model)->Inference({input});
      ASSERT_TRUE(results.ok()) << results.status();
      verify::MatchReport match = verify::MatchDetections(
          FixtureDetections(arch, key), verify::FromInstances((*results)[0].instances));
      std::cout << "plugin " << arch << " " << key << ": " << match.Summary() << "\n";
      EXPECT_TRUE(match.ok) << match.Summary();
    }
  }
}

TEST(RcnnPluginTest, UnsupportedConfigIsAnError) {
  plugin::Registry& registry = plugin::Registry::Global();
  if (registry.FindModelBuilder("GeneralizedRCNN") == nullptr) {
    plugin::PluginLoader loader(registry);
    ASSERT_TRUE(loader.Load(PluginPath()).ok());
  }
  const plugin::Entry<ModelBuilder>* builder = registry.FindModelBuilder("GeneralizedRCNN");
  ASSERT_NE(builder, nullptr);
  absl::StatusOr<std::string> config_path = testing::FixturePath("mask_rcnn", "config.yaml");
  ASSERT_TRUE(config_path.ok());
  absl::StatusOr<config::Config> cfg = config::Config::FromFile(
      *config_path, {"MODEL.ROI_HEADS.NAME", "Res5ROIHeads"});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  absl::StatusOr<std::unique_ptr<Model>> model = builder->value(*cfg);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("MODEL.ROI_HEADS.NAME"), std::string::npos)
      << model.status();
}

}  // namespace
}  // namespace d2x::parity
