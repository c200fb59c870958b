// Shared helpers for the parity tests: fixture tensors, tensor closeness with a report.
#ifndef D2X_TESTS_PARITY_PARITY_UTIL_H_
#define D2X_TESTS_PARITY_PARITY_UTIL_H_

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model.h"
#include "tests/parity/detection_match.h"

namespace d2x::parity {

// The two fixture inputs: "256x320" and "200x296".
const std::vector<std::string>& ImageKeys();
// (height, width) of an image key.
std::array<int64_t, 2> ImageSizeOf(const std::string& key);

// LoadFixtureTensor that fails the current test (ADD_FAILURE) and returns an undefined tensor on
// error.
at::Tensor Fixture(const std::string& arch, const std::string& name);

// |a - b| <= atol + rtol * |b| elementwise; returns a message with the worst elements.
struct Closeness {
  bool ok = false;
  double max_abs = 0.0;
  double max_rel = 0.0;  // max |a-b| / max(|b|) (relative to the tensor's scale)
  std::string message;
};
Closeness CompareTensors(const at::Tensor& actual, const at::Tensor& expected, double rtol,
                         double atol);

// max |actual - expected| <= rel_tol * max |expected| (EXPECT); prints the difference under
// `what`.
void ExpectScaledClose(const std::string& what, const at::Tensor& actual,
                       const at::Tensor& expected, double rel_tol);

// The fixture's backbone outputs <key>.features.<level> by level name.
std::map<std::string, at::Tensor> FixtureFeatures(
    const std::string& arch, const std::string& key,
    const std::vector<std::string>& levels = {"p2", "p3", "p4", "p5", "p6"});

// The image file at `path` read as BGR uint8 [3, H, W] (io::ReadImage, as detectron2's read_image),
// as an ImageInput; EXPECT-fails the current test and leaves the image undefined on a bad path
// or an unreadable file.
ImageInput PngInput(const absl::StatusOr<std::string>& path);

// <fixtures>/<arch>/input_<key>.png as PngInput (key "256x320" or "200x296").
ImageInput FixtureImageInput(const std::string& arch, const std::string& key);

// The fixture's final detections for one image (+ masks / keypoints when present).
verify::DetectionSet FixtureDetections(const std::string& arch, const std::string& key);

// A panoptic fixture image as an ImageResult: instances (boxes, scores, classes, masks),
// panoptic_seg and <key>.segments_info.json (detectron2 records no area for things: it is the
// segment's pixel count; stuff areas are detectron2's). For verify::MatchSegments.
ImageResult FixturePanopticResult(const std::string& arch, const std::string& key);

}  // namespace d2x::parity

#endif  // D2X_TESTS_PARITY_PARITY_UTIL_H_
