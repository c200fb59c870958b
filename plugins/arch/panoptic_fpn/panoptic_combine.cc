#include "plugins/arch/panoptic_fpn/panoptic_combine.h"

#include <ATen/ATen.h>

#include <vector>

#include "core/ops/panoptic_combine.h"

namespace d2x::panoptic_fpn {

PanopticOutput CombineSemanticAndInstanceOutputs(const at::Tensor& scores,
                                                 const at::Tensor& pred_classes,
                                                 const at::Tensor& pred_masks,
                                                 const at::Tensor& semantic_results,
                                                 const CombineOptions& options) {
  std::vector<ops::PanopticSegmentRow> rows;
  PanopticOutput out;
  out.panoptic_seg = ops::CombineSemanticAndInstances(
      scores, pred_classes, pred_masks, semantic_results, options.overlap_threshold,
      options.stuff_area_thresh, options.instances_score_thresh, rows);
  for (const ops::PanopticSegmentRow& row : rows) {
    PanopticSegment segment;
    segment.id = static_cast<int32_t>(row.id);
    segment.category_id = row.category_id;
    segment.isthing = row.isthing;
    segment.area = row.area;
    if (row.isthing) {
      segment.score = row.score;
      segment.instance_id = row.instance_id;
    }
    out.segments_info.push_back(segment);
  }
  return out;
}

}  // namespace d2x::panoptic_fpn
