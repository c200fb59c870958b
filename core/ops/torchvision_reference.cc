#include "core/ops/torchvision_reference.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace d2x::ops::reference {
namespace {

absl::Status LoadOnce() {
  const char* env = std::getenv("D2X_TORCHVISION_C_SO");
  const std::string path = env != nullptr && *env != '\0' ? env : kTorchvisionExtension;
  if (dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    const char* err = dlerror();
    return absl::NotFoundError(absl::StrCat("torchvision_reference: dlopen(", path,
                                            ") failed: ", err ? err : "unknown error"));
  }
  for (const char* op : {"torchvision::nms", "torchvision::roi_align"}) {
    if (!c10::Dispatcher::singleton().findSchema({op, ""}).has_value()) {
      return absl::NotFoundError(
          absl::StrCat("torchvision_reference: ", path, " did not register ", op));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status LoadTorchvision() {
  static const absl::Status* status = new absl::Status(LoadOnce());
  return *status;
}

at::Tensor RoiAlign(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                    int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                    bool aligned) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torchvision::roi_align", "")
                             .typed<at::Tensor(const at::Tensor&, const at::Tensor&, double,
                                               int64_t, int64_t, int64_t, bool)>();
  return op.call(input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned);
}

at::Tensor Nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("torchvision::nms", "")
                             .typed<at::Tensor(const at::Tensor&, const at::Tensor&, double)>();
  return op.call(boxes, scores, iou_threshold);
}

at::Tensor BatchedNmsCoordinateTrick(const at::Tensor& boxes, const at::Tensor& scores,
                                     const at::Tensor& idxs, double iou_threshold) {
  if (boxes.numel() == 0) return at::empty({0}, boxes.options().dtype(at::kLong));
  const at::Tensor max_coordinate = boxes.max();
  // offsets = idxs.to(boxes) * (max_coordinate + torch.tensor(1).to(boxes))
  const at::Tensor offsets = idxs.to(boxes) * (max_coordinate + at::tensor(1).to(boxes));
  // boxes_for_nms = boxes + offsets[:, None]
  const at::Tensor boxes_for_nms =
      boxes + offsets.index({at::indexing::Slice(), at::indexing::None});
  return Nms(boxes_for_nms, scores, iou_threshold);
}

at::Tensor BatchedNmsVanilla(const at::Tensor& boxes, const at::Tensor& scores,
                             const at::Tensor& idxs, double iou_threshold) {
  at::Tensor keep_mask = at::zeros_like(scores, scores.options().dtype(at::kBool));
  // for class_id in torch.unique(idxs)  (sorted=True, return_inverse=False)
  const at::Tensor classes = std::get<0>(at::_unique2(idxs, /*sorted=*/true));
  for (int64_t c = 0; c < classes.numel(); ++c) {
    const at::Tensor curr_indices = at::where(idxs == classes[c])[0];
    const at::Tensor curr_keep =
        Nms(boxes.index({curr_indices}), scores.index({curr_indices}), iou_threshold);
    keep_mask.index_put_({curr_indices.index({curr_keep})}, true);
  }
  const at::Tensor keep_indices = at::where(keep_mask)[0];
  // keep_indices[scores[keep_indices].sort(descending=True)[1]]
  return keep_indices.index({std::get<1>(scores.index({keep_indices}).sort(-1, true))});
}

at::Tensor BatchedNms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                      double iou_threshold) {
  if (boxes.numel() > 4000) return BatchedNmsVanilla(boxes, scores, idxs, iou_threshold);
  return BatchedNmsCoordinateTrick(boxes, scores, idxs, iou_threshold);
}

bool BitwiseEqual(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const at::Tensor ac = a.contiguous();
  const at::Tensor bc = b.contiguous();
  return std::memcmp(ac.data_ptr(), bc.data_ptr(), ac.nbytes()) == 0;
}

}  // namespace d2x::ops::reference
