// libd2x_retinanet.so and libd2x_panoptic_fpn.so loaded through the plugin ABI into a host that
// links core once (-rdynamic), as the d2x tool does: the model builders are registered, build the
// fixtures' models from their config.yaml through the registry, load model_final.pth, and give
// detectron2's outputs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "core/pipeline/model_loader.h"
#include "core/plugin/loader.h"
#include "core/plugin/registry.h"
#include "core/testing/fixtures.h"
#include "core/verify/panoptic_match.h"
#include "tests/parity/detection_match.h"
#include "tests/parity/parity_util.h"
#include "tests/parity_dense/dense_fixture_model.h"

namespace d2x::parity {
namespace {

std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return std::string(srcdir ? srcdir : ".") + "/" + (workspace ? workspace : "d2x") + "/" + path;
}

plugin::Registry& LoadedRegistry() {
  static plugin::Registry* registry = [] {
    auto* r = new plugin::Registry();
    plugin::PluginLoader loader(*r);
    for (const char* so : {"plugins/arch/retinanet/libd2x_retinanet.so",
                           "plugins/arch/panoptic_fpn/libd2x_panoptic_fpn.so"}) {
      absl::StatusOr<plugin::PluginRecord> record = loader.Load(Runfile(so));
      EXPECT_TRUE(record.ok()) << record.status();
    }
    return r;
  }();
  return *registry;
}

pipeline::LoadedModel Load(const std::string& arch) {
  absl::StatusOr<std::string> config = testing::FixturePath(arch, "config.yaml");
  absl::StatusOr<std::string> weights = testing::FixturePath(arch, "model_final.pth");
  EXPECT_TRUE(config.ok() && weights.ok());
  absl::StatusOr<pipeline::LoadedModel> loaded =
      pipeline::LoadModel(LoadedRegistry(), {*config, {}, *weights});
  if (!loaded.ok()) {
    ADD_FAILURE() << arch << ": " << loaded.status();
    std::abort();
  }
  EXPECT_TRUE(loaded->load_report.has_value());
  if (loaded->load_report) {
    EXPECT_TRUE(loaded->load_report->missing.empty()) << loaded->load_report->ToString();
    EXPECT_TRUE(loaded->load_report->unexpected.empty()) << loaded->load_report->ToString();
    EXPECT_TRUE(loaded->load_report->shape_mismatch.empty()) << loaded->load_report->ToString();
  }
  return *std::move(loaded);
}

std::vector<ImageInput> Inputs(const std::string& arch) {
  std::vector<ImageInput> inputs;
  for (const std::string& key : ImageKeys()) {
    inputs.push_back(FixtureImageInput(arch, key));
  }
  return inputs;
}

TEST(DensePluginsTest, Registered) {
  const plugin::Registry& r = LoadedRegistry();
  const auto* retinanet = r.FindModelBuilder("RetinaNet");
  const auto* panoptic = r.FindModelBuilder("PanopticFPN");
  ASSERT_NE(retinanet, nullptr);
  ASSERT_NE(panoptic, nullptr);
  EXPECT_EQ(retinanet->provenance.plugin_name, "retinanet");
  EXPECT_EQ(panoptic->provenance.plugin_name, "panoptic_fpn");
}

TEST(DensePluginsTest, RetinaNetThroughPlugin) {
  pipeline::LoadedModel loaded = Load("retinanet");
  EXPECT_EQ(loaded.model->meta_architecture(), "RetinaNet");
  const std::vector<ImageInput> inputs = Inputs("retinanet");
  for (size_t i = 0; i < inputs.size(); ++i) {
    absl::StatusOr<std::vector<ImageResult>> results = loaded.model->Inference({inputs[i]});
    ASSERT_TRUE(results.ok()) << results.status();
    verify::MatchReport report =
        verify::MatchDetections(FixtureDetections("retinanet", ImageKeys()[i]),
                                verify::FromInstances((*results)[0].instances));
    std::cout << "retinanet plugin " << ImageKeys()[i] << ": " << report.Summary() << "\n";
    EXPECT_TRUE(report.ok) << report.Summary();
  }
}

TEST(DensePluginsTest, PanopticFpnThroughPlugin) {
  pipeline::LoadedModel loaded = Load("panoptic_fpn");
  EXPECT_EQ(loaded.model->meta_architecture(), "PanopticFPN");
  const std::vector<ImageInput> inputs = Inputs("panoptic_fpn");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string& key = ImageKeys()[i];
    absl::StatusOr<std::vector<ImageResult>> results = loaded.model->Inference({inputs[i]});
    ASSERT_TRUE(results.ok()) << results.status();
    const ImageResult& r = (*results)[0];
    verify::MatchReport report = verify::MatchDetections(FixtureDetections("panoptic_fpn", key),
                                                         verify::FromInstances(r.instances));
    std::cout << "panoptic_fpn plugin " << key << " instances: " << report.Summary() << "\n";
    EXPECT_TRUE(report.ok) << report.Summary();
    // The panoptic map and segments against detectron2's.
    verify::SegmentMatchReport m = verify::MatchSegments(FixturePanopticResult("panoptic_fpn", key), r);
    std::cout << "panoptic_fpn plugin " << key << " " << m.Summary() << "\n";
    EXPECT_TRUE(m.ok) << m.Summary();
    EXPECT_GE(m.pixel_agreement, 0.999) << m.Summary();
  }
}

}  // namespace
}  // namespace d2x::parity
