// Building the fixtures' RetinaNet / PanopticFPN models (config.yaml + model_final.pth) and reading
// their input images, for the dense-model parity tests.
#ifndef D2X_TESTS_PARITY_DENSE_DENSE_FIXTURE_MODEL_H_
#define D2X_TESTS_PARITY_DENSE_DENSE_FIXTURE_MODEL_H_

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/checkpoint/state_dict_loader.h"
#include "core/config/config.h"
#include "core/model.h"

namespace d2x::parity {

// <fixtures>/<arch>/config.yaml.
absl::StatusOr<config::Config> FixtureConfig(const std::string& arch);

// Loads <fixtures>/<arch>/<weights> into `model` (missing / unexpected / mis-shaped keys are
// errors: every model key must be loaded and every checkpoint key used).
absl::StatusOr<checkpoint::LoadReport> LoadFixtureWeights(
    const std::string& arch, Model& model, const std::string& weights = "model_final.pth");

}  // namespace d2x::parity

#endif  // D2X_TESTS_PARITY_DENSE_DENSE_FIXTURE_MODEL_H_
