// d2x::rpn_proposals: detectron2's RPN inference after the head, as one shape-generic op.
//
// From the raw head outputs it does what RPN.forward does at test time: the anchor grid of every
// level (DefaultAnchorGenerator._grid_anchors, read from the feature sizes at run time), the
// permute/flatten of logits and deltas, Box2BoxTransform.apply_deltas (_decode_proposals), and
// find_top_rpn_proposals (per-level top-k, per-image finite filter, clip, min-size filter,
// batched NMS by level, post-NMS top-k). The code repeats core/modeling's anchor_generator.cc,
// rpn.cc and proposal_utils.cc operation for operation, so the proposals are bit-identical.
//
// Output: rois [R, 5] float32 (batch index, x1, y1, x2, y2), grouped by image in order and sorted
// by decreasing objectness within an image (ROIPooler's format), and their logits [R].
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <tuple>
#include <vector>

#include "core/ops/box_math.h"
#include "core/ops/ops.h"

namespace d2x::ops {
namespace internal {

std::vector<std::pair<at::Tensor, at::Tensor>> FindTopRpnProposals(
    const std::vector<at::Tensor>& proposals, const std::vector<at::Tensor>& pred_objectness_logits,
    const std::vector<std::pair<int64_t, int64_t>>& image_sizes, double nms_thresh,
    int64_t pre_nms_topk, int64_t post_nms_topk, double min_box_size) {
  TORCH_CHECK(!proposals.empty() && proposals.size() == pred_objectness_logits.size(),
              "find_top_rpn_proposals: ", proposals.size(), " proposal levels vs ",
              pred_objectness_logits.size(), " logit levels");
  const int64_t n = static_cast<int64_t>(image_sizes.size());
  const at::Device device = proposals[0].device();

  // 1. Top-k anchors of every level and image.
  std::vector<at::Tensor> topk_scores, topk_proposals, level_ids;
  at::Tensor batch_idx = at::arange(n, at::TensorOptions().dtype(at::kLong).device(device));
  for (size_t level_id = 0; level_id < proposals.size(); ++level_id) {
    const at::Tensor& proposals_i = proposals[level_id];
    const at::Tensor& logits_i = pred_objectness_logits[level_id];
    const int64_t num_proposals_i = std::min(logits_i.size(1), pre_nms_topk);
    auto [topk_scores_i, topk_idx] = logits_i.topk(num_proposals_i, /*dim=*/1);
    // proposals_i[batch_idx[:, None], topk_idx] -> N x topk x 4
    topk_proposals.push_back(proposals_i.index({batch_idx.unsqueeze(1), topk_idx}));
    topk_scores.push_back(topk_scores_i);
    level_ids.push_back(at::full({num_proposals_i}, static_cast<int64_t>(level_id),
                                 at::TensorOptions().dtype(at::kLong).device(device)));
  }
  // 2. Concatenate the levels.
  at::Tensor all_scores = topk_scores.size() == 1 ? topk_scores[0] : at::cat(topk_scores, 1);
  at::Tensor all_proposals =
      topk_proposals.size() == 1 ? topk_proposals[0] : at::cat(topk_proposals, 1);
  at::Tensor all_levels = level_ids.size() == 1 ? level_ids[0] : at::cat(level_ids, 0);

  // 3. Per image: drop non-finite, clip, drop small boxes, NMS per level, top-k.
  std::vector<std::pair<at::Tensor, at::Tensor>> results;
  for (int64_t i = 0; i < n; ++i) {
    at::Tensor boxes = all_proposals[i];
    at::Tensor scores_per_img = all_scores[i];
    at::Tensor lvl = all_levels;

    at::Tensor valid_mask =
        at::isfinite(boxes).all(/*dim=*/1).logical_and_(at::isfinite(scores_per_img));
    if (!valid_mask.all().item<bool>()) {
      boxes = boxes.index({valid_mask});
      scores_per_img = scores_per_img.index({valid_mask});
      lvl = lvl.index({valid_mask});
    }
    boxes = ClipBoxes(boxes, image_sizes[i].first, image_sizes[i].second);

    at::Tensor keep = NonemptyBoxes(boxes, min_box_size);
    if (keep.sum().item<int64_t>() != boxes.size(0)) {
      boxes = boxes.index({keep});
      scores_per_img = scores_per_img.index({keep});
      lvl = lvl.index({keep});
    }

    at::Tensor kept = BatchedNms(boxes.to(at::kFloat), scores_per_img, lvl, nms_thresh);
    kept = kept.slice(0, 0, post_nms_topk);  // already sorted by score
    results.emplace_back(boxes.index_select(0, kept), scores_per_img.index_select(0, kept));
  }
  return results;
}

}  // namespace internal

namespace {

constexpr const char* kOp = "d2x::rpn_proposals";

std::tuple<at::Tensor, at::Tensor> RpnProposalsKernel(
    at::TensorList objectness, at::TensorList anchor_deltas, at::TensorList cell_anchors,
    c10::IntArrayRef strides, double offset, const at::Tensor& image_sizes,
    c10::ArrayRef<double> bbox_reg_weights, double scale_clamp, double nms_thresh,
    int64_t pre_nms_topk, int64_t post_nms_topk, double min_box_size) {
  const size_t num_levels = objectness.size();
  TORCH_CHECK(num_levels > 0, kOp, ": no feature levels");
  TORCH_CHECK(anchor_deltas.size() == num_levels && cell_anchors.size() == num_levels &&
                  strides.size() == num_levels,
              kOp, ": got ", num_levels, " objectness levels, ", anchor_deltas.size(),
              " delta levels, ", cell_anchors.size(), " cell-anchor sets and ", strides.size(),
              " strides");
  TORCH_CHECK(bbox_reg_weights.size() == 4, kOp, ": bbox_reg_weights must have 4 values, got ",
              bbox_reg_weights.size());
  TORCH_CHECK(pre_nms_topk > 0 && post_nms_topk >= 0, kOp,
              ": pre_nms_topk must be > 0 and post_nms_topk >= 0, got ", pre_nms_topk, " and ",
              post_nms_topk);
  const at::Tensor sizes = internal::CheckImageSizes(image_sizes, kOp, "image_sizes");
  const int64_t n = objectness[0].size(0);
  TORCH_CHECK(sizes.size(0) == n, kOp, ": image_sizes has ", sizes.size(0), " rows for a batch of ",
              n);
  for (size_t l = 0; l < num_levels; ++l) {
    const at::Tensor& o = objectness[l];
    const at::Tensor& d = anchor_deltas[l];
    const at::Tensor& c = cell_anchors[l];
    TORCH_CHECK(o.dim() == 4 && o.size(0) == n, kOp, ": objectness[", l,
                "] must be [N, A, H, W] with N = ", n, ", got ", o.sizes());
    TORCH_CHECK(c.dim() == 2 && c.size(1) == 4 && c.size(0) == o.size(1), kOp, ": cell_anchors[",
                l, "] must be [A, 4] with A = ", o.size(1), ", got ", c.sizes());
    TORCH_CHECK(d.dim() == 4 && d.size(0) == n && d.size(1) == 4 * o.size(1) &&
                    d.size(2) == o.size(2) && d.size(3) == o.size(3),
                kOp, ": anchor_deltas[", l, "] must be [", n, ", ", 4 * o.size(1), ", ", o.size(2),
                ", ", o.size(3), "], got ", d.sizes());
  }
  const std::array<double, 4> weights = {bbox_reg_weights[0], bbox_reg_weights[1],
                                         bbox_reg_weights[2], bbox_reg_weights[3]};
  const at::Device device = objectness[0].device();

  // RPN.forward: anchors, logits (N, Hi*Wi*A) and deltas (N, Hi*Wi*A, 4), decoded per level.
  std::vector<at::Tensor> proposals, pred_objectness_logits;
  for (size_t l = 0; l < num_levels; ++l) {
    const at::Tensor& score = objectness[l];
    const at::Tensor& x = anchor_deltas[l];
    at::Tensor anchors = internal::GridAnchors(cell_anchors[l].to(at::kFloat), score.size(2),
                                               score.size(3), strides[l], offset);
    if (anchors.device() != device) anchors = anchors.to(device);
    pred_objectness_logits.push_back(score.permute({0, 2, 3, 1}).flatten(1));
    at::Tensor deltas =
        x.view({x.size(0), -1, 4, x.size(-2), x.size(-1)}).permute({0, 3, 4, 1, 2}).flatten(1, -2);
    // _decode_proposals.
    const int64_t b = anchors.size(1);
    at::Tensor deltas_i = deltas.reshape({-1, b});
    at::Tensor anchors_i = anchors.unsqueeze(0).expand({n, -1, -1}).reshape({-1, b});
    proposals.push_back(
        internal::ApplyDeltas(deltas_i, anchors_i, weights, scale_clamp).view({n, -1, b}));
  }

  std::vector<std::pair<int64_t, int64_t>> image_hw;
  const int64_t* s = sizes.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) image_hw.emplace_back(s[2 * i], s[2 * i + 1]);
  const std::vector<std::pair<at::Tensor, at::Tensor>> selected = internal::FindTopRpnProposals(
      proposals, pred_objectness_logits, image_hw, nms_thresh, pre_nms_topk, post_nms_topk,
      min_box_size);
  std::vector<at::Tensor> rois, logits;
  for (int64_t i = 0; i < n; ++i) {
    const at::Tensor& image_boxes = selected[i].first;
    // convert_boxes_to_pooler_format: the batch index as a leading float column.
    rois.push_back(at::cat({at::full({image_boxes.size(0), 1}, static_cast<double>(i),
                                     image_boxes.options()),
                            image_boxes},
                           1));
    logits.push_back(selected[i].second);
  }
  return {at::cat(rois, 0), at::cat(logits, 0)};
}

}  // namespace

TORCH_LIBRARY_IMPL(d2x, CPU, m) { m.impl("rpn_proposals", TORCH_FN(RpnProposalsKernel)); }

}  // namespace d2x::ops
