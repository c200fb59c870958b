#include "plugins/arch/panoptic_fpn/sem_seg_head.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/util/status_macros.h"

namespace d2x::panoptic_fpn {
namespace {

// F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False) (nn.Upsample too): the
// output size is floor(in * s) and the kernel is given the scale factor itself.
at::Tensor UpsampleBilinear(const at::Tensor& x, double scale) {
  const std::vector<double> scales = {scale, scale};
  return at::upsample_bilinear2d(x, c10::nullopt, /*align_corners=*/false,
                                 at::ArrayRef<double>(scales));
}

}  // namespace

absl::StatusOr<std::shared_ptr<SemSegFpnHead>> SemSegFpnHead::Create(
    const SemSegHeadOptions& o, const std::map<std::string, modeling::ShapeSpec>& input_shape) {
  if (o.in_features.empty()) {
    return absl::InvalidArgumentError("MODEL.SEM_SEG_HEAD.IN_FEATURES must not be empty");
  }
  if (o.num_classes <= 0 || o.conv_dims <= 0 || o.common_stride <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MODEL.SEM_SEG_HEAD: NUM_CLASSES (", o.num_classes, "), CONVS_DIM (", o.conv_dims,
        ") and COMMON_STRIDE (", o.common_stride, ") must be positive"));
  }
  // {k: v for k, v in input_shape.items() if k in IN_FEATURES}, sorted by stride (stable: a
  // Python dict iterates in the backbone's insertion order; ties keep that order).
  std::vector<std::pair<std::string, modeling::ShapeSpec>> shapes;
  for (const std::string& f : o.in_features) {
    auto it = input_shape.find(f);
    if (it == input_shape.end()) {
      std::vector<std::string> names;
      for (const auto& [name, shape] : input_shape) names.push_back(name);
      return absl::InvalidArgumentError(absl::StrCat(
          "MODEL.SEM_SEG_HEAD.IN_FEATURES: '", f, "' is not an output of the backbone (outputs: ",
          absl::StrJoin(names, ", "), ")"));
    }
    if (std::none_of(shapes.begin(), shapes.end(), [&](const auto& s) { return s.first == f; })) {
      shapes.emplace_back(f, it->second);
    }
  }
  std::stable_sort(shapes.begin(), shapes.end(),
                   [](const auto& a, const auto& b) { return a.second.stride < b.second.stride; });

  auto head = std::make_shared<SemSegFpnHead>();
  head->options_ = o;
  for (const auto& [feature, shape] : shapes) {
    head->in_features_.push_back(feature);
    const int64_t head_length = std::max<int64_t>(
        1, static_cast<int64_t>(std::log2(static_cast<double>(shape.stride)) -
                                std::log2(static_cast<double>(o.common_stride))));
    ScaleHead scale_head;
    scale_head.upsample = shape.stride != o.common_stride;
    auto sequential = std::make_shared<torch::nn::Module>("Sequential");
    int64_t index = 0;
    for (int64_t k = 0; k < head_length; ++k) {
      modeling::Conv2dOptions conv;
      conv.in_channels = k == 0 ? shape.channels : o.conv_dims;
      conv.out_channels = o.conv_dims;
      conv.kernel_size = 3;
      conv.stride = 1;
      conv.padding = 1;
      conv.bias = o.norm.empty();
      conv.norm = o.norm;
      conv.activation = modeling::Activation::kRelu;
      absl::StatusOr<std::shared_ptr<modeling::Conv2d>> c = modeling::Conv2d::Create(conv);
      if (!c.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("MODEL.SEM_SEG_HEAD (", feature, "): ", c.status().message()));
      }
      scale_head.convs.push_back(sequential->register_module(std::to_string(index), *c));
      index += scale_head.upsample ? 2 : 1;  // nn.Upsample takes the next index
    }
    head->register_module(feature, sequential);
    head->scale_heads_.push_back(std::move(scale_head));
  }
  modeling::Conv2dOptions predictor;
  predictor.in_channels = o.conv_dims;
  predictor.out_channels = o.num_classes;
  predictor.kernel_size = 1;
  D2X_ASSIGN_OR_RETURN(std::shared_ptr<modeling::Conv2d> p, modeling::Conv2d::Create(predictor));
  head->predictor_ = head->register_module("predictor", p);
  return head;
}

at::Tensor SemSegFpnHead::Layers(const modeling::FeatureMap& features) const {
  at::Tensor x;
  for (size_t i = 0; i < in_features_.size(); ++i) {
    auto it = features.find(in_features_[i]);
    TORCH_CHECK(it != features.end(), "SemSegFPNHead: feature '", in_features_[i], "' missing");
    at::Tensor y = it->second;
    for (const auto& conv : scale_heads_[i].convs) {
      y = conv->Forward(y);
      if (scale_heads_[i].upsample) y = UpsampleBilinear(y, 2.0);
    }
    x = i == 0 ? y : x + y;
  }
  return predictor_->Forward(x);
}

at::Tensor SemSegFpnHead::Forward(const modeling::FeatureMap& features) const {
  return UpsampleBilinear(Layers(features), static_cast<double>(options_.common_stride));
}

at::Tensor SemSegPostprocess(const at::Tensor& result, int64_t image_height, int64_t image_width,
                             int64_t output_height, int64_t output_width) {
  at::Tensor cropped =
      result.slice(1, 0, image_height).slice(2, 0, image_width).expand({1, -1, -1, -1});
  return at::upsample_bilinear2d(cropped, {output_height, output_width}, /*align_corners=*/false,
                                 c10::nullopt, c10::nullopt)
      .select(0, 0);
}

}  // namespace d2x::panoptic_fpn
