// Renders results onto an image for a person to check at a glance.
#ifndef D2X_CORE_IO_DRAW_H_
#define D2X_CORE_IO_DRAW_H_

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "core/model.h"

namespace d2x::io {

// `image`: uint8 [3, H, W] BGR (the input as read). Draws, in this order: the panoptic map or the
// semantic argmax (translucent), instance masks (translucent, one color per instance), boxes with
// "class score" labels, and keypoints (dots + COCO skeleton when there are 17). Results must be at
// the image's resolution. Returns uint8 [3, H, W] BGR.
// Instances scoring below `min_score` are not drawn (detectron2's demo uses 0.5).
absl::StatusOr<at::Tensor> DrawResult(const at::Tensor& image, const ImageResult& result,
                                      double min_score = 0.0);

}  // namespace d2x::io

#endif  // D2X_CORE_IO_DRAW_H_
