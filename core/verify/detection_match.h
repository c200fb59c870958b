// Detection-aware comparison of two sets of detections (e.g. d2x vs detectron2's fixtures).
//
// Detections are matched greedily, highest expected score first, to the unmatched actual
// detection of the same class with the largest box IoU. A pair "agrees" when box IoU > box_iou,
// |score delta| < score_delta, and, when both sides have them, mask IoU > mask_iou and every
// keypoint's (x, y) is within keypoint_px (Euclidean). The sets agree when at least min_fraction
// of max(#expected, #actual) detections are agreeing pairs. Unmatched detections on either side
// count against the fraction. The defaults are the fixtures' tolerances
// (../shared/fixtures/README.md); never loosen them to make a comparison pass.
//
// Three cases the ratios cannot judge are decided at float resolution (docs/EXPORT.md
// "Verification: the tolerances and float resolution"):
//  * Degenerate boxes. A box also agrees when every coordinate is within box_atol_px, the
//    tolerance detectron2's own export tests put on boxes (assert_instances_allclose: atol =
//    100 * rtol = 1e-3 px). For a box at least 0.4 px on each side that implies IoU > 0.99, so
//    it only decides slivers (e.g. 0.005 px high, clipped at the border), whose IoU float
//    rounding of one coordinate decides.
//  * Tiny masks. A mask also agrees when the two differ in at most mask_pixel_floor pixels.
//    IoU > 0.99 already allows one pixel from a union of 101 pixels; below that, one pixel at the
//    0.5 threshold of the paste failed the mask. (Looser than the ratio there, by one pixel.)
//  * Exact ties. When both sides' lowest scores are the same value exactly and at least two
//    expected detections have it, a top-k or NMS among exact ties chose those detections, and
//    which tied candidates it keeps is implementation-defined (e.g. torch.topk's partial sort vs
//    ONNX TopK's index order among saturated 1.0f scores). Detections of that tie that do not
//    agree are left out of the fraction on their side and reported. Scores that differ by any
//    rounding are never ties, so this cannot hide a numerical difference.
// Pairs agreeing only through the first two are counted and reported apart.
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

struct MatchOptions {
  double box_iou = 0.99;       // agreeing pairs: box IoU >  box_iou
  double score_delta = 1e-3;   //                 |score delta| < score_delta
  double mask_iou = 0.99;      //                 mask IoU > mask_iou
  double keypoint_px = 0.5;    //                 every keypoint within keypoint_px
  double min_fraction = 0.99;  // agreeing pairs / max(#expected, #actual) >= min_fraction
  // Float resolution (see the top of this file).
  double box_atol_px = 1e-3;      // or every box coordinate within box_atol_px
  int64_t mask_pixel_floor = 1;   // or masks differing in at most mask_pixel_floor pixels
  bool excuse_exact_ties = true;  // leave disagreeing exact ties at the lowest score out
};

// How a compared pair of boxes or pixel regions agrees.
enum class Agreement { kNo, kByRatio, kAtFloatResolution };

// Boxes [4] with IoU `iou`: kByRatio when iou > box_iou, else kAtFloatResolution when every
// coordinate differs by at most box_atol_px.
Agreement BoxAgreement(const at::Tensor& a, const at::Tensor& b, double iou,
                       const MatchOptions& options);

// Pixel regions (masks, panoptic segments) with `inter` common pixels of `uni`: kByRatio when
// IoU > mask_iou (or both are empty), else kAtFloatResolution when they differ in at most
// mask_pixel_floor pixels.
Agreement RegionAgreement(int64_t inter, int64_t uni, const MatchOptions& options);

// pred_boxes / scores / pred_classes / pred_masks / pred_keypoints of an Instances.
DetectionSet FromInstances(const Instances& instances);

struct MatchReport {
  int64_t num_expected = 0;
  int64_t num_actual = 0;
  int64_t num_matched = 0;    // pairs found (same class, best IoU)
  int64_t num_agreeing = 0;   // pairs meeting every tolerance
  // Of those, pairs whose box or mask agrees only at float resolution (degenerate boxes, masks
  // of under 100 pixels differing in one pixel).
  int64_t num_agreeing_at_resolution = 0;
  // num_agreeing / max(num_expected - num_tie_excused_expected,
  //                    num_actual - num_tie_excused_actual); 1 when both are 0.
  double fraction = 0.0;
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
  // Expected detections whose score equals the lowest expected score exactly (0 unless >= 2).
  int64_t num_tied_at_lowest_score = 0;
  // Disagreeing or unmatched detections of an exact tie at the lowest score shared by both sides
  // (see the top of this file), left out of the fraction.
  int64_t num_tie_excused_expected = 0;
  int64_t num_tie_excused_actual = 0;
  bool ok = false;
  std::vector<std::string> problems;  // one line per disagreeing or unmatched detection
  std::vector<std::string> notes;     // one line per pair agreeing at float resolution

  std::string Summary() const;
};

MatchReport MatchDetections(const DetectionSet& expected, const DetectionSet& actual,
                            const MatchOptions& options = MatchOptions());

}  // namespace d2x::verify

#endif  // D2X_CORE_VERIFY_DETECTION_MATCH_H_
