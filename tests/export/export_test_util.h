// Helpers for the export tests: a registry with the R-CNN, RetinaNet and PanopticFPN architectures
// and the TorchScript format linked in (no dlopen), fixture paths and images, and the shipped
// libd2x_ops.so.
#ifndef D2X_TESTS_EXPORT_EXPORT_TEST_UTIL_H_
#define D2X_TESTS_EXPORT_EXPORT_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model.h"
#include "core/export/export_pipeline.h"
#include "core/plugin/registry.h"

namespace d2x::export_test {

// Stages the model builders and generic-flavor rewriters of GeneralizedRCNN, RetinaNet and
// PanopticFPN, as their plugins register them (the formats add their exporter and runner).
void AddArchitectures(plugin::Registrar& staged);

// AddArchitectures and torchscript (exporter + runner), registered once.
const plugin::Registry& TestRegistry();

// The libd2x_ops.so built for the test (a data dependency), from the runfiles.
std::string OpsLibraryPath();

// ExportInputs for a fixture architecture ("mask_rcnn", ...): its config, model_final.pth, the
// 256x320 image as the sample and the 200x296 image as the second image.
absl::StatusOr<exporting::ExportInputs> FixtureExportInputs(const std::string& arch);

// FixtureExportInputs plus the runtime library the torchscript format needs (OpsLibraryPath()).
absl::StatusOr<exporting::ExportInputs> TorchScriptFixtureExportInputs(const std::string& arch);

// session.Export(target), printing the outcome's summary and each verification check's.
absl::StatusOr<exporting::ExportOutcome> ExportAndPrint(exporting::ExportSession& session,
                                                        const exporting::ExportTarget& target);

// The batch-of-3 check of the export tests: the fixture's 200x296 and 256x320 images and the
// 200x296 image mirrored with a requested output size of 300x444 (as when the input was resized).
std::vector<ImageInput> MixedBatchOfThree(const std::string& arch);

// A fresh directory under $TEST_TMPDIR.
std::string TempDir(const std::string& name);

}  // namespace d2x::export_test

#endif  // D2X_TESTS_EXPORT_EXPORT_TEST_UTIL_H_
