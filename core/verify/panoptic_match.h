// Segment-aware comparison of two panoptic results (panoptic_seg + segments_info) of one image,
// in the spirit of the detection matching (detection_match.h): segment ids are labels, not
// values, so two results that segment the image identically but number two segments the other
// way round (e.g. two detections whose scores are within float rounding of each other and so
// are pasted in the other order) are the same segmentation.
//
// Expected segments are matched, largest first, to the not yet matched actual segment that
// overlaps them most (pixel counts of panoptic_seg). A pair "agrees" when category_id and isthing
// are equal, the segments' pixel regions agree (IoU > mask_iou, or at most mask_pixel_floor
// pixels differ), the area in segments_info equals the region's pixel count on both sides, and,
// for things, the two detections the segments come from (instance_id) have the same class, boxes
// that agree (BoxAgreement) and |score delta| < score_delta. The results agree when at least
// min_fraction of max(#expected, #actual) segments are agreeing pairs. The tolerances are
// MatchOptions' (the fixtures' tolerances, with detection_match.h's float-resolution rules).
#ifndef D2X_CORE_VERIFY_PANOPTIC_MATCH_H_
#define D2X_CORE_VERIFY_PANOPTIC_MATCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/verify/detection_match.h"

namespace d2x::verify {

struct SegmentMatchReport {
  int64_t num_expected = 0;
  int64_t num_actual = 0;
  int64_t num_matched = 0;
  int64_t num_agreeing = 0;
  double fraction = 1.0;  // num_agreeing / max(num_expected, num_actual) (1 when both empty)
  double min_region_iou = 1.0;  // over matched pairs
  // Fraction of pixels whose actual segment is the one matched to the expected pixel's segment
  // (void, id 0, matches void): the pixel agreement of the segmentations, independent of the
  // numbering.
  double pixel_agreement = 1.0;
  // Whether segments_info and the ids are exactly equal (for reports: "identical").
  bool identical = false;
  bool ok = false;
  std::vector<std::string> problems;  // one line per disagreeing or unmatched segment

  std::string Summary() const;
};

// Both results must have panoptic_seg of the same shape (int32 [H, W]); otherwise the report is
// not ok and says so.
SegmentMatchReport MatchSegments(const ImageResult& expected, const ImageResult& actual,
                                 const MatchOptions& options = MatchOptions());

}  // namespace d2x::verify

#endif  // D2X_CORE_VERIFY_PANOPTIC_MATCH_H_
