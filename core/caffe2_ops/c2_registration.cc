// The schemas of the Caffe2-semantics ops (c2_ops.h): each is the Caffe2 operator's C10 schema
// (pytorch caffe2/operators/*.cc) under the d2x namespace. A fragment: core/ops owns the
// namespace's TORCH_LIBRARY block.
#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(d2x, m) {
  m.def(
      "c2_generate_proposals(Tensor scores, Tensor bbox_deltas, Tensor im_info, Tensor anchors, "
      "float spatial_scale, int pre_nms_topN, int post_nms_topN, float nms_thresh, "
      "float min_size, bool angle_bound_on, int angle_bound_lo, int angle_bound_hi, "
      "float clip_angle_thresh, bool legacy_plus_one) -> (Tensor rois, Tensor rois_probs)");
  m.def(
      "c2_collect_rpn_proposals(Tensor[] input_list, int rpn_max_level, int rpn_min_level, "
      "int rpn_post_nms_topN) -> Tensor rois");
  m.def(
      "c2_distribute_fpn_proposals(Tensor rois, int roi_canonical_scale, "
      "int roi_canonical_level, int roi_max_level, int roi_min_level, bool legacy_plus_one) -> "
      "(Tensor rois_fpn2, Tensor rois_fpn3, Tensor rois_fpn4, Tensor rois_fpn5, "
      "Tensor rois_idx_restore_int32)");
  m.def("c2_batch_permutation(Tensor X, Tensor indices) -> Tensor");
  m.def(
      "c2_bbox_transform(Tensor rois, Tensor deltas, Tensor im_info, float[] weights, "
      "bool apply_scale, bool rotated, bool angle_bound_on, int angle_bound_lo, "
      "int angle_bound_hi, float clip_angle_thresh, bool legacy_plus_one) -> "
      "(Tensor output_0, Tensor output_1)");
  m.def(
      "c2_box_with_nms_limit(Tensor scores, Tensor boxes, Tensor batch_splits, "
      "float score_thresh, float nms, int detections_per_im, bool soft_nms_enabled, "
      "str soft_nms_method, float soft_nms_sigma, float soft_nms_min_score_thres, bool rotated, "
      "bool cls_agnostic_bbox_reg, bool input_boxes_include_bg_cls, "
      "bool output_classes_include_bg_cls, bool legacy_plus_one) -> (Tensor scores, "
      "Tensor boxes, Tensor classes, Tensor batch_splits, Tensor keeps, Tensor keeps_size)");
  m.def("c2_lengths_to_segment_ids(Tensor lengths) -> Tensor");
  m.def("c2_alias_with_name(Tensor input, str name, bool is_backward) -> Tensor");
}
