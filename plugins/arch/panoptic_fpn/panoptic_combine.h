// combine_semantic_and_instance_outputs (detectron2/modeling/meta_arch/panoptic_fpn.py): the
// panopticapi-style heuristic merging instance masks and semantic segmentation.
#ifndef D2X_PLUGINS_ARCH_PANOPTIC_FPN_PANOPTIC_COMBINE_H_
#define D2X_PLUGINS_ARCH_PANOPTIC_FPN_PANOPTIC_COMBINE_H_

#include <ATen/core/Tensor.h>

#include <vector>

#include "core/model.h"

namespace d2x::panoptic_fpn {

struct CombineOptions {
  double overlap_threshold = 0.5;       // MODEL.PANOPTIC_FPN.COMBINE.OVERLAP_THRESH
  double stuff_area_thresh = 4096;      // MODEL.PANOPTIC_FPN.COMBINE.STUFF_AREA_LIMIT
  double instances_score_thresh = 0.5;  // MODEL.PANOPTIC_FPN.COMBINE.INSTANCES_CONFIDENCE_THRESH
};

struct PanopticOutput {
  at::Tensor panoptic_seg;  // int32 [H, W]; 0 = no segment
  std::vector<PanopticSegment> segments_info;
};

// scores [N] float, pred_classes [N] int64, pred_masks [N, H, W] (bool or 0/1) of the postprocessed
// instances; semantic_results [H, W] integer (sem_seg.argmax(0)). The heuristic is
// ops::CombineSemanticAndInstances (core/ops/panoptic_combine.h), which exported graphs run too.
// Throws c10::Error on inconsistent shapes.
PanopticOutput CombineSemanticAndInstanceOutputs(const at::Tensor& scores,
                                                 const at::Tensor& pred_classes,
                                                 const at::Tensor& pred_masks,
                                                 const at::Tensor& semantic_results,
                                                 const CombineOptions& options);

}  // namespace d2x::panoptic_fpn

#endif  // D2X_PLUGINS_ARCH_PANOPTIC_FPN_PANOPTIC_COMBINE_H_
