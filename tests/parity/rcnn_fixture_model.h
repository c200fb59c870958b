// Building the fixtures' R-CNN models (config.yaml + weights) and reading their input images.
#ifndef D2X_TESTS_PARITY_RCNN_FIXTURE_MODEL_H_
#define D2X_TESTS_PARITY_RCNN_FIXTURE_MODEL_H_

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "plugins/arch/rcnn/generalized_rcnn.h"

namespace d2x::parity {

// <fixtures>/<arch>/config.yaml -> GeneralizedRcnn with <fixtures>/<arch>/<weights> loaded
// (missing keys are errors). `config_overrides`: KEY VALUE pairs merged into the config.
absl::StatusOr<std::unique_ptr<rcnn::GeneralizedRcnn>> BuildFixtureModel(
    const std::string& arch, const std::string& weights = "model_final.pth",
    const std::vector<std::string>& config_overrides = {});

}  // namespace d2x::parity

#endif  // D2X_TESTS_PARITY_RCNN_FIXTURE_MODEL_H_
