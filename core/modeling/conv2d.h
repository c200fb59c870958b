// Conv2d with optional norm and activation, as detectron2/layers/wrappers.py Conv2d:
// y = activation(norm(conv2d(x))). Registered names: weight, bias (when bias=true), norm.* (the
// norm layer as child "norm"). Plain torch.nn.Conv2d layers (RPN/RetinaNet predictors, FPN's
// P6/P7) are a Conv2d without norm and activation.
#ifndef D2X_CORE_MODELING_CONV2D_H_
#define D2X_CORE_MODELING_CONV2D_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/modeling/norm.h"

namespace d2x::modeling {

enum class Activation { kNone, kRelu };

struct Conv2dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel_size = 1;
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  std::string norm;  // get_norm name; "" = none
  Activation activation = Activation::kNone;
};

class Conv2d : public torch::nn::Module {
 public:
  // Validates the options (positive sizes, divisible groups, known norm).
  static absl::StatusOr<std::shared_ptr<Conv2d>> Create(const Conv2dOptions& options);

  // `norm` may be null. Prefer Create().
  Conv2d(const Conv2dOptions& options, std::shared_ptr<NormLayer> norm);

  at::Tensor Forward(const at::Tensor& x);

  // Folds an inference-affine norm (FrozenBN, BN) into weight and bias and removes the "norm"
  // child: w' = w * scale[:, None, None, None], b' = b * scale + shift (b = 0 without bias).
  // The result equals the unfused layer up to float rounding (not bit-identical). Call it after
  // loading weights: the fused layer has a "bias" and no "norm.*" tensors. No-op without norm;
  // FailedPrecondition for norms that are not affine in inference (GN, LN).
  absl::Status Fuse();

  const Conv2dOptions& options() const { return options_; }
  const at::Tensor& weight() const { return weight_; }
  const at::Tensor& bias() const { return bias_; }  // undefined without bias
  const std::shared_ptr<NormLayer>& norm() const { return norm_; }

 private:
  Conv2dOptions options_;
  at::Tensor weight_;
  at::Tensor bias_;
  std::shared_ptr<NormLayer> norm_;
};

}  // namespace d2x::modeling

#endif  // D2X_CORE_MODELING_CONV2D_H_
