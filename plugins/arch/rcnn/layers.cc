#include "plugins/arch/rcnn/layers.h"

#include <ATen/ATen.h>


namespace d2x::rcnn {
namespace {

at::Tensor Zeros(at::IntArrayRef shape) { return at::zeros(shape, at::kFloat); }

}  // namespace

absl::StatusOr<std::shared_ptr<modeling::Conv2d>> MakeConv2d(int64_t in_channels,
                                                              int64_t out_channels,
                                                              int64_t kernel_size, int64_t padding,
                                                              const std::string& norm, bool relu) {
  modeling::Conv2dOptions options;
  options.in_channels = in_channels;
  options.out_channels = out_channels;
  options.kernel_size = kernel_size;
  options.padding = padding;
  options.bias = norm.empty();
  options.norm = norm;
  options.activation = relu ? modeling::Activation::kRelu : modeling::Activation::kNone;
  return modeling::Conv2d::Create(options);
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
