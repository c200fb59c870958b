// combine_semantic_and_instance_outputs (detectron2/modeling/meta_arch/panoptic_fpn.py) for one
// image: the one implementation, run by the d2x::panoptic_combine op (per image of a batch) and by
// the eager PanopticFPN (plugins/arch/panoptic_fpn/panoptic_combine.cc). Plugins declare it
// through :ops_hdrs; the code is in the host's //core/ops:ops and in libd2x_ops.so.
#ifndef D2X_CORE_OPS_PANOPTIC_COMBINE_H_
#define D2X_CORE_OPS_PANOPTIC_COMBINE_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace d2x::ops {

struct PanopticSegmentRow {
  int64_t id = 0;
  int64_t category_id = 0;
  bool isthing = false;
  int64_t area = 0;
  int64_t instance_id = -1;  // things: index into the image's instances; -1 for stuff
  float score = 0.f;         // things only
};

// scores [D] float, pred_classes [D] int64, pred_masks [D, H, W] (bool or 0/1) of one image's
// postprocessed instances; semantic_results [H, W] integer (sem_seg.argmax(0)).
//  1. Instances by decreasing score (torch.argsort(-scores)); stop at the first score <
//     instances_score_thresh; skip empty masks and masks whose overlap with the segments placed so
//     far is > overlap_threshold of their area; otherwise the non-overlapping part becomes segment
//     id 1, 2, ... (isthing, category_id = pred class, score, instance_id).
//  2. For each semantic label in increasing order except 0 (detectron2's "things" class): its
//     pixels not yet assigned become a stuff segment (category_id = label) if their area is >=
//     stuff_area_thresh.
// `area` is the number of pixels of the segment in panoptic_seg (detectron2 records it for stuff
// only). Appends the segments to `segments` and returns panoptic_seg int32 [H, W] (0 = none).
// Throws c10::Error on inconsistent shapes.
at::Tensor CombineSemanticAndInstances(const at::Tensor& scores, const at::Tensor& pred_classes,
                                       const at::Tensor& pred_masks,
                                       const at::Tensor& semantic_results,
                                       double overlap_threshold, double stuff_area_thresh,
                                       double instances_score_thresh,
                                       std::vector<PanopticSegmentRow>& segments);

}  // namespace d2x::ops

#endif  // D2X_CORE_OPS_PANOPTIC_COMBINE_H_
