#include "plugins/arch/rcnn/layers.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"

namespace d2x::rcnn {
namespace {

constexpr double kNormEps = 1e-5;  // BatchNorm2d, FrozenBatchNorm2d and GroupNorm defaults
constexpr int64_t kGroupNormGroups = 32;

at::Tensor Zeros(at::IntArrayRef shape) { return at::zeros(shape, at::kFloat); }

}  // namespace

absl::StatusOr<Norm> Norm::Create(const std::string& type, int64_t channels) {
  Norm norm;
  if (type.empty()) return norm;
  if (type == "GN") {
    if (channels % kGroupNormGroups != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "norm GN: ", channels, " channels are not divisible into ", kGroupNormGroups, " groups"));
    }
    norm.weight_ = at::ones({channels}, at::kFloat);
    norm.bias_ = Zeros({channels});
  } else if (type == "FrozenBN" || type == "BN" || type == "SyncBN" || type == "naiveSyncBN") {
    norm.weight_ = at::ones({channels}, at::kFloat);
    norm.bias_ = Zeros({channels});
    norm.running_mean_ = Zeros({channels});
    // FrozenBatchNorm2d initializes running_var to 1 - eps; BatchNorm2d to 1.
    norm.running_var_ = type == "FrozenBN" ? at::full({channels}, 1.0 - kNormEps, at::kFloat)
                                           : at::ones({channels}, at::kFloat);
    if (type != "FrozenBN") norm.num_batches_tracked_ = at::zeros({}, at::kLong);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported head norm '", type, "' (expected \"\", GN, FrozenBN, BN, SyncBN)"));
  }
  norm.type_ = type;
  return norm;
}

at::Tensor Norm::Forward(const at::Tensor& x) const {
  if (type_.empty()) return x;
  if (type_ == "GN") return at::group_norm(x, kGroupNormGroups, weight_, bias_, kNormEps);
  return at::batch_norm(x, weight_, bias_, running_mean_, running_var_, /*training=*/false,
                        /*momentum=*/0.1, kNormEps, /*cudnn_enabled=*/false);
}

void Norm::CollectState(const std::string& prefix, NamedTensors* out) const {
  if (type_.empty()) return;
  out->emplace_back(prefix + "weight", weight_);
  out->emplace_back(prefix + "bias", bias_);
  if (running_mean_.defined()) {
    out->emplace_back(prefix + "running_mean", running_mean_);
    out->emplace_back(prefix + "running_var", running_var_);
  }
  if (num_batches_tracked_.defined()) {
    out->emplace_back(prefix + "num_batches_tracked", num_batches_tracked_);
  }
}

absl::StatusOr<Conv2d> Conv2d::Create(int64_t in_channels, int64_t out_channels,
                                      int64_t kernel_size, int64_t stride, int64_t padding,
                                      const std::string& norm) {
  Conv2d conv;
  absl::StatusOr<Norm> n = Norm::Create(norm, out_channels);
  if (!n.ok()) return n.status();
  conv.norm_ = *std::move(n);
  conv.weight_ = Zeros({out_channels, in_channels, kernel_size, kernel_size});
  if (!conv.norm_.enabled()) conv.bias_ = Zeros({out_channels});
  conv.stride_ = stride;
  conv.padding_ = padding;
  return conv;
}

at::Tensor Conv2d::Forward(const at::Tensor& x) const {
  at::Tensor y = at::conv2d(x, weight_, bias_, {stride_, stride_}, {padding_, padding_});
  return norm_.Forward(y);
}

void Conv2d::CollectState(const std::string& prefix, NamedTensors* out) const {
  out->emplace_back(prefix + "weight", weight_);
  if (bias_.defined()) out->emplace_back(prefix + "bias", bias_);
  norm_.CollectState(prefix + "norm.", out);
}

ConvTranspose2d ConvTranspose2d::Create(int64_t in_channels, int64_t out_channels,
                                        int64_t kernel_size, int64_t stride, int64_t padding) {
  ConvTranspose2d conv;
  conv.weight_ = Zeros({in_channels, out_channels, kernel_size, kernel_size});
  conv.bias_ = Zeros({out_channels});
  conv.stride_ = stride;
  conv.padding_ = padding;
  return conv;
}

at::Tensor ConvTranspose2d::Forward(const at::Tensor& x) const {
  return at::conv_transpose2d(x, weight_, bias_, {stride_, stride_}, {padding_, padding_});
}

void ConvTranspose2d::CollectState(const std::string& prefix, NamedTensors* out) const {
  out->emplace_back(prefix + "weight", weight_);
  out->emplace_back(prefix + "bias", bias_);
}

Linear Linear::Create(int64_t in_features, int64_t out_features) {
  Linear fc;
  fc.weight_ = Zeros({out_features, in_features});
  fc.bias_ = Zeros({out_features});
  return fc;
}

at::Tensor Linear::Forward(const at::Tensor& x) const { return at::linear(x, weight_, bias_); }

void Linear::CollectState(const std::string& prefix, NamedTensors* out) const {
  out->emplace_back(prefix + "weight", weight_);
  out->emplace_back(prefix + "bias", bias_);
}

}  // namespace d2x::rcnn
