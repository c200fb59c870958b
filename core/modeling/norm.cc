#include "core/modeling/norm.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"

namespace d2x::modeling {

FrozenBatchNorm2d::FrozenBatchNorm2d(int64_t num_features, double eps)
    : NormLayer("FrozenBatchNorm2d"), num_features_(num_features), eps_(eps) {
  weight_ = register_buffer("weight", at::ones({num_features}));
  bias_ = register_buffer("bias", at::zeros({num_features}));
  running_mean_ = register_buffer("running_mean", at::zeros({num_features}));
  running_var_ = register_buffer("running_var", at::ones({num_features}) - eps);
}

at::Tensor FrozenBatchNorm2d::Forward(const at::Tensor& x) {
  return at::batch_norm(x, weight_, bias_, running_mean_, running_var_, /*training=*/false,
                        /*momentum=*/0.1, eps_, /*cudnn_enabled=*/true);
}

bool FrozenBatchNorm2d::InferenceAffine(at::Tensor* scale, at::Tensor* shift) const {
  *scale = weight_ * (running_var_ + eps_).rsqrt();
  *shift = bias_ - running_mean_ * *scale;
  return true;
}

BatchNorm2d::BatchNorm2d(int64_t num_features, double eps)
    : NormLayer("BatchNorm2d"), num_features_(num_features), eps_(eps) {
  weight_ = register_parameter("weight", at::ones({num_features}), /*requires_grad=*/false);
  bias_ = register_parameter("bias", at::zeros({num_features}), /*requires_grad=*/false);
  running_mean_ = register_buffer("running_mean", at::zeros({num_features}));
  running_var_ = register_buffer("running_var", at::ones({num_features}));
  num_batches_tracked_ = register_buffer("num_batches_tracked", at::zeros({}, at::kLong));
}

at::Tensor BatchNorm2d::Forward(const at::Tensor& x) {
  return at::batch_norm(x, weight_, bias_, running_mean_, running_var_, /*training=*/false,
                        /*momentum=*/0.1, eps_, /*cudnn_enabled=*/true);
}

bool BatchNorm2d::InferenceAffine(at::Tensor* scale, at::Tensor* shift) const {
  *scale = weight_ * (running_var_ + eps_).rsqrt();
  *shift = bias_ - running_mean_ * *scale;
  return true;
}

GroupNorm::GroupNorm(int64_t num_groups, int64_t num_channels, double eps)
    : NormLayer("GroupNorm"), num_groups_(num_groups), num_channels_(num_channels), eps_(eps) {
  weight_ = register_parameter("weight", at::ones({num_channels}), /*requires_grad=*/false);
  bias_ = register_parameter("bias", at::zeros({num_channels}), /*requires_grad=*/false);
}

at::Tensor GroupNorm::Forward(const at::Tensor& x) {
  return at::group_norm(x, num_groups_, weight_, bias_, eps_, /*cudnn_enabled=*/true);
}

ChannelLayerNorm::ChannelLayerNorm(int64_t num_channels, double eps)
    : NormLayer("LayerNorm"), eps_(eps) {
  weight_ = register_parameter("weight", at::ones({num_channels}), /*requires_grad=*/false);
  bias_ = register_parameter("bias", at::zeros({num_channels}), /*requires_grad=*/false);
}

at::Tensor ChannelLayerNorm::Forward(const at::Tensor& x) {
  at::Tensor u = x.mean({1}, /*keepdim=*/true);
  at::Tensor s = (x - u).pow(2).mean({1}, /*keepdim=*/true);
  at::Tensor y = (x - u) / at::sqrt(s + eps_);
  return weight_.view({-1, 1, 1}) * y + bias_.view({-1, 1, 1});
}

absl::StatusOr<std::shared_ptr<NormLayer>> GetNorm(const std::string& norm, int64_t channels) {
  if (norm.empty()) return std::shared_ptr<NormLayer>();
  if (channels <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("get_norm('", norm, "'): channels must be positive, got ", channels));
  }
  if (norm == "FrozenBN") return std::make_shared<FrozenBatchNorm2d>(channels);
  if (norm == "BN" || norm == "SyncBN" || norm == "nnSyncBN" || norm == "naiveSyncBN" ||
      norm == "naiveSyncBN_N") {
    return std::make_shared<BatchNorm2d>(channels);
  }
  if (norm == "GN") {
    if (channels % 32 != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "get_norm('GN'): GroupNorm(32, ", channels, ") needs channels divisible by 32"));
    }
    return std::make_shared<GroupNorm>(32, channels);
  }
  if (norm == "LN") return std::make_shared<ChannelLayerNorm>(channels);
  return absl::InvalidArgumentError(absl::StrCat(
      "get_norm: unknown norm '", norm,
      "' (expected one of \"\", FrozenBN, BN, SyncBN, nnSyncBN, naiveSyncBN, naiveSyncBN_N, GN, "
      "LN)"));
}

}  // namespace d2x::modeling
