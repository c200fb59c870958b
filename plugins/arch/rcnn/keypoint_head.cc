#include "plugins/arch/rcnn/keypoint_head.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "core/modeling/module_state.h"
#include "core/ops/detection_ops.h"

namespace d2x::rcnn {

absl::StatusOr<KrcnnConvDeconvUpsampleHead> KrcnnConvDeconvUpsampleHead::Create(
    const KeypointHeadOptions& options) {
  KrcnnConvDeconvUpsampleHead head;
  int64_t channels = options.in_channels;
  for (int64_t dim : options.conv_dims) {
    // Conv2d(in, out, 3, stride=1, padding=1) with bias, followed by its own nn.ReLU.
    absl::StatusOr<std::shared_ptr<modeling::Conv2d>> conv =
        MakeConv2d(channels, dim, 3, 1, "", /*relu=*/true);
    if (!conv.ok()) return conv.status();
    head.convs_.push_back(*std::move(conv));
    channels = dim;
  }
  constexpr int64_t kDeconvKernel = 4;
  head.score_lowres_ = ConvTranspose2d::Create(channels, options.num_keypoints, kDeconvKernel, 2,
                                               kDeconvKernel / 2 - 1);
  return head;
}

at::Tensor KrcnnConvDeconvUpsampleHead::Forward(const at::Tensor& input) const {
  at::Tensor x = input;
  for (const auto& conv : convs_) x = conv->Forward(x);
  x = score_lowres_.Forward(x);
  // interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False).
  const std::vector<double> scale = {2.0, 2.0};
  return at::upsample_bilinear2d(x, c10::nullopt, false, scale);
}

void KrcnnConvDeconvUpsampleHead::CollectState(const std::string& prefix,
                                               NamedTensors* out) const {
  for (size_t k = 0; k < convs_.size(); ++k) {
    modeling::CollectModuleState(absl::StrCat(prefix, "conv_fcn", k + 1, "."), *convs_[k], out);
  }
  score_lowres_.CollectState(prefix + "score_lowres.", out);
}

at::Tensor KeypointRcnnInference(const at::Tensor& maps, const at::Tensor& rois) {
  at::Tensor xy = ops::HeatmapsToKeypoints(maps, rois);
  return xy.index_select(2, at::tensor(std::vector<int64_t>{0, 1, 3}, at::kLong));
}

}  // namespace d2x::rcnn
