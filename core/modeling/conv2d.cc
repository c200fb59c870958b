#include "core/modeling/conv2d.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace d2x::modeling {

absl::StatusOr<std::shared_ptr<Conv2d>> Conv2d::Create(const Conv2dOptions& o) {
  if (o.in_channels <= 0 || o.out_channels <= 0 || o.kernel_size <= 0 || o.stride <= 0 ||
      o.padding < 0 || o.dilation <= 0 || o.groups <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Conv2d: invalid options in=", o.in_channels, " out=", o.out_channels, " k=",
        o.kernel_size, " stride=", o.stride, " padding=", o.padding, " dilation=", o.dilation,
        " groups=", o.groups));
  }
  if (o.in_channels % o.groups != 0 || o.out_channels % o.groups != 0) {
    return absl::InvalidArgumentError(absl::StrCat("Conv2d: channels ", o.in_channels, "->",
                                                   o.out_channels, " not divisible by groups ",
                                                   o.groups));
  }
  D2X_ASSIGN_OR_RETURN(std::shared_ptr<NormLayer> norm, GetNorm(o.norm, o.out_channels));
  return std::make_shared<Conv2d>(o, std::move(norm));
}

Conv2d::Conv2d(const Conv2dOptions& o, std::shared_ptr<NormLayer> norm)
    : torch::nn::Module("Conv2d"), options_(o) {
  weight_ = register_parameter(
      "weight", at::zeros({o.out_channels, o.in_channels / o.groups, o.kernel_size, o.kernel_size}),
      /*requires_grad=*/false);
  if (o.bias) {
    bias_ = register_parameter("bias", at::zeros({o.out_channels}), /*requires_grad=*/false);
  }
  if (norm) norm_ = register_module("norm", std::move(norm));
}

at::Tensor Conv2d::Forward(const at::Tensor& x) {
  const Conv2dOptions& o = options_;
  at::Tensor y = at::conv2d(x, weight_, bias_, {o.stride, o.stride}, {o.padding, o.padding},
                            {o.dilation, o.dilation}, o.groups);
  if (norm_) y = norm_->Forward(y);
  if (o.activation == Activation::kRelu) y = at::relu(y);
  return y;
}

absl::Status Conv2d::Fuse() {
  if (!norm_) return absl::OkStatus();
  at::Tensor scale, shift;
  if (!norm_->InferenceAffine(&scale, &shift)) {
    return absl::FailedPreconditionError(
        absl::StrCat("Conv2d::Fuse: norm ", norm_->name(), " is not affine in inference"));
  }
  at::NoGradGuard no_grad;
  at::Tensor w = weight_ * scale.to(weight_.dtype()).view({-1, 1, 1, 1});
  at::Tensor b = shift.to(weight_.dtype());
  if (bias_.defined()) b = b + bias_ * scale.to(weight_.dtype());
  weight_.set_(w);
  if (bias_.defined()) {
    bias_.set_(b);
  } else {
    bias_ = register_parameter("bias", b, /*requires_grad=*/false);
    options_.bias = true;
  }
  unregister_module("norm");
  norm_.reset();
  return absl::OkStatus();
}

}  // namespace d2x::modeling
