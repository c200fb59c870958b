#include "plugins/arch/rcnn/mask_head.h"

#include <ATen/ATen.h>

#include <cmath>

#include "absl/strings/str_cat.h"

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
    CollectModuleState(absl::StrCat(prefix, "mask_fcn", k + 1, "."), *convs_[k], out);
  }
  deconv_.CollectState(prefix + "deconv.", out);
  CollectModuleState(prefix + "predictor.", *predictor_, out);
}

at::Tensor MaskRcnnInference(const at::Tensor& logits, const at::Tensor& classes) {
  if (logits.size(1) == 1) return logits.sigmoid();
  at::Tensor indices = at::arange(logits.size(0), classes.options().dtype(at::kLong));
  return logits.index({indices, classes}).unsqueeze(1).sigmoid();
}

namespace {

// _do_paste_mask's skip_empty region for chunks of one box each, for all boxes at once:
// x0 = clamp(floor(x0) - 1, min=0), y0 likewise, x1 = clamp(ceil(x1) + 1, max=img_w),
// y1 = clamp(ceil(y1) + 1, max=img_h), as int32. Returns [N, 4] int32 (x0, y0, x1, y1).
at::Tensor PasteRegions(const at::Tensor& boxes, int64_t img_h, int64_t img_w) {
  at::Tensor lo = at::clamp_min(boxes.slice(1, 0, 2).floor() - 1, 0).to(at::kInt);
  at::Tensor x1 = at::clamp_max(boxes.select(1, 2).ceil() + 1, static_cast<double>(img_w));
  at::Tensor y1 = at::clamp_max(boxes.select(1, 3).ceil() + 1, static_cast<double>(img_h));
  return at::cat({lo, at::stack({x1, y1}, 1).to(at::kInt)}, 1).contiguous();
}

// _do_paste_mask over `region` for one mask: mask [1, 1, M, M], box [1, 4] -> [h, w] values.
at::Tensor DoPasteMask(const at::Tensor& mask, const at::Tensor& box, const int32_t region[4]) {
  std::vector<at::Tensor> corners = at::split(box, 1, 1);  // each [1, 1]
  const at::Tensor& x0 = corners[0];
  const at::Tensor& y0 = corners[1];
  const at::Tensor& x1 = corners[2];
  const at::Tensor& y1 = corners[3];

  at::TensorOptions f32 = at::TensorOptions().dtype(at::kFloat);
  at::Tensor img_y = at::arange(region[1], region[3], f32) + 0.5;
  at::Tensor img_x = at::arange(region[0], region[2], f32) + 0.5;
  img_y = (img_y - y0) / (y1 - y0) * 2 - 1;  // [1, h]
  img_x = (img_x - x0) / (x1 - x0) * 2 - 1;  // [1, w]

  const int64_t n = mask.size(0);
  at::Tensor gx = img_x.unsqueeze(1).expand({n, img_y.size(1), img_x.size(1)});
  at::Tensor gy = img_y.unsqueeze(2).expand({n, img_y.size(1), img_x.size(1)});
  at::Tensor grid = at::stack({gx, gy}, 3);

  at::Tensor m = mask.is_floating_point() ? mask : mask.to(at::kFloat);
  // F.grid_sample(mode="bilinear" (0), padding_mode="zeros" (0), align_corners=False).
  return at::grid_sampler(m, grid.to(m.scalar_type()), 0, 0, false).select(1, 0)[0];
}

}  // namespace

at::Tensor PasteMasksInImage(const at::Tensor& masks, const at::Tensor& boxes, int64_t height,
                             int64_t width, double threshold) {
  const int64_t n = masks.size(0);
  at::Tensor img_masks = at::zeros({n, height, width}, masks.options().dtype(at::kBool));
  if (n == 0) return img_masks;
  const at::Tensor regions = PasteRegions(boxes, height, width);
  const int32_t* r = regions.data_ptr<int32_t>();
  // On CPU detectron2 pastes one mask per chunk (num_chunks = N), each over its own region.
  for (int64_t i = 0; i < n; ++i, r += 4) {
    if (r[2] <= r[0] || r[3] <= r[1]) continue;  // empty region: nothing to paste
    at::Tensor values =
        DoPasteMask(masks.slice(0, i, i + 1).unsqueeze(1), boxes.slice(0, i, i + 1), r);
    img_masks[i].slice(0, r[1], r[3]).slice(1, r[0], r[2]).copy_(values >= threshold);
  }
  return img_masks;
}

}  // namespace d2x::rcnn
