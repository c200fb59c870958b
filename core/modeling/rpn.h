// Region Proposal Network (inference), as detectron2/modeling/proposal_generator/rpn.py:
// StandardRPNHead and RPN.forward without losses.
//
// Names follow detectron2 relative to the proposal generator: rpn_head.conv.* (or
// rpn_head.conv.conv{k}.* with several CONV_DIMS), rpn_head.objectness_logits.*,
// rpn_head.anchor_deltas.*. Anchors are not parameters or buffers.
#ifndef D2X_CORE_MODELING_RPN_H_
#define D2X_CORE_MODELING_RPN_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/modeling/anchor_generator.h"
#include "core/modeling/backbone.h"
#include "core/modeling/box2box_transform.h"
#include "core/modeling/conv2d.h"
#include "core/modeling/proposal_utils.h"
#include "core/structures/image_list.h"

namespace d2x::modeling {

struct RpnHeadOptions {
  int64_t in_channels = 0;
  int64_t num_anchors = 0;             // per location
  int64_t box_dim = 4;
  std::vector<int64_t> conv_dims = {-1};  // MODEL.RPN.CONV_DIMS; -1 = in_channels
};

// 3x3 conv(s) + ReLU shared across levels, then 1x1 objectness_logits (A) and anchor_deltas
// (A * box_dim).
class StandardRpnHead : public torch::nn::Module {
 public:
  static absl::StatusOr<std::shared_ptr<StandardRpnHead>> Create(const RpnHeadOptions& options);

  // Per level: objectness logits [N, A, Hi, Wi] and deltas [N, A*box_dim, Hi, Wi].
  std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> Forward(
      const std::vector<at::Tensor>& features);

  StandardRpnHead() : torch::nn::Module("StandardRPNHead") {}

 private:
  std::vector<std::shared_ptr<Conv2d>> convs_;  // applied in order
  std::shared_ptr<Conv2d> objectness_logits_, anchor_deltas_;
};

struct RpnOptions {
  std::vector<std::string> in_features = {"res4"};  // MODEL.RPN.IN_FEATURES
  int64_t pre_nms_topk = 6000;     // MODEL.RPN.PRE_NMS_TOPK_TEST (per level)
  int64_t post_nms_topk = 1000;    // MODEL.RPN.POST_NMS_TOPK_TEST (per image)
  double nms_thresh = 0.7;         // MODEL.RPN.NMS_THRESH
  double min_box_size = 0.0;       // MODEL.PROPOSAL_GENERATOR.MIN_SIZE
  std::array<double, 4> bbox_reg_weights = {1.0, 1.0, 1.0, 1.0};  // MODEL.RPN.BBOX_REG_WEIGHTS
  std::vector<int64_t> conv_dims = {-1};                          // MODEL.RPN.CONV_DIMS
  // MODEL.ANCHOR_GENERATOR.*: strides are filled from the input shapes by Rpn::Create.
  AnchorGeneratorOptions anchors;
};

// RPN outputs before find_top_rpn_proposals (for rewriters / export and stage-wise checks).
struct RpnRawOutputs {
  std::vector<at::Tensor> anchors;                 // per level [Hi*Wi*A, 4]
  std::vector<at::Tensor> pred_objectness_logits;  // per level [N, Hi*Wi*A]
  std::vector<at::Tensor> pred_anchor_deltas;      // per level [N, Hi*Wi*A, box_dim]
};

class Rpn : public torch::nn::Module {
 public:
  // input_shape: the backbone's output_shape(); every in_feature must be in it with equal channels.
  static absl::StatusOr<std::shared_ptr<Rpn>> Create(
      const RpnOptions& options, const std::map<std::string, ShapeSpec>& input_shape);

  // Head outputs reshaped as detectron2 RPN.forward (permute/flatten), plus the anchors.
  RpnRawOutputs ForwardRaw(const FeatureMap& features);

  // RPN.forward in inference: proposals per image (clipped to image_sizes), sorted by score.
  std::vector<Proposals> Forward(const std::vector<structures::ImageSize>& image_sizes,
                                 const FeatureMap& features);

  // _decode_proposals: per level [N, Hi*Wi*A, box_dim].
  std::vector<at::Tensor> DecodeProposals(const std::vector<at::Tensor>& anchors,
                                          const std::vector<at::Tensor>& pred_anchor_deltas) const;

  const RpnOptions& options() const { return options_; }
  const DefaultAnchorGenerator& anchor_generator() const { return anchor_generator_; }
  const Box2BoxTransform& box2box_transform() const { return box2box_transform_; }
  const std::shared_ptr<StandardRpnHead>& rpn_head() const { return rpn_head_; }

  Rpn(RpnOptions options, DefaultAnchorGenerator anchor_generator,
      std::shared_ptr<StandardRpnHead> head);

 private:
  RpnOptions options_;
  DefaultAnchorGenerator anchor_generator_;
  Box2BoxTransform box2box_transform_;
  std::shared_ptr<StandardRpnHead> rpn_head_;
};

}  // namespace d2x::modeling

#endif  // D2X_CORE_MODELING_RPN_H_
