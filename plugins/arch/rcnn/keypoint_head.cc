#include "plugins/arch/rcnn/keypoint_head.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"

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
    CollectModuleState(absl::StrCat(prefix, "conv_fcn", k + 1, "."), *convs_[k], out);
  }
  score_lowres_.CollectState(prefix + "score_lowres.", out);
}

at::Tensor HeatmapsToKeypoints(const at::Tensor& maps, const at::Tensor& rois) {
  const int64_t num_rois = maps.size(0);
  const int64_t num_keypoints = maps.size(1);
  at::Tensor xy_preds = at::zeros({rois.size(0), num_keypoints, 4}, maps.options());
  if (num_rois == 0) return xy_preds;

  at::Tensor offset_x = rois.select(1, 0);
  at::Tensor offset_y = rois.select(1, 1);
  at::Tensor widths = (rois.select(1, 2) - rois.select(1, 0)).clamp_min(1);
  at::Tensor heights = (rois.select(1, 3) - rois.select(1, 1)).clamp_min(1);
  at::Tensor widths_ceil = widths.ceil();
  at::Tensor heights_ceil = heights.ceil();
  at::Tensor width_corrections = widths / widths_ceil;
  at::Tensor height_corrections = heights / heights_ceil;

  // Per-ROI output sizes (data dependent, hence the loop detectron2 also has).
  at::Tensor sizes = at::stack({heights_ceil, widths_ceil}, 1).to(at::kLong).contiguous();
  const int64_t* size_ptr = sizes.data_ptr<int64_t>();
  at::Tensor keypoints_idx = at::arange(num_keypoints, maps.options().dtype(at::kLong));

  std::vector<at::Tensor> max_scores(num_rois), positions(num_rois), widths_out(num_rois);
  at::Tensor pos_all = at::empty({num_rois, num_keypoints}, at::kLong);
  at::Tensor logit_all = at::empty({num_rois, num_keypoints}, maps.options());
  at::Tensor w_all = at::empty({num_rois}, at::kLong);
  for (int64_t i = 0; i < num_rois; ++i) {
    const int64_t out_h = size_ptr[2 * i], out_w = size_ptr[2 * i + 1];
    at::Tensor roi_map = at::upsample_bicubic2d(maps.slice(0, i, i + 1), {out_h, out_w},
                                                /*align_corners=*/false, c10::nullopt,
                                                c10::nullopt)
                             .reshape({num_keypoints, out_h * out_w});
    at::Tensor pos = roi_map.argmax(1);
    pos_all[i].copy_(pos);
    logit_all[i].copy_(roi_map.gather(1, pos.unsqueeze(1)).squeeze(1));
    w_all[i] = out_w;
  }
  // max_score == the value at the argmax; the score at the argmax is
  // exp(0) / sum(exp(maps - max_score)) over the pooled resolution.
  at::Tensor max_score = logit_all.view({num_rois, num_keypoints, 1, 1});
  at::Tensor tmp_pool_resolution = (maps - max_score).exp_();
  at::Tensor score = at::ones_like(logit_all) /
                     tmp_pool_resolution.sum({2, 3}, /*keepdim=*/false);

  at::Tensor w = w_all.unsqueeze(1);
  at::Tensor x_int = pos_all.remainder(w);
  at::Tensor y_int = (pos_all - x_int).div(w, "floor");
  at::Tensor x = (x_int.to(at::kFloat) + 0.5) * width_corrections.unsqueeze(1);
  at::Tensor y = (y_int.to(at::kFloat) + 0.5) * height_corrections.unsqueeze(1);
  xy_preds.select(2, 0).copy_(x + offset_x.unsqueeze(1));
  xy_preds.select(2, 1).copy_(y + offset_y.unsqueeze(1));
  xy_preds.select(2, 2).copy_(logit_all);
  xy_preds.select(2, 3).copy_(score);
  return xy_preds;
}

at::Tensor KeypointRcnnInference(const at::Tensor& maps, const at::Tensor& rois) {
  at::Tensor xy = HeatmapsToKeypoints(maps, rois);
  return xy.index_select(2, at::tensor(std::vector<int64_t>{0, 1, 3}, at::kLong));
}

}  // namespace d2x::rcnn
