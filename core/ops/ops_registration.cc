// The d2x operator namespace: every schema, in the only TORCH_LIBRARY(d2x) block.
// Kernels live next to their implementation (TORCH_LIBRARY_IMPL(d2x, CPU, m) in roi_align.cc,
// nms.cc, ...). Keep these in sync with the typed wrappers in ops.h.
#include <torch/library.h>

TORCH_LIBRARY(d2x, m) {
  m.def(
      "roi_align(Tensor input, Tensor rois, float spatial_scale, int pooled_height, "
      "int pooled_width, int sampling_ratio, bool aligned) -> Tensor");
  m.def("nms(Tensor boxes, Tensor scores, float iou_threshold) -> Tensor");
  m.def("batched_nms(Tensor boxes, Tensor scores, Tensor idxs, float iou_threshold) -> Tensor");
  // Coarse, shape-generic detection ops for exported graphs (detection_ops.h).
  m.def(
      "normalize_images(Tensor images, Tensor image_sizes, float[] pixel_mean, "
      "float[] pixel_std) -> Tensor");
  m.def(
      "rpn_proposals(Tensor[] objectness, Tensor[] anchor_deltas, Tensor[] cell_anchors, "
      "int[] strides, float offset, Tensor image_sizes, float[] bbox_reg_weights, "
      "float scale_clamp, float nms_thresh, int pre_nms_topk, int post_nms_topk, "
      "float min_box_size) -> (Tensor rois, Tensor objectness_logits)");
  m.def(
      "multilevel_roi_align(Tensor[] features, Tensor rois, float[] scales, int output_height, "
      "int output_width, int sampling_ratio, bool aligned, int canonical_box_size, "
      "int canonical_level) -> Tensor");
  m.def(
      "box_postprocess(Tensor class_logits, Tensor box_deltas, Tensor proposal_rois, "
      "Tensor image_sizes, float[] bbox_reg_weights, float scale_clamp, bool use_sigmoid, "
      "float score_thresh, float nms_thresh, int topk_per_image) -> (Tensor boxes, "
      "Tensor scores, Tensor classes, Tensor batch_index)");
  m.def(
      "detector_postprocess(Tensor boxes, Tensor batch_index, Tensor image_sizes, "
      "Tensor output_sizes) -> (Tensor boxes, Tensor scales, Tensor keep, Tensor num_instances)");
  m.def(
      "paste_masks(Tensor masks, Tensor boxes, Tensor batch_index, Tensor output_sizes, "
      "float threshold) -> Tensor");
  m.def("heatmaps_to_keypoints(Tensor maps, Tensor rois) -> Tensor");
  m.def(
      "dense_detections(Tensor[] cls_logits, Tensor[] box_deltas, Tensor[] cell_anchors, "
      "int[] strides, float offset, Tensor image_sizes, int num_classes, "
      "float[] bbox_reg_weights, float scale_clamp, float score_thresh, int topk_candidates, "
      "float nms_thresh, int max_detections) -> (Tensor boxes, Tensor scores, Tensor classes, "
      "Tensor batch_index)");
  m.def("sem_seg_postprocess(Tensor logits, Tensor image_sizes, Tensor output_sizes) -> Tensor");
  m.def(
      "panoptic_combine(Tensor scores, Tensor classes, Tensor masks, Tensor batch_index, "
      "Tensor sem_seg, Tensor output_sizes, float overlap_threshold, float stuff_area_thresh, "
      "float instances_score_thresh) -> (Tensor panoptic_seg, Tensor segments_info, "
      "Tensor segments_score, Tensor num_segments)");
}
