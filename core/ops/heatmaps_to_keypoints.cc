// d2x::heatmaps_to_keypoints: detectron2's heatmaps_to_keypoints (modeling/roi_heads/
// keypoint_head.py) as one op. Each ROI's heatmaps are resized (bicubic, align_corners=False) to
// the ceiled ROI size — a data-dependent size, which is why the op exists: a trace cannot record
// it — and the first argmax gives the location (pixel centers at +0.5).
// maps [R, K, S, S] logits, rois [R, 4] XYXY -> [R, K, 4] (x, y, logit, score). The eager
// keypoint head runs this op too (plugins/arch/rcnn/keypoint_head.cc, KeypointRcnnInference).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <vector>

namespace d2x::ops {
namespace {

at::Tensor HeatmapsToKeypointsKernel(const at::Tensor& maps, const at::Tensor& rois) {
  constexpr const char* kOp = "d2x::heatmaps_to_keypoints";
  TORCH_CHECK(maps.dim() == 4, kOp, ": maps must be [R, K, S, S], got ", maps.sizes());
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 4 && rois.size(0) == maps.size(0), kOp,
              ": rois must be [", maps.size(0), ", 4], got ", rois.sizes());
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
  at::Tensor score =
      at::ones_like(logit_all) / tmp_pool_resolution.sum({2, 3}, /*keepdim=*/false);

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

}  // namespace

TORCH_LIBRARY_IMPL(d2x, CPU, m) {
  m.impl("heatmaps_to_keypoints", TORCH_FN(HeatmapsToKeypointsKernel));
}

}  // namespace d2x::ops
