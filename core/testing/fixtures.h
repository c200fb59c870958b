// Access to detectron2's golden outputs (../shared/fixtures) for parity tests.
//
// The directory comes from $D2X_FIXTURES_DIR (the Makefile sets it to ../shared/fixtures). Tests
// that need it FAIL when it is missing — they never skip — so a CI without fixtures is red.
#ifndef D2X_CORE_TESTING_FIXTURES_H_
#define D2X_CORE_TESTING_FIXTURES_H_

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace d2x::testing {

// $D2X_FIXTURES_DIR, checked to exist.
absl::StatusOr<std::string> FixturesDir();

// <fixtures>/<arch>/<file>, checked to exist. `arch` is a folder name, e.g. "mask_rcnn".
absl::StatusOr<std::string> FixturePath(const std::string& arch, const std::string& file);

// The tensor named `name` (e.g. "256x320.features.p2") in <arch>/manifest.json, read from its raw
// little-endian .bin file with the dtype and shape the manifest gives.
absl::StatusOr<at::Tensor> LoadFixtureTensor(const std::string& arch, const std::string& name);

// Names of all tensors listed in <arch>/manifest.json.
absl::StatusOr<std::vector<std::string>> FixtureTensorNames(const std::string& arch);

// Architectures with fixtures.
inline const std::vector<std::string>& FixtureArchitectures() {
  static const auto* archs = new std::vector<std::string>{
      "faster_rcnn", "mask_rcnn", "keypoint_rcnn", "retinanet", "panoptic_fpn"};
  return *archs;
}

}  // namespace d2x::testing

#endif  // D2X_CORE_TESTING_FIXTURES_H_
