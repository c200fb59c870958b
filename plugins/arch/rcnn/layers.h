// Minimal eager layers for the R-CNN heads, holding their parameters as plain tensors.
//
// Each layer mirrors one detectron2 module (layers.Conv2d with optional norm, nn.Linear,
// nn.ConvTranspose2d) and reports its parameters/buffers under detectron2's names, so that a
// checkpoint maps 1:1 onto CollectState(). Tensors are created zero-filled; loading a checkpoint
// copies into them in place (StateDict() aliases their storage).
#ifndef D2X_PLUGINS_ARCH_RCNN_LAYERS_H_
#define D2X_PLUGINS_ARCH_RCNN_LAYERS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace d2x::rcnn {

// (name, tensor) pairs in registration order, like PyTorch's state_dict().
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// detectron2's get_norm for the head convs: "" (none), "GN" (GroupNorm(32, C)), "FrozenBN",
// "BN" / "SyncBN" / "naiveSyncBN" (BatchNorm2d in eval mode).
class Norm {
 public:
  static absl::StatusOr<Norm> Create(const std::string& type, int64_t channels);
  Norm() = default;

  bool enabled() const { return !type_.empty(); }
  at::Tensor Forward(const at::Tensor& x) const;
  void CollectState(const std::string& prefix, NamedTensors* out) const;

 private:
  std::string type_;
  at::Tensor weight_, bias_, running_mean_, running_var_, num_batches_tracked_;
};

// detectron2.layers.Conv2d: conv (+ norm); the activation is applied by the owner.
class Conv2d {
 public:
  // `norm` as for Norm::Create; detectron2 drops the conv bias when a norm is used.
  static absl::StatusOr<Conv2d> Create(int64_t in_channels, int64_t out_channels,
                                       int64_t kernel_size, int64_t stride, int64_t padding,
                                       const std::string& norm = "");
  Conv2d() = default;

  at::Tensor Forward(const at::Tensor& x) const;
  void CollectState(const std::string& prefix, NamedTensors* out) const;
  int64_t out_channels() const { return weight_.size(0); }

 private:
  at::Tensor weight_, bias_;
  int64_t stride_ = 1, padding_ = 0;
  Norm norm_;
};

// nn.ConvTranspose2d (groups 1, dilation 1, output_padding 0).
class ConvTranspose2d {
 public:
  static ConvTranspose2d Create(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                                int64_t stride, int64_t padding);
  ConvTranspose2d() = default;

  at::Tensor Forward(const at::Tensor& x) const;
  void CollectState(const std::string& prefix, NamedTensors* out) const;

 private:
  at::Tensor weight_, bias_;
  int64_t stride_ = 1, padding_ = 0;
};

// nn.Linear.
class Linear {
 public:
  static Linear Create(int64_t in_features, int64_t out_features);
  Linear() = default;

  at::Tensor Forward(const at::Tensor& x) const;
  void CollectState(const std::string& prefix, NamedTensors* out) const;
  int64_t out_features() const { return weight_.size(0); }

 private:
  at::Tensor weight_, bias_;
};

}  // namespace d2x::rcnn

#endif  // D2X_PLUGINS_ARCH_RCNN_LAYERS_H_
