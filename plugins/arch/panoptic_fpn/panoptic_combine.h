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
// instances; semantic_results [H, W] integer (sem_seg.argmax(0)).
//  1. Instances by decreasing score (torch.argsort(-scores)); stop at the first score <
//     instances_score_thresh; skip empty masks and masks whose overlap with the segments placed so
//     far is > overlap_threshold of their area; otherwise the non-overlapping part becomes segment
//     id 1, 2, ... (isthing, category_id = pred class, score, instance_id = index into the
//     instances).
//  2. For each semantic label in increasing order except 0 (detectron2's "things" class): its
//     pixels not yet assigned become a stuff segment (category_id = label) if their area is >=
//     stuff_area_thresh.
// `area` is the number of pixels of the segment in panoptic_seg (detectron2 records it for stuff
// only). Throws c10::Error on inconsistent shapes.
PanopticOutput CombineSemanticAndInstanceOutputs(const at::Tensor& scores,
                                                 const at::Tensor& pred_classes,
                                                 const at::Tensor& pred_masks,
                                                 const at::Tensor& semantic_results,
                                                 const CombineOptions& options);

}  // namespace d2x::panoptic_fpn

#endif  // D2X_PLUGINS_ARCH_PANOPTIC_FPN_PANOPTIC_COMBINE_H_
