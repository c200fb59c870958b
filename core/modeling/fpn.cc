#include "core/modeling/fpn.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace d2x::modeling {

std::vector<at::Tensor> LastLevelMaxPool::Forward(const at::Tensor& x) {
  return {at::max_pool2d(x, {1, 1}, {2, 2}, {0, 0}, {1, 1}, /*ceil_mode=*/false)};
}

absl::StatusOr<std::shared_ptr<LastLevelP6P7>> LastLevelP6P7::Create(
    int64_t in_channels, int64_t out_channels, const std::string& in_feature) {
  Conv2dOptions o;
  o.in_channels = in_channels;
  o.out_channels = out_channels;
  o.kernel_size = 3;
  o.stride = 2;
  o.padding = 1;
  D2X_ASSIGN_OR_RETURN(auto p6, Conv2d::Create(o));
  o.in_channels = out_channels;
  D2X_ASSIGN_OR_RETURN(auto p7, Conv2d::Create(o));
  return std::make_shared<LastLevelP6P7>(std::move(p6), std::move(p7), in_feature);
}

LastLevelP6P7::LastLevelP6P7(std::shared_ptr<Conv2d> p6, std::shared_ptr<Conv2d> p7,
                             const std::string& in_feature)
    : TopBlock("LastLevelP6P7"), in_feature_(in_feature) {
  p6_ = register_module("p6", std::move(p6));
  p7_ = register_module("p7", std::move(p7));
}

std::vector<at::Tensor> LastLevelP6P7::Forward(const at::Tensor& x) {
  at::Tensor p6 = p6_->Forward(x);
  at::Tensor p7 = p7_->Forward(at::relu(p6));
  return {p6, p7};
}

absl::StatusOr<std::shared_ptr<Fpn>> Fpn::Create(std::shared_ptr<Backbone> bottom_up,
                                                 const FpnOptions& options,
                                                 std::shared_ptr<TopBlock> top_block) {
  if (!bottom_up) return absl::InvalidArgumentError("FPN: bottom_up is null");
  if (options.in_features.empty()) {
    return absl::InvalidArgumentError("MODEL.FPN.IN_FEATURES must not be empty");
  }
  if (options.fuse_type != "sum" && options.fuse_type != "avg") {
    return absl::InvalidArgumentError(absl::StrCat("MODEL.FPN.FUSE_TYPE must be sum or avg, got '",
                                                   options.fuse_type, "'"));
  }
  if (options.out_channels <= 0) {
    return absl::InvalidArgumentError("MODEL.FPN.OUT_CHANNELS must be positive");
  }
  const std::map<std::string, ShapeSpec> input_shapes = bottom_up->output_shape();
  std::vector<int64_t> strides, in_channels;
  for (const std::string& f : options.in_features) {
    auto it = input_shapes.find(f);
    if (it == input_shapes.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "MODEL.FPN.IN_FEATURES: '", f, "' is not an output of the bottom-up backbone"));
    }
    strides.push_back(it->second.stride);
    in_channels.push_back(it->second.channels);
  }
  for (size_t i = 1; i < strides.size(); ++i) {
    if (strides[i] != 2 * strides[i - 1]) {
      return absl::InvalidArgumentError(absl::StrCat("FPN: strides ", strides[i], " ",
                                                     strides[i - 1],
                                                     " are not log2 contiguous"));
    }
  }

  auto fpn = std::make_shared<Fpn>();
  const bool use_bias = options.norm.empty();
  int64_t stage = 0;
  for (size_t idx = 0; idx < in_channels.size(); ++idx) {
    Conv2dOptions lateral;
    lateral.in_channels = in_channels[idx];
    lateral.out_channels = options.out_channels;
    lateral.kernel_size = 1;
    lateral.bias = use_bias;
    lateral.norm = options.norm;
    Conv2dOptions output = lateral;
    output.in_channels = options.out_channels;
    output.kernel_size = 3;
    output.padding = 1;
    D2X_ASSIGN_OR_RETURN(auto lateral_conv, Conv2d::Create(lateral));
    D2X_ASSIGN_OR_RETURN(auto output_conv, Conv2d::Create(output));
    stage = static_cast<int64_t>(std::log2(static_cast<double>(strides[idx])));
    fpn->register_module(absl::StrCat("fpn_lateral", stage), lateral_conv);
    fpn->register_module(absl::StrCat("fpn_output", stage), output_conv);
    fpn->lateral_convs_.insert(fpn->lateral_convs_.begin(), lateral_conv);
    fpn->output_convs_.insert(fpn->output_convs_.begin(), output_conv);
    const std::string name = absl::StrCat("p", stage);
    fpn->out_features_.push_back(name);
    fpn->strides_[name] = strides[idx];
  }
  if (top_block) {
    fpn->top_block_ = fpn->register_module("top_block", std::move(top_block));
    for (int64_t s = stage; s < stage + fpn->top_block_->num_levels(); ++s) {
      const std::string name = absl::StrCat("p", s + 1);
      fpn->out_features_.push_back(name);
      fpn->strides_[name] = int64_t{1} << (s + 1);
    }
    const std::string& in = fpn->top_block_->in_feature();
    if (!input_shapes.count(in) && !fpn->strides_.count(in)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "FPN: top block input '", in, "' is neither a bottom-up nor an FPN feature"));
    }
  }
  fpn->bottom_up_ = fpn->register_module("bottom_up", std::move(bottom_up));
  fpn->in_features_ = options.in_features;
  fpn->out_channels_ = options.out_channels;
  fpn->size_divisibility_ = strides.back();
  fpn->square_pad_ = options.square_pad;
  fpn->fuse_avg_ = options.fuse_type == "avg";
  return fpn;
}

FeatureMap Fpn::Forward(const at::Tensor& x) {
  FeatureMap bottom_up_features = bottom_up_->Forward(x);
  std::vector<at::Tensor> results;
  at::Tensor prev = lateral_convs_[0]->Forward(bottom_up_features.at(in_features_.back()));
  results.push_back(output_convs_[0]->Forward(prev));
  const std::vector<double> scale = {2.0, 2.0};
  for (size_t idx = 1; idx < lateral_convs_.size(); ++idx) {
    const at::Tensor& features = bottom_up_features.at(in_features_[in_features_.size() - 1 - idx]);
    // F.interpolate(prev, scale_factor=2.0, mode="nearest").
    at::Tensor top_down = at::upsample_nearest2d(prev, c10::nullopt, scale);
    at::Tensor lateral = lateral_convs_[idx]->Forward(features);
    prev = lateral + top_down;
    if (fuse_avg_) prev.div_(2);
    results.insert(results.begin(), output_convs_[idx]->Forward(prev));
  }
  if (top_block_) {
    const std::string& in = top_block_->in_feature();
    at::Tensor top_in;
    auto it = bottom_up_features.find(in);
    if (it != bottom_up_features.end()) {
      top_in = it->second;
    } else {
      const size_t pos =
          std::find(out_features_.begin(), out_features_.end(), in) - out_features_.begin();
      top_in = results.at(pos);
    }
    for (at::Tensor& t : top_block_->Forward(top_in)) results.push_back(std::move(t));
  }
  FeatureMap out;
  for (size_t i = 0; i < out_features_.size(); ++i) out[out_features_[i]] = results.at(i);
  return out;
}

std::map<std::string, ShapeSpec> Fpn::output_shape() const {
  std::map<std::string, ShapeSpec> out;
  for (const std::string& f : out_features_) out[f] = {out_channels_, strides_.at(f)};
  return out;
}

absl::Status Fpn::Fuse() {
  auto resnet = std::dynamic_pointer_cast<ResNet>(bottom_up_);
  if (!resnet) return absl::UnimplementedError("FPN::Fuse: bottom-up is not a ResNet");
  D2X_RETURN_IF_ERROR(resnet->Fuse());
  for (auto& conv : lateral_convs_) {
    if (conv->norm() && conv->norm()->is_inference_affine()) {
      D2X_RETURN_IF_ERROR(conv->Fuse());
    }
  }
  for (auto& conv : output_convs_) {
    if (conv->norm() && conv->norm()->is_inference_affine()) {
      D2X_RETURN_IF_ERROR(conv->Fuse());
    }
  }
  return absl::OkStatus();
}

namespace {

absl::StatusOr<std::shared_ptr<Fpn>> BuildFpn(const ResNetConfig& resnet, const FpnConfig& fpn,
                                              bool retinanet) {
  D2X_ASSIGN_OR_RETURN(std::shared_ptr<ResNet> bottom_up, BuildResNet(resnet));
  std::shared_ptr<TopBlock> top_block;
  if (retinanet) {
    const auto shapes = bottom_up->output_shape();
    auto it = shapes.find("res5");
    if (it == shapes.end()) {
      return absl::InvalidArgumentError(
          "build_retinanet_resnet_fpn_backbone needs res5 in MODEL.RESNETS.OUT_FEATURES");
    }
    D2X_ASSIGN_OR_RETURN(top_block,
                         LastLevelP6P7::Create(it->second.channels, fpn.out_channels, "res5"));
  } else {
    top_block = std::make_shared<LastLevelMaxPool>();
  }
  FpnOptions o;
  o.in_features = fpn.in_features;
  o.out_channels = fpn.out_channels;
  o.norm = fpn.norm;
  o.fuse_type = fpn.fuse_type;
  return Fpn::Create(std::move(bottom_up), o, std::move(top_block));
}

}  // namespace

absl::StatusOr<std::shared_ptr<Fpn>> BuildResNetFpnBackbone(const ResNetConfig& resnet,
                                                            const FpnConfig& fpn) {
  return BuildFpn(resnet, fpn, /*retinanet=*/false);
}

absl::StatusOr<std::shared_ptr<Fpn>> BuildRetinaNetResNetFpnBackbone(const ResNetConfig& resnet,
                                                                     const FpnConfig& fpn) {
  return BuildFpn(resnet, fpn, /*retinanet=*/true);
}

}  // namespace d2x::modeling
