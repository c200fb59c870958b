// Normalization layers and get_norm, as detectron2/layers/batch_norm.py, for inference.
//
// Every layer registers its tensors under detectron2's names (weight, bias, running_mean,
// running_var[, num_batches_tracked]) so checkpoints map 1:1, and computes with the same ATen op
// detectron2 calls in eval mode under torch.no_grad() (F.batch_norm / F.group_norm), so results
// are bit-identical for identical inputs. All tensors are registered with requires_grad = false:
// d2x is inference only.
#ifndef D2X_CORE_MODELING_NORM_H_
#define D2X_CORE_MODELING_NORM_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace d2x::modeling {

// Base of every layer GetNorm builds.
class NormLayer : public torch::nn::Module {
 public:
  using torch::nn::Module::Module;
  virtual at::Tensor Forward(const at::Tensor& x) = 0;

  // When the layer is, in inference, a per-channel affine map y = x * scale + shift, sets `scale`
  // and `shift` ([C], the layer's dtype) and returns true, so it can be folded into the preceding
  // convolution (see Conv2d::Fuse). Otherwise returns false.
  virtual bool InferenceAffine(at::Tensor* scale, at::Tensor* shift) const { return false; }
  // Whether InferenceAffine succeeds.
  virtual bool is_inference_affine() const { return false; }
};

// detectron2 FrozenBatchNorm2d: buffers weight (1), bias (0), running_mean (0),
// running_var (1 - eps); forward = F.batch_norm(x, running_mean, running_var, weight, bias,
// training=False, eps) — detectron2's branch for inputs that do not require grad (inference).
class FrozenBatchNorm2d : public NormLayer {
 public:
  explicit FrozenBatchNorm2d(int64_t num_features, double eps = 1e-5);
  at::Tensor Forward(const at::Tensor& x) override;
  // scale = weight * (running_var + eps).rsqrt(); shift = bias - running_mean * scale.
  bool InferenceAffine(at::Tensor* scale, at::Tensor* shift) const override;
  bool is_inference_affine() const override { return true; }
  int64_t num_features() const { return num_features_; }
  double eps() const { return eps_; }

 private:
  int64_t num_features_;
  double eps_;
  at::Tensor weight_, bias_, running_mean_, running_var_;
};

// torch.nn.BatchNorm2d / SyncBatchNorm / detectron2 NaiveSyncBatchNorm in eval mode (all three
// normalize with the running statistics at inference). Parameters weight, bias; buffers
// running_mean, running_var, num_batches_tracked (int64 scalar), eps 1e-5.
class BatchNorm2d : public NormLayer {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5);
  at::Tensor Forward(const at::Tensor& x) override;
  bool InferenceAffine(at::Tensor* scale, at::Tensor* shift) const override;
  bool is_inference_affine() const override { return true; }

 private:
  int64_t num_features_;
  double eps_;
  at::Tensor weight_, bias_, running_mean_, running_var_, num_batches_tracked_;
};

// torch.nn.GroupNorm(num_groups, num_channels), eps 1e-5, affine (parameters weight, bias).
class GroupNorm : public NormLayer {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5);
  at::Tensor Forward(const at::Tensor& x) override;
  int64_t num_groups() const { return num_groups_; }

 private:
  int64_t num_groups_;
  int64_t num_channels_;
  double eps_;
  at::Tensor weight_, bias_;
};

// detectron2 LayerNorm ("LN"): normalizes over the channel dim of NCHW input, eps 1e-6,
// parameters weight, bias.
class ChannelLayerNorm : public NormLayer {
 public:
  explicit ChannelLayerNorm(int64_t num_channels, double eps = 1e-6);
  at::Tensor Forward(const at::Tensor& x) override;

 private:
  double eps_;
  at::Tensor weight_, bias_;
};

// detectron2 get_norm(norm, out_channels): "" -> nullptr (no norm); "FrozenBN"; "BN", "SyncBN",
// "nnSyncBN", "naiveSyncBN", "naiveSyncBN_N" -> BatchNorm2d (eval); "GN" -> GroupNorm(32, C);
// "LN" -> ChannelLayerNorm. Unknown names and GN with C not divisible by 32 are errors.
absl::StatusOr<std::shared_ptr<NormLayer>> GetNorm(const std::string& norm, int64_t channels);

}  // namespace d2x::modeling

#endif  // D2X_CORE_MODELING_NORM_H_
