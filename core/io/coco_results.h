// detectron2 results → COCO results JSON (as detectron2's instances_to_coco_json).
#ifndef D2X_CORE_IO_COCO_RESULTS_H_
#define D2X_CORE_IO_COCO_RESULTS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "core/model.h"
#include "nlohmann/json.hpp"

namespace d2x::io {

struct CocoResultsOptions {
  // Map contiguous class ids 0..79 to COCO's category ids (1..90 with gaps), as detectron2 does
  // with the COCO dataset metadata. Otherwise category_id is the contiguous class id.
  bool coco_category_ids = false;
};

// COCO's 80 category ids in contiguous order.
const std::vector<int64_t>& CocoCategoryIds();

// Uncompressed RLE counts of a [H, W] mask in COCO's column-major order; the first count is the
// number of leading zeros (possibly 0).
std::vector<int64_t> EncodeRleCounts(const at::Tensor& mask);

// Appends one COCO result per instance: image_id, category_id, bbox [x, y, w, h], score, and
// "segmentation" ({"size": [h, w], "counts": [...]}) when pred_masks exist, "keypoints"
// ([x1, y1, s1, ...], with detectron2's -0.5 shift to pixel-index coordinates) when
// pred_keypoints exist.
void AppendCocoResults(const Instances& instances, int64_t image_id,
                       const CocoResultsOptions& options, nlohmann::json& out);

}  // namespace d2x::io

#endif  // D2X_CORE_IO_COCO_RESULTS_H_
