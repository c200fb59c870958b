#include "core/modeling/proposal_utils.h"

#include <ATen/ATen.h>

#include <utility>

#include "core/ops/box_math.h"

namespace d2x::modeling {

std::vector<Proposals> FindTopRpnProposals(const std::vector<at::Tensor>& proposals,
                                           const std::vector<at::Tensor>& pred_objectness_logits,
                                           const std::vector<structures::ImageSize>& image_sizes,
                                           double nms_thresh, int64_t pre_nms_topk,
                                           int64_t post_nms_topk, double min_box_size) {
  std::vector<std::pair<int64_t, int64_t>> sizes;
  for (const structures::ImageSize& size : image_sizes) sizes.emplace_back(size.height, size.width);
  std::vector<std::pair<at::Tensor, at::Tensor>> selected =
      ops::internal::FindTopRpnProposals(proposals, pred_objectness_logits, sizes, nms_thresh,
                                         pre_nms_topk, post_nms_topk, min_box_size);
  std::vector<Proposals> results;
  for (size_t i = 0; i < selected.size(); ++i) {
    Proposals res;
    res.image_size = image_sizes[i];
    res.boxes = std::move(selected[i].first);
    res.objectness_logits = std::move(selected[i].second);
    results.push_back(std::move(res));
  }
  return results;
}

}  // namespace d2x::modeling
