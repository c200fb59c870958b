// Box-branch post-processing of R-CNN models, as shape-generic ops:
//
// d2x::box_postprocess: FastRCNNOutputLayers.inference (predict_boxes + predict_probs +
//   fast_rcnn_inference_single_image per image: finite filter, clip, score threshold, class-wise
//   NMS, top-k) for the proposals of a whole batch, given as ROIPooler rois [R, 5].
//   Returns (boxes [D, 4], scores [D], classes [D] int64, batch_index [D] int64), grouped by
//   image in order, in the coordinates of the image the model saw.
// d2x::detector_postprocess: the box part of detectron2's detector_postprocess per detection:
//   scale to the requested output size of its image, clip, and find the non-empty boxes.
//   Returns (boxes [D, 4] scaled and clipped, scales [D, 2] float32 (scale_x, scale_y) for
//   keypoints, keep [D'] int64 indices of the non-empty boxes, num_instances [N] int64 kept per
//   image).
//
// fast_rcnn_inference_single_image is internal::FastRcnnInferenceSingleImage (box_math.h), which
// the eager box head runs too; the rest repeats plugins/arch/rcnn/box_head.cc
// (FastRcnnOutputLayers::Inference) and core/structures/postprocess.cc (RescaleAndClipBoxes)
// operation for operation: the results are bit-identical to the eager model's.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <array>
#include <tuple>
#include <vector>

#include "core/ops/box_math.h"
#include "core/ops/ops.h"

namespace d2x::ops {
namespace {

}  // namespace

namespace internal {

FastRcnnDetections FastRcnnInferenceSingleImage(at::Tensor boxes, at::Tensor scores,
                                                int64_t height, int64_t width,
                                                double score_thresh, double nms_thresh,
                                                int64_t topk_per_image) {
  at::Tensor valid_mask = at::isfinite(boxes).all(1).logical_and(at::isfinite(scores).all(1));
  at::Tensor proposal_index;  // maps rows after filtering back to the input rows
  if (!valid_mask.all().item<bool>()) {
    proposal_index = valid_mask.nonzero().select(1, 0);
    boxes = boxes.index({valid_mask});
    scores = scores.index({valid_mask});
  }
  scores = scores.slice(1, 0, -1);
  const int64_t num_bbox_reg_classes = boxes.size(1) / 4;
  boxes = ClipBoxes(boxes.reshape({-1, 4}), height, width).view({-1, num_bbox_reg_classes, 4});

  // 1. Filter by score.
  at::Tensor filter_mask = scores > score_thresh;  // R x K
  at::Tensor filter_inds = filter_mask.nonzero();  // R' x 2: (proposal, class)
  if (num_bbox_reg_classes == 1) {
    boxes = boxes.index({filter_inds.select(1, 0), 0});
  } else {
    boxes = boxes.index({filter_mask});
  }
  scores = scores.index({filter_mask});

  // 2. Class-wise NMS, then the top-k.
  at::Tensor keep =
      BatchedNms(boxes.to(at::kFloat), scores, filter_inds.select(1, 1), nms_thresh);
  if (topk_per_image >= 0) keep = keep.slice(0, 0, topk_per_image);
  FastRcnnDetections out;
  out.boxes = boxes.index_select(0, keep);
  out.scores = scores.index_select(0, keep);
  filter_inds = filter_inds.index_select(0, keep);
  out.classes = filter_inds.select(1, 1).contiguous();
  out.kept = filter_inds.select(1, 0).contiguous();
  if (proposal_index.defined()) out.kept = proposal_index.index_select(0, out.kept);
  return out;
}

}  // namespace internal

namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> BoxPostprocessKernel(
    const at::Tensor& class_logits, const at::Tensor& box_deltas, const at::Tensor& proposal_rois,
    const at::Tensor& image_sizes, c10::ArrayRef<double> bbox_reg_weights, double scale_clamp,
    bool use_sigmoid, double score_thresh, double nms_thresh, int64_t topk_per_image) {
  constexpr const char* kOp = "d2x::box_postprocess";
  TORCH_CHECK(bbox_reg_weights.size() == 4, kOp, ": bbox_reg_weights must have 4 values, got ",
              bbox_reg_weights.size());
  TORCH_CHECK(proposal_rois.dim() == 2 && proposal_rois.size(1) == 5, kOp,
              ": proposal_rois must be [R, 5], got ", proposal_rois.sizes());
  const int64_t r = proposal_rois.size(0);
  TORCH_CHECK(class_logits.dim() == 2 && class_logits.size(0) == r && class_logits.size(1) >= 2,
              kOp, ": class_logits must be [", r, ", K + 1], got ", class_logits.sizes());
  const int64_t k = class_logits.size(1) - 1;
  TORCH_CHECK(box_deltas.dim() == 2 && box_deltas.size(0) == r &&
                  (box_deltas.size(1) == 4 || box_deltas.size(1) == 4 * k),
              kOp, ": box_deltas must be [", r, ", 4] or [", r, ", ", 4 * k, "], got ",
              box_deltas.sizes());
  const at::Tensor sizes = internal::CheckImageSizes(image_sizes, kOp, "image_sizes");
  const int64_t n = sizes.size(0);
  const std::vector<int64_t> counts =
      internal::CountRowsPerImage(proposal_rois.select(1, 0), n, kOp);
  const std::array<double, 4> weights = {bbox_reg_weights[0], bbox_reg_weights[1],
                                         bbox_reg_weights[2], bbox_reg_weights[3]};

  // predict_boxes / predict_probs for all images at once, then per image.
  at::Tensor boxes =
      internal::ApplyDeltas(box_deltas, proposal_rois.slice(1, 1, 5), weights, scale_clamp);
  at::Tensor probs = use_sigmoid ? class_logits.sigmoid() : at::softmax(class_logits, -1);
  std::vector<at::Tensor> boxes_per_image = boxes.split_with_sizes(counts, 0);
  std::vector<at::Tensor> probs_per_image = probs.split_with_sizes(counts, 0);
  const int64_t* s = sizes.data_ptr<int64_t>();
  std::vector<at::Tensor> out_boxes, out_scores, out_classes, out_index;
  for (int64_t i = 0; i < n; ++i) {
    internal::FastRcnnDetections d = internal::FastRcnnInferenceSingleImage(boxes_per_image[i], probs_per_image[i], s[2 * i],
                                        s[2 * i + 1], score_thresh, nms_thresh, topk_per_image);
    out_index.push_back(at::full({d.boxes.size(0)}, i, d.classes.options()));
    out_boxes.push_back(std::move(d.boxes));
    out_scores.push_back(std::move(d.scores));
    out_classes.push_back(std::move(d.classes));
  }
  if (n == 0) {
    return {at::zeros({0, 4}, boxes.options()), at::zeros({0}, probs.options()),
            at::zeros({0}, at::kLong), at::zeros({0}, at::kLong)};
  }
  return {at::cat(out_boxes, 0), at::cat(out_scores, 0), at::cat(out_classes, 0),
          at::cat(out_index, 0)};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> DetectorPostprocessKernel(
    const at::Tensor& boxes, const at::Tensor& batch_index, const at::Tensor& image_sizes,
    const at::Tensor& output_sizes) {
  constexpr const char* kOp = "d2x::detector_postprocess";
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4 && at::isFloatingType(boxes.scalar_type()),
              kOp, ": boxes must be a floating-point [D, 4] tensor, got ", boxes.scalar_type(),
              boxes.sizes());
  TORCH_CHECK(batch_index.dim() == 1 && batch_index.size(0) == boxes.size(0), kOp,
              ": batch_index must be [", boxes.size(0), "], got ", batch_index.sizes());
  const at::Tensor in_sizes = internal::CheckImageSizes(image_sizes, kOp, "image_sizes");
  const at::Tensor out_sizes = internal::CheckImageSizes(output_sizes, kOp, "output_sizes");
  const int64_t n = in_sizes.size(0);
  TORCH_CHECK(out_sizes.size(0) == n, kOp, ": output_sizes has ", out_sizes.size(0),
              " rows, image_sizes ", n);
  const std::vector<int64_t> counts = internal::CountRowsPerImage(batch_index, n, kOp);
  const int64_t* in_s = in_sizes.data_ptr<int64_t>();
  const int64_t* out_s = out_sizes.data_ptr<int64_t>();

  std::vector<at::Tensor> out_boxes, out_scales, keep;
  std::vector<int64_t> num_instances(n, 0);
  int64_t start = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t in_h = in_s[2 * i], in_w = in_s[2 * i + 1];
    const int64_t out_h = out_s[2 * i], out_w = out_s[2 * i + 1];
    TORCH_CHECK(in_h > 0 && in_w > 0 && out_h > 0 && out_w > 0, kOp,
                ": sizes must be positive, got input ", in_h, "x", in_w, " output ", out_h, "x",
                out_w, " for image ", i);
    // RescaleAndClipBoxes.
    const double scale_x = static_cast<double>(out_w) / static_cast<double>(in_w);
    const double scale_y = static_cast<double>(out_h) / static_cast<double>(in_h);
    at::Tensor scaled = boxes.slice(0, start, start + counts[i]).clone();
    scaled.slice(1, 0, 4, 2).mul_(scale_x);
    scaled.slice(1, 1, 4, 2).mul_(scale_y);
    at::Tensor clipped = internal::ClipBoxes(scaled, out_h, out_w);
    at::Tensor kept = internal::NonemptyBoxes(clipped, 0.0).nonzero().select(1, 0);
    num_instances[i] = kept.size(0);
    keep.push_back(kept + start);
    out_boxes.push_back(clipped);
    // The scale as the float32 value ATen multiplies float tensors with (mul_(double scalar)).
    out_scales.push_back(at::tensor({static_cast<float>(scale_x), static_cast<float>(scale_y)},
                                    at::kFloat)
                             .view({1, 2})
                             .expand({counts[i], 2}));
    start += counts[i];
  }
  const at::TensorOptions long_options = at::TensorOptions().dtype(at::kLong);
  if (n == 0) {
    return {boxes.clone(), at::zeros({0, 2}, at::kFloat), at::zeros({0}, long_options),
            at::zeros({0}, long_options)};
  }
  return {at::cat(out_boxes, 0), at::cat(out_scales, 0).contiguous(), at::cat(keep, 0),
          at::tensor(num_instances, long_options)};
}

}  // namespace

TORCH_LIBRARY_IMPL(d2x, CPU, m) {
  m.impl("box_postprocess", TORCH_FN(BoxPostprocessKernel));
  m.impl("detector_postprocess", TORCH_FN(DetectorPostprocessKernel));
}

}  // namespace d2x::ops
