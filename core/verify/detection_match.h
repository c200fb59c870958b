// Detection-aware comparison of two sets of detections (e.g. d2x vs detectron2's fixtures).
//
// Detections are matched greedily, highest expected score first, to the unmatched actual
// detection of the same class with the largest box IoU. A pair "agrees" when box IoU > box_iou,
// |score delta| < score_delta, and, when both sides have them, mask IoU > mask_iou and every
// keypoint's (x, y) is within keypoint_px (Euclidean). The sets agree when at least min_fraction
// of max(#expected, #actual) detections are agreeing pairs. Unmatched detections on either side
// count against the fraction. The defaults are the fixtures' tolerances
// (../shared/fixtures/README.md); never loosen them to make a comparison pass.
#ifndef D2X_CORE_VERIFY_DETECTION_MATCH_H_
#define D2X_CORE_VERIFY_DETECTION_MATCH_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/model.h"

namespace d2x::verify {

// One image's detections; masks / keypoints optional (undefined = absent).
struct DetectionSet {
  at::Tensor boxes;      // [N, 4] XYXY
  at::Tensor scores;     // [N]
  at::Tensor classes;    // [N] integer
  at::Tensor masks;      // [N, H, W] bool/uint8 (full-image) or undefined
  at::Tensor keypoints;  // [N, K, 3] (x, y, score) or undefined

  int64_t size() const { return boxes.defined() ? boxes.size(0) : 0; }
};

// IoU of every XYXY box of `a` [N, 4] with every box of `b` [M, 4], computed in double: [N, M]
// (0 where the union is empty).
at::Tensor PairwiseBoxIou(const at::Tensor& a, const at::Tensor& b);

// pred_boxes / scores / pred_classes / pred_masks / pred_keypoints of an Instances.
DetectionSet FromInstances(const Instances& instances);

struct MatchOptions {
  double box_iou = 0.99;       // agreeing pairs: box IoU >  box_iou
  double score_delta = 1e-3;   //                 |score delta| < score_delta
  double mask_iou = 0.99;      //                 mask IoU > mask_iou
  double keypoint_px = 0.5;    //                 every keypoint within keypoint_px
  double min_fraction = 0.99;  // agreeing pairs / max(#expected, #actual) >= min_fraction
};

struct MatchReport {
  int64_t num_expected = 0;
  int64_t num_actual = 0;
  int64_t num_matched = 0;    // pairs found (same class, best IoU)
  int64_t num_agreeing = 0;   // pairs meeting every tolerance
  double fraction = 0.0;      // num_agreeing / max(num_expected, num_actual) (1 when both empty)
  // Worst values over the matched pairs (for reporting parity numbers).
  double min_box_iou = 1.0;
  double max_score_delta = 0.0;
  double min_mask_iou = 1.0;
  double max_keypoint_dist = 0.0;
  // Worst values over the agreeing pairs only.
  double agreeing_min_box_iou = 1.0;
  double agreeing_max_score_delta = 0.0;
  double agreeing_min_mask_iou = 1.0;
  double agreeing_max_keypoint_dist = 0.0;
  bool compared_masks = false;      // both sides had masks
  bool compared_keypoints = false;  // both sides had keypoints
  // Expected detections whose score equals the lowest expected score exactly (0 unless >= 2):
  // when a top-k cut falls among exact ties, which tied candidates are kept is
  // implementation-defined (e.g. saturated sigmoid scores of 1.0f). Reported, not excused.
  int64_t num_tied_at_lowest_score = 0;
  bool ok = false;
  std::vector<std::string> problems;  // one line per disagreeing or unmatched detection

  std::string Summary() const;
};

MatchReport MatchDetections(const DetectionSet& expected, const DetectionSet& actual,
                            const MatchOptions& options = MatchOptions());

}  // namespace d2x::verify

#endif  // D2X_CORE_VERIFY_DETECTION_MATCH_H_
