// Comparing two models' results on the same batch (an exported artifact vs the eager model):
// detection-aware per image (detection_match.h), plus exact tensor differences of every common
// field where the two sides have the same shapes (so "bit-identical" is visible in reports).
#ifndef D2X_CORE_VERIFY_COMPARE_H_
#define D2X_CORE_VERIFY_COMPARE_H_

#include <string>
#include <vector>

#include "core/model.h"
#include "core/verify/detection_match.h"
#include "core/verify/panoptic_match.h"
#include "nlohmann/json.hpp"

namespace d2x::verify {

struct FieldDiff {
  std::string name;
  bool same_shape = false;
  double max_abs_diff = 0.0;  // over all elements (bool/int as numbers); only when same_shape
  bool identical = false;     // same dtype, shape and values
};

// Semantic / panoptic outputs (when the expected result has them).
struct DenseComparison {
  bool compared = false;
  double sem_seg_argmax_agreement = 1.0;  // fraction of pixels with the same argmax class
  bool compared_segments = false;  // the expected result has a panoptic_seg
  SegmentMatchReport segments;     // panoptic_seg + segments_info (panoptic_match.h)
  std::vector<FieldDiff> fields;  // sem_seg, panoptic_seg
  std::string problem;
};

struct ImageComparison {
  int64_t expected_height = 0, expected_width = 0;
  int64_t actual_height = 0, actual_width = 0;
  MatchReport match;
  std::vector<FieldDiff> fields;
  DenseComparison dense;
  // Same output size, the detections agree, (semantic models) >= min_fraction of the pixels have
  // the same argmax class and (panoptic models) the segments agree (panoptic_match.h).
  bool ok = false;
};

struct BatchComparison {
  std::string name;  // e.g. "sample 256x320"
  std::vector<ImageComparison> images;
  std::string error;  // set when the comparison could not run (e.g. image count mismatch)
  bool ok = false;

  bool identical() const;  // every field of every image bit-identical
  std::string Summary() const;
  nlohmann::json ToJson() const;
};

// Compares image by image. A different number of images, or a different output size of an image,
// is a failure.
BatchComparison CompareResults(const std::string& name, const std::vector<ImageResult>& expected,
                               const std::vector<ImageResult>& actual,
                               const MatchOptions& options = MatchOptions());

// The MatchOptions as JSON (for reports).
nlohmann::json MatchOptionsToJson(const MatchOptions& options);

}  // namespace d2x::verify

#endif  // D2X_CORE_VERIFY_COMPARE_H_
