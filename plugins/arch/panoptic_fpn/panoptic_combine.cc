#include "plugins/arch/panoptic_fpn/panoptic_combine.h"

#include <ATen/ATen.h>

#include <tuple>

namespace d2x::panoptic_fpn {

PanopticOutput CombineSemanticAndInstanceOutputs(const at::Tensor& scores,
                                                 const at::Tensor& pred_classes,
                                                 const at::Tensor& pred_masks,
                                                 const at::Tensor& semantic_results,
                                                 const CombineOptions& options) {
  TORCH_CHECK(semantic_results.dim() == 2, "panoptic combine: semantic results must be [H, W], got ",
              semantic_results.sizes());
  const int64_t n = scores.size(0);
  TORCH_CHECK(pred_classes.size(0) == n && (n == 0 || pred_masks.size(0) == n),
              "panoptic combine: ", n, " scores, ", pred_classes.size(0), " classes, ",
              pred_masks.size(0), " masks");
  PanopticOutput out;
  at::Tensor panoptic_seg = at::zeros_like(semantic_results, at::kInt);
  int32_t current_segment_id = 0;

  if (n > 0) {
    TORCH_CHECK(pred_masks.dim() == 3 && pred_masks.size(1) == semantic_results.size(0) &&
                    pred_masks.size(2) == semantic_results.size(1),
                "panoptic combine: masks ", pred_masks.sizes(), " vs semantic results ",
                semantic_results.sizes());
    at::Tensor sorted_inds = at::argsort(-scores);
    at::Tensor instance_masks = pred_masks.to(at::kBool);
    const at::Tensor scores_cpu = scores.to(at::kFloat).cpu();
    const at::Tensor classes_cpu = pred_classes.to(at::kLong).cpu();
    const at::Tensor order = sorted_inds.cpu();
    for (int64_t k = 0; k < n; ++k) {
      const int64_t inst_id = order[k].item<int64_t>();
      const double score = scores_cpu[inst_id].item<double>();
      if (score < options.instances_score_thresh) break;
      at::Tensor mask = instance_masks[inst_id];
      const int64_t mask_area = mask.sum().item<int64_t>();
      if (mask_area == 0) continue;
      const at::Tensor occupied = panoptic_seg > 0;
      const int64_t intersect_area = (mask & occupied).sum().item<int64_t>();
      if (static_cast<double>(intersect_area) * 1.0 / static_cast<double>(mask_area) >
          options.overlap_threshold) {
        continue;
      }
      if (intersect_area > 0) mask = mask & (panoptic_seg == 0);
      current_segment_id += 1;
      panoptic_seg.masked_fill_(mask, current_segment_id);
      PanopticSegment segment;
      segment.id = current_segment_id;
      segment.isthing = true;
      segment.score = static_cast<float>(score);
      segment.category_id = classes_cpu[inst_id].item<int64_t>();
      segment.instance_id = inst_id;
      segment.area = intersect_area > 0 ? mask.sum().item<int64_t>() : mask_area;
      out.segments_info.push_back(segment);
    }
  }

  // Stuff: the remaining pixels of each semantic label (in increasing order; 0 = things).
  at::Tensor labels = std::get<0>(at::_unique(semantic_results, /*sorted=*/true)).cpu();
  labels = labels.to(at::kLong);
  for (int64_t k = 0; k < labels.size(0); ++k) {
    const int64_t label = labels[k].item<int64_t>();
    if (label == 0) continue;
    at::Tensor mask = (semantic_results == label) & (panoptic_seg == 0);
    const int64_t mask_area = mask.sum().item<int64_t>();
    if (static_cast<double>(mask_area) < options.stuff_area_thresh) continue;
    current_segment_id += 1;
    panoptic_seg.masked_fill_(mask, current_segment_id);
    PanopticSegment segment;
    segment.id = current_segment_id;
    segment.isthing = false;
    segment.category_id = label;
    segment.area = mask_area;
    out.segments_info.push_back(segment);
  }
  out.panoptic_seg = panoptic_seg;
  return out;
}

}  // namespace d2x::panoptic_fpn
