#include "tests/export/export_test_util.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "core/exporter.h"
#include "core/testing/fixtures.h"
#include "core/util/status_macros.h"
#include "glog/logging.h"
#include "plugins/arch/panoptic_fpn/panoptic_fpn.h"
#include "plugins/arch/panoptic_fpn/rewriter.h"
#include "plugins/arch/rcnn/generalized_rcnn.h"
#include "plugins/arch/rcnn/rewriter.h"
#include "plugins/arch/retinanet/retinanet.h"
#include "plugins/arch/retinanet/rewriter.h"
#include "plugins/format/torchscript/torchscript_format.h"
#include "tests/parity/parity_util.h"

namespace d2x::export_test {

void AddArchitectures(plugin::Registrar& staged) {
  staged.AddModelBuilder("GeneralizedRCNN", &rcnn::BuildGeneralizedRcnn);
  staged.AddRewriter("GeneralizedRCNN", [] { return std::make_unique<rcnn::RcnnRewriter>(); });
  staged.AddModelBuilder("PanopticFPN", &panoptic_fpn::BuildPanopticFpn);
  staged.AddRewriter("PanopticFPN",
                     [] { return std::make_unique<panoptic_fpn::PanopticFpnRewriter>(); });
  staged.AddModelBuilder("RetinaNet", &retinanet::BuildRetinaNet);
  staged.AddRewriter("RetinaNet", [] { return std::make_unique<retinanet::RetinaNetRewriter>(); });
}

const plugin::Registry& TestRegistry() {
  static const plugin::Registry* registry = [] {
    auto* r = new plugin::Registry();
    plugin::Registrar staged;
    AddArchitectures(staged);
    staged.AddExporter(torchscript::kFormatName,
                       [] { return std::make_unique<torchscript::TorchScriptExporter>(); });
    staged.AddRunner(torchscript::kFormatName,
                     [] { return std::make_unique<torchscript::TorchScriptRunner>(); });
    absl::Status status = r->Commit(staged, {"export_test", "0", "<linked in>"});
    CHECK(status.ok()) << status;
    return r;
  }();
  return *registry;
}

std::string OpsLibraryPath() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  CHECK(srcdir != nullptr && workspace != nullptr) << "run under bazel test";
  return absl::StrCat(srcdir, "/", workspace, "/core/ops/libd2x_ops.so");
}

absl::StatusOr<exporting::ExportInputs> FixtureExportInputs(const std::string& arch) {
  exporting::ExportInputs inputs;
  D2X_ASSIGN_OR_RETURN(inputs.model.config_path, testing::FixturePath(arch, "config.yaml"));
  D2X_ASSIGN_OR_RETURN(inputs.model.weights, testing::FixturePath(arch, "model_final.pth"));
  D2X_ASSIGN_OR_RETURN(inputs.sample_image, testing::FixturePath(arch, "input_256x320.png"));
  D2X_ASSIGN_OR_RETURN(inputs.second_image, testing::FixturePath(arch, "input_200x296.png"));
  return inputs;
}

absl::StatusOr<exporting::ExportInputs> TorchScriptFixtureExportInputs(const std::string& arch) {
  D2X_ASSIGN_OR_RETURN(exporting::ExportInputs inputs, FixtureExportInputs(arch));
  inputs.runtime_libraries[kD2xOpsLibrary] = OpsLibraryPath();
  return inputs;
}

absl::StatusOr<exporting::ExportOutcome> ExportAndPrint(exporting::ExportSession& session,
                                                        const exporting::ExportTarget& target) {
  absl::StatusOr<exporting::ExportOutcome> outcome = session.Export(target);
  if (!outcome.ok()) return outcome;
  std::cout << outcome->Summary() << "\n";
  for (const verify::BatchComparison& c : outcome->checks) std::cout << c.Summary() << "\n";
  return outcome;
}

std::vector<ImageInput> MixedBatchOfThree(const std::string& arch) {
  ImageInput small = parity::FixtureImageInput(arch, "200x296");
  ImageInput large = parity::FixtureImageInput(arch, "256x320");
  ImageInput mirrored;
  mirrored.image = small.image.flip({2}).contiguous();
  mirrored.height = 300;
  mirrored.width = 444;
  return {small, large, mirrored};
}

std::string TempDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/", name);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  return dir;
}

}  // namespace d2x::export_test
