// Caffe2-semantics detection ops (namespace d2x, prefix c2_): what the "caffe2" rewrite flavor
// calls so that a trace maps one node to one Caffe2 operator (detectron2's Caffe2 export,
// docs/SPEC.md §A.3), and what the Caffe2 net executor runs for those operators.
//
// Each schema is the Caffe2 operator's own C10 schema (pytorch caffe2/operators/*.cc,
// C10_EXPORT_CAFFE2_OP_TO_C10_CPU): same inputs, argument names and outputs, so the converter
// writes the non-tensor arguments as OperatorDef args under their schema names (bool -> i,
// int -> i, float -> f, str -> s, float[] -> floats) and the executor rebuilds the call from them.
// Kernels follow the Caffe2 CPU kernels with legacy_plus_one=False (width = x2 - x1); see each
// .cc for the details and the one deliberate difference (CollectRpnProposals keeps the top
// rpn_post_nms_topN per image instead of per batch, so that batches > 1 give each image what a
// batch of 1 gives it; identical for one image).
//
//   c2_generate_proposals(scores [N,A,H,W], bbox_deltas [N,4A,H,W], im_info [N,3], anchors [A,4],
//       spatial_scale, pre_nms_topN, post_nms_topN, nms_thresh, min_size, angle_bound_on,
//       angle_bound_lo, angle_bound_hi, clip_angle_thresh, legacy_plus_one)
//       -> (rois [R,5], rois_probs [R])                                 GenerateProposals
//   c2_collect_rpn_proposals(input_list: rois[l]..., probs[l]..., rpn_max_level, rpn_min_level,
//       rpn_post_nms_topN) -> rois [R,5]                                CollectRpnProposals
//   c2_distribute_fpn_proposals(rois, roi_canonical_scale, roi_canonical_level, roi_max_level,
//       roi_min_level, legacy_plus_one) -> (rois_fpn2..5, rois_idx_restore_int32)
//                                                                       DistributeFpnProposals
//   c2_batch_permutation(X, indices int32) -> X[indices]                BatchPermutation
//   c2_bbox_transform(rois [R,5], deltas [R,4K], im_info, weights, apply_scale, rotated,
//       angle_bound_on, angle_bound_lo, angle_bound_hi, clip_angle_thresh, legacy_plus_one)
//       -> (box_out [R,4K], roi_batch_splits float [N])                 BBoxTransform
//   c2_box_with_nms_limit(scores [R,K+1], boxes [R,4K], batch_splits, score_thresh, nms,
//       detections_per_im, soft_nms_enabled, soft_nms_method, soft_nms_sigma,
//       soft_nms_min_score_thres, rotated, cls_agnostic_bbox_reg, input_boxes_include_bg_cls,
//       output_classes_include_bg_cls, legacy_plus_one)
//       -> (scores, boxes, classes (float), batch_splits (float), keeps int32, keeps_size int32)
//                                                                       BoxWithNMSLimit
//   c2_lengths_to_segment_ids(lengths int32 [N]) -> int32 [sum]         LengthsToSegmentIds
//   c2_alias_with_name(input, name, is_backward) -> a copy of input     AliasWithName
//       names a blob (the converter fuses it away and renames the blob, like detectron2's
//       fuse_alias_placeholder); net inputs and outputs are marked with it.
//
// Only what detectron2's export uses is implemented: upright boxes (rotated=False), hard NMS
// (soft_nms_enabled=False), legacy_plus_one=False; other values are rejected with an error.
//
// Linking: the kernels register from static initializers (TORCH_LIBRARY_FRAGMENT(d2x)) in
// //core/caffe2_ops:c2_ops, which is part of //core:host (the d2x binary, tests). Plugins depend on
// :c2_ops_hdrs only.
#ifndef D2X_CORE_CAFFE2_OPS_C2_OPS_H_
#define D2X_CORE_CAFFE2_OPS_C2_OPS_H_

#include <ATen/core/Tensor.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace d2x::c2ops {

inline constexpr char kGenerateProposalsOp[] = "d2x::c2_generate_proposals";
inline constexpr char kCollectRpnProposalsOp[] = "d2x::c2_collect_rpn_proposals";
inline constexpr char kDistributeFpnProposalsOp[] = "d2x::c2_distribute_fpn_proposals";
inline constexpr char kBatchPermutationOp[] = "d2x::c2_batch_permutation";
inline constexpr char kBBoxTransformOp[] = "d2x::c2_bbox_transform";
inline constexpr char kBoxWithNmsLimitOp[] = "d2x::c2_box_with_nms_limit";
inline constexpr char kLengthsToSegmentIdsOp[] = "d2x::c2_lengths_to_segment_ids";
inline constexpr char kAliasWithNameOp[] = "d2x::c2_alias_with_name";

// A c2_ op and the Caffe2 operator type it stands for.
struct Caffe2OpType {
  const char* d2x_op;
  const char* caffe2_type;
};

inline const std::vector<Caffe2OpType>& Caffe2OpTypes() {
  static const std::vector<Caffe2OpType> kTypes = {
      {kGenerateProposalsOp, "GenerateProposals"},
      {kCollectRpnProposalsOp, "CollectRpnProposals"},
      {kDistributeFpnProposalsOp, "DistributeFpnProposals"},
      {kBatchPermutationOp, "BatchPermutation"},
      {kBBoxTransformOp, "BBoxTransform"},
      {kBoxWithNmsLimitOp, "BoxWithNMSLimit"},
      {kLengthsToSegmentIdsOp, "LengthsToSegmentIds"},
      {kAliasWithNameOp, "AliasWithName"},
  };
  return kTypes;
}

// The Caffe2 type of a d2x op name ("" if it is not a c2_ op), and back.
inline std::string Caffe2TypeOf(const std::string& d2x_op) {
  for (const Caffe2OpType& t : Caffe2OpTypes()) {
    if (d2x_op == t.d2x_op) return t.caffe2_type;
  }
  return "";
}
inline std::string D2xOpOf(const std::string& caffe2_type) {
  for (const Caffe2OpType& t : Caffe2OpTypes()) {
    if (caffe2_type == t.caffe2_type) return t.d2x_op;
  }
  return "";
}

// Arguments shared by the box ops, with detectron2's export values.
struct RotatedArgs {
  bool angle_bound_on = true;
  int64_t angle_bound_lo = -180, angle_bound_hi = 180;
  double clip_angle_thresh = 1.0;
};

inline std::tuple<at::Tensor, at::Tensor> GenerateProposals(
    const at::Tensor& scores, const at::Tensor& bbox_deltas, const at::Tensor& im_info,
    const at::Tensor& anchors, double spatial_scale, int64_t pre_nms_topn, int64_t post_nms_topn,
    double nms_thresh, double min_size) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow(kGenerateProposalsOp, "")
          .typed<std::tuple<at::Tensor, at::Tensor>(
              const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, double,
              int64_t, int64_t, double, double, bool, int64_t, int64_t, double, bool)>();
  const RotatedArgs r;
  return op.call(scores, bbox_deltas, im_info, anchors, spatial_scale, pre_nms_topn,
                 post_nms_topn, nms_thresh, min_size, r.angle_bound_on, r.angle_bound_lo,
                 r.angle_bound_hi, r.clip_angle_thresh, /*legacy_plus_one=*/false);
}

// input_list = rois of every level, then their probs.
inline at::Tensor CollectRpnProposals(at::TensorList input_list, int64_t rpn_max_level,
                                      int64_t rpn_min_level, int64_t rpn_post_nms_topn) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow(kCollectRpnProposalsOp, "")
                             .typed<at::Tensor(at::TensorList, int64_t, int64_t, int64_t)>();
  return op.call(input_list, rpn_max_level, rpn_min_level, rpn_post_nms_topn);
}

// Returns rois_fpn2, rois_fpn3, rois_fpn4, rois_fpn5, rois_idx_restore_int32.
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
DistributeFpnProposals(const at::Tensor& rois, int64_t roi_canonical_scale,
                       int64_t roi_canonical_level, int64_t roi_max_level,
                       int64_t roi_min_level) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow(kDistributeFpnProposalsOp, "")
          .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>(
              const at::Tensor&, int64_t, int64_t, int64_t, int64_t, bool)>();
  return op.call(rois, roi_canonical_scale, roi_canonical_level, roi_max_level, roi_min_level,
                 /*legacy_plus_one=*/false);
}

inline at::Tensor BatchPermutation(const at::Tensor& x, const at::Tensor& indices) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow(kBatchPermutationOp, "")
                             .typed<at::Tensor(const at::Tensor&, const at::Tensor&)>();
  return op.call(x, indices);
}

// Returns (box_out [R, 4K], roi_batch_splits [N] float).
inline std::tuple<at::Tensor, at::Tensor> BBoxTransform(const at::Tensor& rois,
                                                        const at::Tensor& deltas,
                                                        const at::Tensor& im_info,
                                                        c10::ArrayRef<double> weights,
                                                        bool apply_scale) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow(kBBoxTransformOp, "")
          .typed<std::tuple<at::Tensor, at::Tensor>(
              const at::Tensor&, const at::Tensor&, const at::Tensor&, c10::ArrayRef<double>,
              bool, bool, bool, int64_t, int64_t, double, bool)>();
  const RotatedArgs r;
  return op.call(rois, deltas, im_info, weights, apply_scale, /*rotated=*/false, r.angle_bound_on,
                 r.angle_bound_lo, r.angle_bound_hi, r.clip_angle_thresh,
                 /*legacy_plus_one=*/false);
}

// Returns (scores, boxes, classes, batch_splits, keeps, keeps_size).
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
BoxWithNmsLimit(const at::Tensor& scores, const at::Tensor& boxes, const at::Tensor& batch_splits,
                double score_thresh, double nms, int64_t detections_per_im,
                bool cls_agnostic_bbox_reg) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow(kBoxWithNmsLimitOp, "")
          .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor,
                            at::Tensor>(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                        double, double, int64_t, bool, c10::string_view, double,
                                        double, bool, bool, bool, bool, bool)>();
  return op.call(scores, boxes, batch_splits, score_thresh, nms, detections_per_im,
                 /*soft_nms_enabled=*/false, "linear", /*soft_nms_sigma=*/0.5,
                 /*soft_nms_min_score_thres=*/0.001, /*rotated=*/false, cls_agnostic_bbox_reg,
                 /*input_boxes_include_bg_cls=*/false, /*output_classes_include_bg_cls=*/false,
                 /*legacy_plus_one=*/false);
}

inline at::Tensor LengthsToSegmentIds(const at::Tensor& lengths) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow(kLengthsToSegmentIdsOp, "")
                             .typed<at::Tensor(const at::Tensor&)>();
  return op.call(lengths);
}

inline at::Tensor AliasWithName(const at::Tensor& input, const std::string& name,
                                bool is_backward = false) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow(kAliasWithNameOp, "")
          .typed<at::Tensor(const at::Tensor&, c10::string_view, bool)>();
  return op.call(input, name, is_backward);
}

}  // namespace d2x::c2ops

#endif  // D2X_CORE_CAFFE2_OPS_C2_OPS_H_
