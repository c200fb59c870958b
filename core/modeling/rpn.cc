#include "core/modeling/rpn.h"

#include <ATen/ATen.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace d2x::modeling {

absl::StatusOr<std::shared_ptr<StandardRpnHead>> StandardRpnHead::Create(
    const RpnHeadOptions& o) {
  if (o.in_channels <= 0 || o.num_anchors <= 0 || o.box_dim <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("StandardRPNHead: invalid in_channels=",
                                                   o.in_channels, " num_anchors=", o.num_anchors,
                                                   " box_dim=", o.box_dim));
  }
  if (o.conv_dims.empty()) {
    return absl::InvalidArgumentError("MODEL.RPN.CONV_DIMS must not be empty");
  }
  auto head = std::make_shared<StandardRpnHead>();
  int64_t cur_channels = o.in_channels;
  auto make_conv = [](int64_t in, int64_t out) {
    Conv2dOptions c;
    c.in_channels = in;
    c.out_channels = out;
    c.kernel_size = 3;
    c.padding = 1;
    c.activation = Activation::kRelu;
    return Conv2d::Create(c);
  };
  if (o.conv_dims.size() == 1) {
    const int64_t out = o.conv_dims[0] == -1 ? cur_channels : o.conv_dims[0];
    D2X_ASSIGN_OR_RETURN(auto conv, make_conv(cur_channels, out));
    head->convs_.push_back(head->register_module("conv", conv));
    cur_channels = out;
  } else {
    auto container = std::make_shared<torch::nn::Module>("Sequential");
    for (size_t k = 0; k < o.conv_dims.size(); ++k) {
      const int64_t out = o.conv_dims[k] == -1 ? cur_channels : o.conv_dims[k];
      if (out <= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("Conv output channels should be greater than 0. Got ", out));
      }
      D2X_ASSIGN_OR_RETURN(auto conv, make_conv(cur_channels, out));
      head->convs_.push_back(container->register_module(absl::StrCat("conv", k), conv));
      cur_channels = out;
    }
    head->register_module("conv", container);
  }
  Conv2dOptions pred;
  pred.in_channels = cur_channels;
  pred.out_channels = o.num_anchors;
  D2X_ASSIGN_OR_RETURN(head->objectness_logits_, Conv2d::Create(pred));
  pred.out_channels = o.num_anchors * o.box_dim;
  D2X_ASSIGN_OR_RETURN(head->anchor_deltas_, Conv2d::Create(pred));
  head->register_module("objectness_logits", head->objectness_logits_);
  head->register_module("anchor_deltas", head->anchor_deltas_);
  return head;
}

std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> StandardRpnHead::Forward(
    const std::vector<at::Tensor>& features) {
  std::vector<at::Tensor> logits, deltas;
  for (const at::Tensor& x : features) {
    at::Tensor t = x;
    for (const auto& conv : convs_) t = conv->Forward(t);
    logits.push_back(objectness_logits_->Forward(t));
    deltas.push_back(anchor_deltas_->Forward(t));
  }
  return {std::move(logits), std::move(deltas)};
}

absl::StatusOr<std::shared_ptr<Rpn>> Rpn::Create(
    const RpnOptions& options, const std::map<std::string, ShapeSpec>& input_shape) {
  if (options.in_features.empty()) {
    return absl::InvalidArgumentError("MODEL.RPN.IN_FEATURES must not be empty");
  }
  if (options.pre_nms_topk <= 0 || options.post_nms_topk < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MODEL.RPN.PRE_NMS_TOPK_TEST / POST_NMS_TOPK_TEST must be positive, got ",
        options.pre_nms_topk, " / ", options.post_nms_topk));
  }
  for (double w : options.bbox_reg_weights) {
    if (w == 0.0) return absl::InvalidArgumentError("MODEL.RPN.BBOX_REG_WEIGHTS must be non-zero");
  }
  AnchorGeneratorOptions anchor_options = options.anchors;
  anchor_options.strides.clear();
  std::set<int64_t> channels;
  for (const std::string& f : options.in_features) {
    auto it = input_shape.find(f);
    if (it == input_shape.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("MODEL.RPN.IN_FEATURES: '", f, "' is not a backbone output"));
    }
    anchor_options.strides.push_back(it->second.stride);
    channels.insert(it->second.channels);
  }
  if (channels.size() != 1) {
    return absl::InvalidArgumentError("RPN: each level must have the same channel count");
  }
  D2X_ASSIGN_OR_RETURN(DefaultAnchorGenerator anchor_generator,
                       DefaultAnchorGenerator::Create(anchor_options));
  const std::vector<int64_t> num_anchors = anchor_generator.num_anchors();
  if (std::set<int64_t>(num_anchors.begin(), num_anchors.end()).size() != 1) {
    return absl::InvalidArgumentError(
        "RPN: each level must have the same number of anchors per spatial position");
  }
  RpnHeadOptions head_options;
  head_options.in_channels = *channels.begin();
  head_options.num_anchors = num_anchors[0];
  head_options.box_dim = anchor_generator.box_dim();
  head_options.conv_dims = options.conv_dims;
  D2X_ASSIGN_OR_RETURN(auto head, StandardRpnHead::Create(head_options));
  RpnOptions stored = options;
  stored.anchors = anchor_options;
  return std::make_shared<Rpn>(std::move(stored), std::move(anchor_generator), std::move(head));
}

Rpn::Rpn(RpnOptions options, DefaultAnchorGenerator anchor_generator,
         std::shared_ptr<StandardRpnHead> head)
    : torch::nn::Module("RPN"),
      options_(std::move(options)),
      anchor_generator_(std::move(anchor_generator)),
      box2box_transform_(options_.bbox_reg_weights) {
  rpn_head_ = register_module("rpn_head", std::move(head));
}

RpnRawOutputs Rpn::ForwardRaw(const FeatureMap& feature_map) {
  std::vector<at::Tensor> features;
  for (const std::string& f : options_.in_features) features.push_back(feature_map.at(f));
  RpnRawOutputs out;
  out.anchors = anchor_generator_.Forward(features);
  auto [logits, deltas] = rpn_head_->Forward(features);
  const int64_t box_dim = anchor_generator_.box_dim();
  for (const at::Tensor& score : logits) {
    // (N, A, Hi, Wi) -> (N, Hi, Wi, A) -> (N, Hi*Wi*A)
    out.pred_objectness_logits.push_back(score.permute({0, 2, 3, 1}).flatten(1));
  }
  for (const at::Tensor& x : deltas) {
    // (N, A*B, Hi, Wi) -> (N, A, B, Hi, Wi) -> (N, Hi, Wi, A, B) -> (N, Hi*Wi*A, B)
    out.pred_anchor_deltas.push_back(x.view({x.size(0), -1, box_dim, x.size(-2), x.size(-1)})
                                         .permute({0, 3, 4, 1, 2})
                                         .flatten(1, -2));
  }
  return out;
}

std::vector<at::Tensor> Rpn::DecodeProposals(
    const std::vector<at::Tensor>& anchors,
    const std::vector<at::Tensor>& pred_anchor_deltas) const {
  const int64_t n = pred_anchor_deltas[0].size(0);
  std::vector<at::Tensor> proposals;
  for (size_t i = 0; i < anchors.size(); ++i) {
    const int64_t b = anchors[i].size(1);
    at::Tensor deltas_i = pred_anchor_deltas[i].reshape({-1, b});
    at::Tensor anchors_i = anchors[i].unsqueeze(0).expand({n, -1, -1}).reshape({-1, b});
    at::Tensor proposals_i = box2box_transform_.ApplyDeltas(deltas_i, anchors_i);
    proposals.push_back(proposals_i.view({n, -1, b}));
  }
  return proposals;
}

std::vector<Proposals> Rpn::Forward(const std::vector<structures::ImageSize>& image_sizes,
                                    const FeatureMap& features) {
  RpnRawOutputs raw = ForwardRaw(features);
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> pred_proposals = DecodeProposals(raw.anchors, raw.pred_anchor_deltas);
  return FindTopRpnProposals(pred_proposals, raw.pred_objectness_logits, image_sizes,
                             options_.nms_thresh, options_.pre_nms_topk, options_.post_nms_topk,
                             options_.min_box_size);
}

}  // namespace d2x::modeling
