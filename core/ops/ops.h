// d2x's LibTorch custom operators (namespace `d2x`), with a typed C++ API.
//
// The ops reproduce torchvision 0.14's CPU kernels bit for bit, so a model exported by d2x gives
// exactly the numbers detectron2 gives with torchvision:
//
//   d2x::roi_align(Tensor input, Tensor rois, float spatial_scale, int pooled_height,
//                  int pooled_width, int sampling_ratio, bool aligned) -> Tensor
//       = torchvision::roi_align (forward only). rois is [K, 5] (batch_index, x1, y1, x2, y2);
//         aligned=true is detectron2's ROIAlignV2. float32 and float64.
//   d2x::nms(Tensor boxes, Tensor scores, float iou_threshold) -> Tensor
//       = torchvision::nms: int64 indices of the kept boxes, in decreasing score order.
//   d2x::batched_nms(Tensor boxes, Tensor scores, Tensor idxs, float iou_threshold) -> Tensor
//       = torchvision.ops.batched_nms in eager mode, as one op: the coordinate-offset trick when
//         boxes.numel() <= 4000 (at most 1000 boxes), one NMS per class otherwise. The two
//         regimes can differ in the last bit (the trick shifts the boxes), and each is matched.
//         detectron2's own batched_nms calls it with boxes.float(); callers do that cast.
//
// The coarse, shape-generic detection ops of exported graphs (normalize_images, rpn_proposals,
// multilevel_roi_align, box_postprocess, detector_postprocess, paste_masks,
// heatmaps_to_keypoints) have their typed wrappers in detection_ops.h.
//
// The functions below call the ops through the c10 dispatcher, so the LibTorch tracer records
// `d2x::...` nodes (not the ATen ops inside the kernels). They behave like ATen functions: invalid
// input throws c10::Error, to be converted to absl::Status at the API boundary of the caller (the
// exporter or runner that runs the model).
//
// Linking: the kernels are registered by static initializers, so exactly one copy of them may be
// in a process:
//   //core/ops:ops_hdrs       this header only; plugins depend on it.
//   //core/ops:ops            the kernels (alwayslink); linked into the d2x binary and tests.
//   //core/ops:libd2x_ops.so  the same kernels as a shared library, shipped with exported
//                             TorchScript and loadable from Python (torch.ops.load_library).
// Loading libd2x_ops.so into a process that already has //core/ops:ops fails loudly ("Only a
// single TORCH_LIBRARY can be used to register the namespace d2x").
//
// Adding an op (e.g. generate_proposals, paste_masks):
//   1. its schema: one `m.def(...)` line in ops_registration.cc, the only TORCH_LIBRARY(d2x);
//      all schemas in one place keep the namespace reviewable;
//   2. its kernel in its own file (foo.cc) with `TORCH_LIBRARY_IMPL(d2x, CPU, m) { m.impl(...); }`;
//   3. its source in kOpsSrcs in core/ops/BUILD.bazel (shared by :ops and :libd2x_ops.so);
//   4. a typed wrapper here, and a name constant; its signature must match the schema
//      (typed<>() checks it on first call; every wrapper is exercised by ops tests).
#ifndef D2X_CORE_OPS_OPS_H_
#define D2X_CORE_OPS_OPS_H_

#include <ATen/core/Tensor.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <cstdint>

namespace d2x::ops {

// Qualified op names, e.g. for matching graph nodes (node->kind().toQualString()).
inline constexpr char kRoiAlignOp[] = "d2x::roi_align";
inline constexpr char kNmsOp[] = "d2x::nms";
inline constexpr char kBatchedNmsOp[] = "d2x::batched_nms";

// RoIAlign forward, torchvision::roi_align semantics. input [N, C, H, W]; rois [K, 5] of the same
// dtype as input. Returns [K, C, pooled_height, pooled_width].
inline at::Tensor RoiAlign(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                           int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                           bool aligned) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow(kRoiAlignOp, "")
                             .typed<at::Tensor(const at::Tensor&, const at::Tensor&, double,
                                               int64_t, int64_t, int64_t, bool)>();
  return op.call(input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned);
}

// NMS, torchvision::nms semantics. boxes [N, 4] (x1, y1, x2, y2), scores [N] of the same dtype.
// Returns int64 [M] indices of the kept boxes, by decreasing score.
inline at::Tensor Nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow(kNmsOp, "")
                             .typed<at::Tensor(const at::Tensor&, const at::Tensor&, double)>();
  return op.call(boxes, scores, iou_threshold);
}

// Per-category NMS, torchvision.ops.batched_nms semantics (eager). idxs [N] integer categories.
// Returns int64 [M] indices of the kept boxes, by decreasing score.
inline at::Tensor BatchedNms(const at::Tensor& boxes, const at::Tensor& scores,
                             const at::Tensor& idxs, double iou_threshold) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow(kBatchedNmsOp, "")
          .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, double)>();
  return op.call(boxes, scores, idxs, iou_threshold);
}

}  // namespace d2x::ops

#endif  // D2X_CORE_OPS_OPS_H_
