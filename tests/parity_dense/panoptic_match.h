// Comparing two panoptic segmentations (e.g. d2x vs detectron2's fixture) whose segment ids may
// differ: each actual segment is mapped to the expected segment it overlaps most (0 = no segment
// maps to 0), then
//   * pixel_agreement: fraction of pixels whose mapped actual id equals the expected id;
//   * segments: every expected segment must have exactly one actual segment mapped to it, and the
//     pair must agree on isthing and category_id (and, for things, |score delta| < 1e-3).
#ifndef D2X_TESTS_PARITY_DENSE_PANOPTIC_MATCH_H_
#define D2X_TESTS_PARITY_DENSE_PANOPTIC_MATCH_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/model.h"

namespace d2x::parity {

struct PanopticMatch {
  double pixel_agreement = 0.0;
  int64_t num_expected_segments = 0;
  int64_t num_actual_segments = 0;
  int64_t num_agreeing_segments = 0;
  double max_score_delta = 0.0;       // over matched thing pairs
  double max_stuff_area_rel = 0.0;    // over matched stuff pairs: |area delta| / expected area
  bool segments_ok = false;
  std::vector<std::string> problems;

  std::string Summary() const;
};

// expected_seg / actual_seg: int32 [H, W] segment ids; segments as PanopticSegment (only id,
// isthing, category_id, score (things) and area (stuff, when > 0) are used).
PanopticMatch MatchPanoptic(const at::Tensor& expected_seg,
                            const std::vector<PanopticSegment>& expected_segments,
                            const at::Tensor& actual_seg,
                            const std::vector<PanopticSegment>& actual_segments,
                            double max_score_delta = 1e-3);

}  // namespace d2x::parity

#endif  // D2X_TESTS_PARITY_DENSE_PANOPTIC_MATCH_H_
