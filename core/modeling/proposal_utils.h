// find_top_rpn_proposals, as detectron2/modeling/proposal_generator/proposal_utils.py (inference
// behaviour, training=False).
#ifndef D2X_CORE_MODELING_PROPOSAL_UTILS_H_
#define D2X_CORE_MODELING_PROPOSAL_UTILS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "core/structures/image_list.h"

namespace d2x::modeling {

// Proposals of one image (detectron2 Instances with proposal_boxes, objectness_logits).
struct Proposals {
  structures::ImageSize image_size;  // the unpadded size the boxes are clipped to
  at::Tensor boxes;                  // [R, 4] XYXY float32
  at::Tensor objectness_logits;      // [R], sorted by decreasing score
};

// proposals[l]: [N, Hi*Wi*A, 4]; pred_objectness_logits[l]: [N, Hi*Wi*A]; image_sizes: N.
// Per level: top min(Hi*Wi*A, pre_nms_topk) by logit. Per image: drop non-finite boxes/scores,
// clip to the image, drop boxes with a side <= min_box_size, batched NMS with the level as the
// category (d2x::batched_nms, torchvision-exact), keep the first post_nms_topk. Throws c10::Error
// on inconsistent shapes.
std::vector<Proposals> FindTopRpnProposals(const std::vector<at::Tensor>& proposals,
                                           const std::vector<at::Tensor>& pred_objectness_logits,
                                           const std::vector<structures::ImageSize>& image_sizes,
                                           double nms_thresh, int64_t pre_nms_topk,
                                           int64_t post_nms_topk, double min_box_size);

}  // namespace d2x::modeling

#endif  // D2X_CORE_MODELING_PROPOSAL_UTILS_H_
