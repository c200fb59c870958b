// detector_postprocess (detectron2/modeling/postprocessing.py), box and keypoint parts: rescale
// detections from the size the detector saw to the requested output size, clip to it, and drop
// boxes that became empty. Pasting per-ROI masks into full-image masks is architecture code (R-CNN
// heads) and is not done here; see DetectorPostprocess.
#ifndef D2X_CORE_STRUCTURES_POSTPROCESS_H_
#define D2X_CORE_STRUCTURES_POSTPROCESS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "core/model.h"

namespace d2x::structures {

struct RescaledBoxes {
  at::Tensor boxes;  // [N, 4] scaled and clipped (all N boxes, empty ones included)
  at::Tensor keep;   // bool [N]: boxes.nonempty() after clipping
  double scale_x = 1.0;
  double scale_y = 1.0;
};

// The box part of detector_postprocess: scale_x = output_width / input_width,
// scale_y = output_height / input_height (computed in double, like Python), boxes *= scale,
// clipped to (output_height, output_width), keep = nonempty. `boxes` is not modified.
absl::StatusOr<RescaledBoxes> RescaleAndClipBoxes(const at::Tensor& boxes, int64_t input_height,
                                                  int64_t input_width, int64_t output_height,
                                                  int64_t output_width);

// detector_postprocess on an Instances whose image_height/width is the size the detector saw:
// rescales "pred_boxes" (or "proposal_boxes" when there is no "pred_boxes"), clips, keeps the
// non-empty rows of every field, scales the x/y of "pred_keypoints" (on a copy), and sets the
// result's image size to the output size. A "pred_masks" field is row-filtered but NOT pasted:
// callers holding per-ROI masks [N, 1, M, M] must paste them with the returned boxes.
// Errors: no box field, a field whose first dim differs from the number of boxes, bad sizes.
absl::StatusOr<Instances> DetectorPostprocess(const Instances& results, int64_t output_height,
                                              int64_t output_width);

}  // namespace d2x::structures

#endif  // D2X_CORE_STRUCTURES_POSTPROCESS_H_
