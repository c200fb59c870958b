// Coarse, shape-generic detection ops: what an exported detector graph calls instead of the
// eager post-processing (docs/DESIGN.md, key decision 1; docs/EXPORT.md).
//
// A C++ trace records every size read from a tensor as a constant. These ops read sizes, counts
// and per-image splits at run time, inside their kernels, so a graph traced at one image size and
// batch size runs at any other. Each kernel repeats the eager model's code operation for
// operation (see the comments in its .cc), so exported and eager models agree bit for bit.
//
// Conventions: image sizes are int64 [N, 2] (height, width); detections of a batch are
// concatenated image after image with an int64 batch_index [D] (or ROIPooler rois [R, 5] whose
// first column is the batch index); everything runs on CPU.
//
//   d2x::normalize_images(images [N,C,Hp,Wp], image_sizes, pixel_mean, pixel_std) -> [N,C,Hp,Wp]
//       (x - mean) / std, then zero outside each image: GeneralizedRCNN.preprocess_image on an
//       already padded batch.
//   d2x::rpn_proposals(objectness[l] [N,A,Hl,Wl], anchor_deltas[l] [N,4A,Hl,Wl],
//                      cell_anchors[l] [A,4], strides, offset, image_sizes, bbox_reg_weights,
//                      scale_clamp, nms_thresh, pre_nms_topk, post_nms_topk, min_box_size)
//       -> (rois [R,5], objectness_logits [R]): anchors + decode + find_top_rpn_proposals.
//   d2x::multilevel_roi_align(features[l], rois [R,5], scales, output_height, output_width,
//                             sampling_ratio, aligned, canonical_box_size, canonical_level)
//       -> [R,C,oh,ow]: ROIPooler.forward (level assignment + roi_align per level).
//   d2x::box_postprocess(class_logits [R,K+1], box_deltas [R,4K|4], proposal_rois [R,5],
//                        image_sizes, bbox_reg_weights, scale_clamp, use_sigmoid, score_thresh,
//                        nms_thresh, topk_per_image)
//       -> (boxes [D,4], scores [D], classes [D], batch_index [D]): FastRCNNOutputLayers.inference.
//   d2x::detector_postprocess(boxes [D,4], batch_index [D], image_sizes, output_sizes)
//       -> (boxes [D,4], scales [D,2], keep [D'], num_instances [N]): rescale to the output size,
//       clip, non-empty rows (the box part of detector_postprocess).
//   d2x::paste_masks(masks [D,M,M], boxes [D,4], batch_index [D], output_sizes, threshold)
//       -> bool [D, max H, max W]: paste_masks_in_image per image, on a batch-max canvas.
//   d2x::heatmaps_to_keypoints(maps [R,K,S,S], rois [R,4]) -> [R,K,4] (x, y, logit, score).
//   d2x::dense_detections(cls_logits[l] [N,A*K,Hl,Wl], box_deltas[l] [N,4A,Hl,Wl], cell_anchors,
//                         strides, offset, image_sizes, num_classes, bbox_reg_weights,
//                         scale_clamp, score_thresh, topk_candidates, nms_thresh, max_detections)
//       -> (boxes [D,4], scores [D], classes [D], batch_index [D]): RetinaNet's inference.
//   d2x::sem_seg_postprocess(logits [N,C,Hp,Wp], image_sizes, output_sizes) -> [N,C,Hm,Wm]:
//       crop + bilinear resize per image, on a batch-max canvas.
//   d2x::panoptic_combine(scores, classes, masks [D,Hm,Wm], batch_index, sem_seg [N,C,Hm,Wm],
//                         output_sizes, overlap_threshold, stuff_area_thresh,
//                         instances_score_thresh)
//       -> (panoptic_seg int32 [N,Hm,Wm], segments_info int64 [S,5] (id, category_id, isthing,
//           area, instance_id), segments_score [S], num_segments [N]): PanopticFPN's combine.
//
// The wrappers below call the ops through the dispatcher (so the tracer records d2x:: nodes);
// invalid input throws c10::Error. Linking: see ops.h (the kernels are part of //core/ops:ops and
// libd2x_ops.so).
#ifndef D2X_CORE_OPS_DETECTION_OPS_H_
#define D2X_CORE_OPS_DETECTION_OPS_H_

#include <ATen/core/Tensor.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <cstdint>
#include <tuple>

namespace d2x::ops {

inline constexpr char kNormalizeImagesOp[] = "d2x::normalize_images";
inline constexpr char kRpnProposalsOp[] = "d2x::rpn_proposals";
inline constexpr char kMultilevelRoiAlignOp[] = "d2x::multilevel_roi_align";
inline constexpr char kBoxPostprocessOp[] = "d2x::box_postprocess";
inline constexpr char kDetectorPostprocessOp[] = "d2x::detector_postprocess";
inline constexpr char kPasteMasksOp[] = "d2x::paste_masks";
inline constexpr char kHeatmapsToKeypointsOp[] = "d2x::heatmaps_to_keypoints";
inline constexpr char kDenseDetectionsOp[] = "d2x::dense_detections";
inline constexpr char kSemSegPostprocessOp[] = "d2x::sem_seg_postprocess";
inline constexpr char kPanopticCombineOp[] = "d2x::panoptic_combine";

inline at::Tensor NormalizeImages(const at::Tensor& images, const at::Tensor& image_sizes,
                                  c10::ArrayRef<double> pixel_mean,
                                  c10::ArrayRef<double> pixel_std) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow(kNormalizeImagesOp, "")
                             .typed<at::Tensor(const at::Tensor&, const at::Tensor&,
                                               c10::ArrayRef<double>, c10::ArrayRef<double>)>();
  return op.call(images, image_sizes, pixel_mean, pixel_std);
}

// Returns (rois [R, 5], objectness_logits [R]).
inline std::tuple<at::Tensor, at::Tensor> RpnProposals(
    at::TensorList objectness, at::TensorList anchor_deltas, at::TensorList cell_anchors,
    c10::IntArrayRef strides, double offset, const at::Tensor& image_sizes,
    c10::ArrayRef<double> bbox_reg_weights, double scale_clamp, double nms_thresh,
    int64_t pre_nms_topk, int64_t post_nms_topk, double min_box_size) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow(kRpnProposalsOp, "")
          .typed<std::tuple<at::Tensor, at::Tensor>(
              at::TensorList, at::TensorList, at::TensorList, c10::IntArrayRef, double,
              const at::Tensor&, c10::ArrayRef<double>, double, double, int64_t, int64_t,
              double)>();
  return op.call(objectness, anchor_deltas, cell_anchors, strides, offset, image_sizes,
                 bbox_reg_weights, scale_clamp, nms_thresh, pre_nms_topk, post_nms_topk,
                 min_box_size);
}

inline at::Tensor MultilevelRoiAlign(at::TensorList features, const at::Tensor& rois,
                                     c10::ArrayRef<double> scales, int64_t output_height,
                                     int64_t output_width, int64_t sampling_ratio, bool aligned,
                                     int64_t canonical_box_size, int64_t canonical_level) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow(kMultilevelRoiAlignOp, "")
          .typed<at::Tensor(at::TensorList, const at::Tensor&, c10::ArrayRef<double>, int64_t,
                            int64_t, int64_t, bool, int64_t, int64_t)>();
  return op.call(features, rois, scales, output_height, output_width, sampling_ratio, aligned,
                 canonical_box_size, canonical_level);
}

// Returns (boxes [D, 4], scores [D], classes [D] int64, batch_index [D] int64).
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> BoxPostprocess(
    const at::Tensor& class_logits, const at::Tensor& box_deltas, const at::Tensor& proposal_rois,
    const at::Tensor& image_sizes, c10::ArrayRef<double> bbox_reg_weights, double scale_clamp,
    bool use_sigmoid, double score_thresh, double nms_thresh, int64_t topk_per_image) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow(kBoxPostprocessOp, "")
          .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>(
              const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
              c10::ArrayRef<double>, double, bool, double, double, int64_t)>();
  return op.call(class_logits, box_deltas, proposal_rois, image_sizes, bbox_reg_weights,
                 scale_clamp, use_sigmoid, score_thresh, nms_thresh, topk_per_image);
}

// Returns (boxes [D, 4], scales [D, 2], keep [D'] int64, num_instances [N] int64).
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> DetectorPostprocess(
    const at::Tensor& boxes, const at::Tensor& batch_index, const at::Tensor& image_sizes,
    const at::Tensor& output_sizes) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow(kDetectorPostprocessOp, "")
          .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>(
              const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&)>();
  return op.call(boxes, batch_index, image_sizes, output_sizes);
}

inline at::Tensor PasteMasks(const at::Tensor& masks, const at::Tensor& boxes,
                             const at::Tensor& batch_index, const at::Tensor& output_sizes,
                             double threshold) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow(kPasteMasksOp, "")
          .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                            const at::Tensor&, double)>();
  return op.call(masks, boxes, batch_index, output_sizes, threshold);
}

inline at::Tensor HeatmapsToKeypoints(const at::Tensor& maps, const at::Tensor& rois) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow(kHeatmapsToKeypointsOp, "")
                             .typed<at::Tensor(const at::Tensor&, const at::Tensor&)>();
  return op.call(maps, rois);
}

// Returns (boxes [D, 4], scores [D], classes [D] int64, batch_index [D] int64).
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> DenseDetections(
    at::TensorList cls_logits, at::TensorList box_deltas, at::TensorList cell_anchors,
    c10::IntArrayRef strides, double offset, const at::Tensor& image_sizes, int64_t num_classes,
    c10::ArrayRef<double> bbox_reg_weights, double scale_clamp, double score_thresh,
    int64_t topk_candidates, double nms_thresh, int64_t max_detections) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow(kDenseDetectionsOp, "")
          .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>(
              at::TensorList, at::TensorList, at::TensorList, c10::IntArrayRef, double,
              const at::Tensor&, int64_t, c10::ArrayRef<double>, double, double, int64_t, double,
              int64_t)>();
  return op.call(cls_logits, box_deltas, cell_anchors, strides, offset, image_sizes, num_classes,
                 bbox_reg_weights, scale_clamp, score_thresh, topk_candidates, nms_thresh,
                 max_detections);
}

inline at::Tensor SemSegPostprocess(const at::Tensor& logits, const at::Tensor& image_sizes,
                                    const at::Tensor& output_sizes) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow(kSemSegPostprocessOp, "")
          .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&)>();
  return op.call(logits, image_sizes, output_sizes);
}

// Returns (panoptic_seg [N, Hm, Wm] int32, segments_info [S, 5] int64, segments_score [S],
// num_segments [N] int64).
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> PanopticCombine(
    const at::Tensor& scores, const at::Tensor& classes, const at::Tensor& masks,
    const at::Tensor& batch_index, const at::Tensor& sem_seg, const at::Tensor& output_sizes,
    double overlap_threshold, double stuff_area_thresh, double instances_score_thresh) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow(kPanopticCombineOp, "")
          .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>(
              const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
              const at::Tensor&, const at::Tensor&, double, double, double)>();
  return op.call(scores, classes, masks, batch_index, sem_seg, output_sizes, overlap_threshold,
                 stuff_area_thresh, instances_score_thresh);
}

}  // namespace d2x::ops

#endif  // D2X_CORE_OPS_DETECTION_OPS_H_
