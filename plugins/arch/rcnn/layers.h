// Layers of the R-CNN heads.
//
// nn.Linear and nn.ConvTranspose2d as plain tensors (core/modeling has no such modules), and
// helpers for core's Conv2d (+ norm). Every layer reports its parameters/buffers under detectron2's
// names, so a checkpoint maps 1:1 onto CollectState(). Tensors are created zero-filled; loading a
// checkpoint copies into them in place (StateDict() aliases their storage).
#ifndef D2X_PLUGINS_ARCH_RCNN_LAYERS_H_
#define D2X_PLUGINS_ARCH_RCNN_LAYERS_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/modeling/conv2d.h"

namespace d2x::rcnn {

// (name, tensor) pairs in registration order, like PyTorch's state_dict().
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// detectron2.layers.Conv2d (conv [+ norm] [+ ReLU]) from core/modeling, as the heads build it:
// bias only without norm (`bias=not conv_norm`). `norm` as detectron2's get_norm ("" = none).
absl::StatusOr<std::shared_ptr<modeling::Conv2d>> MakeConv2d(int64_t in_channels,
                                                              int64_t out_channels,
                                                              int64_t kernel_size, int64_t padding,
                                                              const std::string& norm, bool relu);

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
