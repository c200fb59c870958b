#include "core/modeling/proposal_utils.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "core/ops/ops.h"
#include "core/structures/boxes.h"

namespace d2x::modeling {

std::vector<Proposals> FindTopRpnProposals(const std::vector<at::Tensor>& proposals,
                                           const std::vector<at::Tensor>& pred_objectness_logits,
                                           const std::vector<structures::ImageSize>& image_sizes,
                                           double nms_thresh, int64_t pre_nms_topk,
                                           int64_t post_nms_topk, double min_box_size) {
  TORCH_CHECK(!proposals.empty() && proposals.size() == pred_objectness_logits.size(),
              "find_top_rpn_proposals: ", proposals.size(), " proposal levels vs ",
              pred_objectness_logits.size(), " logit levels");
  const int64_t num_images = static_cast<int64_t>(image_sizes.size());
  const at::Device device = proposals[0].device();

  // 1. Select top-k anchors for every level and every image.
  std::vector<at::Tensor> topk_scores, topk_proposals, level_ids;
  at::Tensor batch_idx = at::arange(num_images, at::TensorOptions().dtype(at::kLong).device(device));
  for (size_t level_id = 0; level_id < proposals.size(); ++level_id) {
    const at::Tensor& proposals_i = proposals[level_id];
    const at::Tensor& logits_i = pred_objectness_logits[level_id];
    const int64_t num_proposals_i = std::min(logits_i.size(1), pre_nms_topk);
    auto [topk_scores_i, topk_idx] = logits_i.topk(num_proposals_i, /*dim=*/1);
    // proposals_i[batch_idx[:, None], topk_idx] -> N x topk x 4
    at::Tensor topk_proposals_i = proposals_i.index({batch_idx.unsqueeze(1), topk_idx});
    topk_proposals.push_back(topk_proposals_i);
    topk_scores.push_back(topk_scores_i);
    level_ids.push_back(at::full({num_proposals_i}, static_cast<int64_t>(level_id),
                                 at::TensorOptions().dtype(at::kLong).device(device)));
  }

  // 2. Concat all levels together.
  at::Tensor all_scores = topk_scores.size() == 1 ? topk_scores[0] : at::cat(topk_scores, 1);
  at::Tensor all_proposals =
      topk_proposals.size() == 1 ? topk_proposals[0] : at::cat(topk_proposals, 1);
  at::Tensor all_levels = level_ids.size() == 1 ? level_ids[0] : at::cat(level_ids, 0);

  // 3. For each image, run a per-level NMS, and choose topk results.
  std::vector<Proposals> results;
  for (int64_t n = 0; n < num_images; ++n) {
    const structures::ImageSize& image_size = image_sizes[n];
    at::Tensor boxes = all_proposals[n];
    at::Tensor scores_per_img = all_scores[n];
    at::Tensor lvl = all_levels;

    at::Tensor valid_mask =
        at::isfinite(boxes).all(/*dim=*/1).logical_and_(at::isfinite(scores_per_img));
    if (!valid_mask.all().item<bool>()) {
      boxes = boxes.index({valid_mask});
      scores_per_img = scores_per_img.index({valid_mask});
      lvl = lvl.index({valid_mask});
    }
    boxes = structures::ClipBoxes(boxes, image_size.height, image_size.width);

    // Filter empty boxes.
    at::Tensor keep = structures::NonemptyBoxes(boxes, min_box_size);
    if (keep.sum().item<int64_t>() != boxes.size(0)) {
      boxes = boxes.index({keep});
      scores_per_img = scores_per_img.index({keep});
      lvl = lvl.index({keep});
    }

    at::Tensor kept = ops::BatchedNms(boxes.to(at::kFloat), scores_per_img, lvl, nms_thresh);
    kept = kept.slice(0, 0, post_nms_topk);  // already sorted by score

    Proposals res;
    res.image_size = image_size;
    res.boxes = boxes.index_select(0, kept);
    res.objectness_logits = scores_per_img.index_select(0, kept);
    results.push_back(std::move(res));
  }
  return results;
}

}  // namespace d2x::modeling
