#include "plugins/arch/retinanet/retinanet_head.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace d2x::retinanet {

CycleBatchNormList::CycleBatchNormList(int64_t num_levels, int64_t channels, double eps)
    : torch::nn::Module("CycleBatchNormList"), eps_(eps) {
  // BatchNorm2d(affine=False) children "0", "1", ...: buffers only.
  for (int64_t i = 0; i < num_levels; ++i) {
    auto bn = std::make_shared<torch::nn::Module>("BatchNorm2d");
    running_mean_.push_back(bn->register_buffer("running_mean", at::zeros({channels})));
    running_var_.push_back(bn->register_buffer("running_var", at::ones({channels})));
    bn->register_buffer("num_batches_tracked", at::zeros({}, at::kLong));
    register_module(std::to_string(i), bn);
  }
  weight_ = register_parameter("weight", at::ones({channels}), /*requires_grad=*/false);
  bias_ = register_parameter("bias", at::zeros({channels}), /*requires_grad=*/false);
}

at::Tensor CycleBatchNormList::Forward(const at::Tensor& x, int64_t level) const {
  const size_t i = static_cast<size_t>(level) % running_mean_.size();
  at::Tensor ret = at::batch_norm(x, /*weight=*/{}, /*bias=*/{}, running_mean_[i],
                                  running_var_[i], /*training=*/false, /*momentum=*/0.1, eps_,
                                  /*cudnn_enabled=*/true);
  return ret * weight_.reshape({1, -1, 1, 1}) + bias_.reshape({1, -1, 1, 1});
}

absl::StatusOr<std::shared_ptr<ConvTower>> ConvTower::Create(const RetinaNetHeadOptions& o) {
  auto tower = std::make_shared<ConvTower>();
  const bool cycle_bn = o.norm == "BN" || o.norm == "SyncBN";
  const int64_t step = o.norm.empty() ? 2 : 3;  // conv, [norm], relu
  for (int64_t k = 0; k < o.num_convs; ++k) {
    modeling::Conv2dOptions conv;
    conv.in_channels = o.in_channels;
    conv.out_channels = o.in_channels;
    conv.kernel_size = 3;
    conv.stride = 1;
    conv.padding = 1;
    conv.bias = true;  // nn.Conv2d: always with bias, even with a norm
    D2X_ASSIGN_OR_RETURN(std::shared_ptr<modeling::Conv2d> c, modeling::Conv2d::Create(conv));
    tower->convs_.push_back(tower->register_module(std::to_string(k * step), c));
    std::shared_ptr<modeling::NormLayer> norm;
    std::shared_ptr<CycleBatchNormList> cycle;
    if (cycle_bn) {
      cycle = std::make_shared<CycleBatchNormList>(o.num_levels, o.in_channels);
      tower->register_module(std::to_string(k * step + 1), cycle);
    } else if (!o.norm.empty()) {
      absl::StatusOr<std::shared_ptr<modeling::NormLayer>> n =
          modeling::GetNorm(o.norm, o.in_channels);
      if (!n.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("MODEL.RETINANET.NORM: ", n.status().message()));
      }
      norm = tower->register_module(std::to_string(k * step + 1), *n);
    }
    tower->norms_.push_back(norm);
    tower->cycle_norms_.push_back(cycle);
  }
  return tower;
}

at::Tensor ConvTower::Forward(const at::Tensor& x, int64_t level) const {
  at::Tensor y = x;
  for (size_t k = 0; k < convs_.size(); ++k) {
    y = convs_[k]->Forward(y);
    if (cycle_norms_[k]) {
      y = cycle_norms_[k]->Forward(y, level);
    } else if (norms_[k]) {
      y = norms_[k]->Forward(y);
    }
    y = at::relu(y);
  }
  return y;
}

absl::StatusOr<std::shared_ptr<RetinaNetHead>> RetinaNetHead::Create(
    const RetinaNetHeadOptions& o) {
  if (o.in_channels <= 0 || o.num_levels <= 0 || o.num_classes <= 0 || o.num_anchors <= 0 ||
      o.num_convs < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RetinaNetHead: invalid options in_channels=", o.in_channels, " levels=", o.num_levels,
        " MODEL.RETINANET.NUM_CLASSES=", o.num_classes, " anchors=", o.num_anchors,
        " MODEL.RETINANET.NUM_CONVS=", o.num_convs));
  }
  auto head = std::make_shared<RetinaNetHead>();
  head->options_ = o;
  D2X_ASSIGN_OR_RETURN(std::shared_ptr<ConvTower> cls, ConvTower::Create(o));
  D2X_ASSIGN_OR_RETURN(std::shared_ptr<ConvTower> bbox, ConvTower::Create(o));
  head->cls_subnet_ = head->register_module("cls_subnet", cls);
  head->bbox_subnet_ = head->register_module("bbox_subnet", bbox);

  modeling::Conv2dOptions score;
  score.in_channels = o.in_channels;
  score.out_channels = o.num_anchors * o.num_classes;
  score.kernel_size = 3;
  score.padding = 1;
  D2X_ASSIGN_OR_RETURN(std::shared_ptr<modeling::Conv2d> cls_score,
                       modeling::Conv2d::Create(score));
  modeling::Conv2dOptions pred = score;
  pred.out_channels = o.num_anchors * 4;
  D2X_ASSIGN_OR_RETURN(std::shared_ptr<modeling::Conv2d> bbox_pred,
                       modeling::Conv2d::Create(pred));
  head->cls_score_ = head->register_module("cls_score", cls_score);
  head->bbox_pred_ = head->register_module("bbox_pred", bbox_pred);
  return head;
}

std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> RetinaNetHead::Forward(
    const std::vector<at::Tensor>& features) const {
  TORCH_CHECK(static_cast<int64_t>(features.size()) == options_.num_levels,
              "RetinaNetHead: expected ", options_.num_levels, " features, got ",
              features.size());
  std::vector<at::Tensor> logits, bbox_reg;
  for (size_t level = 0; level < features.size(); ++level) {
    const int64_t l = static_cast<int64_t>(level);
    logits.push_back(cls_score_->Forward(cls_subnet_->Forward(features[level], l)));
    bbox_reg.push_back(bbox_pred_->Forward(bbox_subnet_->Forward(features[level], l)));
  }
  return {std::move(logits), std::move(bbox_reg)};
}

}  // namespace d2x::retinanet
