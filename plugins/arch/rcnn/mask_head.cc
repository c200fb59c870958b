#include "plugins/arch/rcnn/mask_head.h"

#include <ATen/ATen.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/modeling/module_state.h"
#include "core/ops/detection_ops.h"

namespace d2x::rcnn {

absl::StatusOr<MaskRcnnConvUpsampleHead> MaskRcnnConvUpsampleHead::Create(
    const MaskHeadOptions& options) {
  MaskRcnnConvUpsampleHead head;
  int64_t channels = options.in_channels;
  for (int64_t k = 0; k < options.num_conv; ++k) {
    absl::StatusOr<std::shared_ptr<modeling::Conv2d>> conv =
        MakeConv2d(channels, options.conv_dim, 3, 1, options.norm, /*relu=*/true);
    if (!conv.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("MODEL.ROI_MASK_HEAD.NORM: ", conv.status().message()));
    }
    head.convs_.push_back(*std::move(conv));
    channels = options.conv_dim;
  }
  head.deconv_ = ConvTranspose2d::Create(channels, options.conv_dim, 2, 2, 0);
  const int64_t num_outputs = options.cls_agnostic_mask ? 1 : options.num_classes;
  absl::StatusOr<std::shared_ptr<modeling::Conv2d>> predictor =
      MakeConv2d(options.conv_dim, num_outputs, 1, 0, "", /*relu=*/false);
  if (!predictor.ok()) return predictor.status();
  head.predictor_ = *std::move(predictor);
  return head;
}

at::Tensor MaskRcnnConvUpsampleHead::Forward(const at::Tensor& input) const {
  at::Tensor x = input;
  for (const auto& conv : convs_) x = conv->Forward(x);
  x = at::relu(deconv_.Forward(x));
  return predictor_->Forward(x);
}

void MaskRcnnConvUpsampleHead::CollectState(const std::string& prefix, NamedTensors* out) const {
  for (size_t k = 0; k < convs_.size(); ++k) {
    modeling::CollectModuleState(absl::StrCat(prefix, "mask_fcn", k + 1, "."), *convs_[k], out);
  }
  deconv_.CollectState(prefix + "deconv.", out);
  modeling::CollectModuleState(prefix + "predictor.", *predictor_, out);
}

at::Tensor MaskRcnnInference(const at::Tensor& logits, const at::Tensor& classes) {
  if (logits.size(1) == 1) return logits.sigmoid();
  at::Tensor indices = at::arange(logits.size(0), classes.options().dtype(at::kLong));
  return logits.index({indices, classes}).unsqueeze(1).sigmoid();
}

at::Tensor PasteMasksInImage(const at::Tensor& masks, const at::Tensor& boxes, int64_t height,
                             int64_t width, double threshold) {
  // The d2x op pastes the detections of a batch; one image is a batch of one.
  const at::Tensor batch_index = at::zeros({masks.size(0)}, at::kLong);
  const at::Tensor output_sizes = at::tensor({height, width}, at::kLong).view({1, 2});
  return ops::PasteMasks(masks, boxes, batch_index, output_sizes, threshold);
}

}  // namespace d2x::rcnn
