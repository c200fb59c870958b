// Backbone interface, as detectron2/modeling/backbone/backbone.py.
#ifndef D2X_CORE_MODELING_BACKBONE_H_
#define D2X_CORE_MODELING_BACKBONE_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace d2x::modeling {

// detectron2 ShapeSpec (only the fields backbones report).
struct ShapeSpec {
  int64_t channels = 0;
  int64_t stride = 0;
};

// Feature name ("res2", "p3", ...) -> NCHW tensor. Iterate in Backbone::out_features() order
// when order matters (high to low resolution).
using FeatureMap = std::map<std::string, at::Tensor>;

class Backbone : public torch::nn::Module {
 public:
  using torch::nn::Module::Module;

  // x: [N, C, H, W] with H, W multiples of size_divisibility(). Throws c10::Error on bad input
  // (like the ATen ops inside); callers at the API boundary convert.
  virtual FeatureMap Forward(const at::Tensor& x) = 0;

  // Output feature names, high to low resolution (detectron2 `_out_features`).
  virtual const std::vector<std::string>& out_features() const = 0;

  // Channels and stride of every output feature.
  virtual std::map<std::string, ShapeSpec> output_shape() const = 0;

  // Required divisibility of the input height/width (0 = none), detectron2 size_divisibility.
  virtual int64_t size_divisibility() const { return 0; }

  // padding_constraints["square_size"] (0 = none).
  virtual int64_t square_pad() const { return 0; }
};

}  // namespace d2x::modeling

#endif  // D2X_CORE_MODELING_BACKBONE_H_
