// Panoptic and semantic segmentation outputs in COCO's panoptic format.
#ifndef D2X_CORE_IO_PANOPTIC_H_
#define D2X_CORE_IO_PANOPTIC_H_

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/model.h"
#include "nlohmann/json.hpp"

namespace d2x::io {

// COCO panoptic PNG: segment id = R + 256 * G + 256^2 * B (0 = unlabeled).
absl::Status WritePanopticPng(const std::string& path, const at::Tensor& panoptic_seg);
// Inverse of the encoding above, for tests and round trips: int32 [H, W].
absl::StatusOr<at::Tensor> ReadPanopticPng(const std::string& path);

// segments_info as COCO panoptic JSON: [{"id", "category_id", "isthing", "area"(, "score")}].
nlohmann::json SegmentsInfoJson(const std::vector<PanopticSegment>& segments);

// A single-channel uint8 PNG of the per-pixel argmax of sem_seg logits [C, H, W].
absl::Status WriteSemSegPng(const std::string& path, const at::Tensor& sem_seg_logits);

}  // namespace d2x::io

#endif  // D2X_CORE_IO_PANOPTIC_H_
