// Caffe2's box ops, CPU, upright boxes, legacy_plus_one=False:
//   BBoxTransform        (caffe2/operators/bbox_transform_op.cc)
//   BoxWithNMSLimit      (box_with_nms_limit_op.cc, hard NMS)
//   BatchPermutation     (batch_permutation_op.cc)
//   LengthsToSegmentIds  (utility_ops.cc)
//   AliasWithName        (alias_with_name.cc)
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/caffe2_ops/c2_box_transform.h"
#include "core/caffe2_ops/c2_nms.h"
#include "core/caffe2_ops/c2_ops.h"

namespace d2x::c2ops {
namespace {

std::tuple<at::Tensor, at::Tensor> BBoxTransformKernel(
    const at::Tensor& rois_in, const at::Tensor& deltas_in, const at::Tensor& im_info_in,
    c10::ArrayRef<double> weights_in, bool apply_scale, bool rotated, bool angle_bound_on,
    int64_t angle_bound_lo, int64_t angle_bound_hi, double clip_angle_thresh,
    bool legacy_plus_one) {
  (void)angle_bound_on;
  (void)angle_bound_lo;
  (void)angle_bound_hi;
  (void)clip_angle_thresh;
  constexpr const char* kOp = kBBoxTransformOp;
  TORCH_CHECK(!rotated, kOp, ": rotated boxes are not supported");
  TORCH_CHECK(!legacy_plus_one, kOp, ": legacy_plus_one=True is not supported");
  TORCH_CHECK(weights_in.size() == 4, kOp, ": weights must have 4 values, got ",
              weights_in.size());
  TORCH_CHECK(rois_in.dim() == 2 && (rois_in.size(1) == 4 || rois_in.size(1) == 5), kOp,
              ": rois must be [R, 4] or [R, 5], got ", rois_in.sizes());
  const int64_t n = rois_in.size(0);
  TORCH_CHECK(deltas_in.dim() == 2 && deltas_in.size(0) == n && deltas_in.size(1) % 4 == 0, kOp,
              ": deltas must be [", n, ", 4K], got ", deltas_in.sizes());
  TORCH_CHECK(im_info_in.dim() == 2 && im_info_in.size(1) == 3, kOp,
              ": im_info must be [N, 3], got ", im_info_in.sizes());
  const int64_t num_classes = deltas_in.size(1) / 4, batch = im_info_in.size(0);
  const at::Tensor rois = rois_in.to(at::kFloat).contiguous();
  const at::Tensor deltas = deltas_in.to(at::kFloat).contiguous();
  const at::Tensor im_info = im_info_in.to(at::kFloat).contiguous();
  const float* r = rois.data_ptr<float>();
  const float* d = deltas.data_ptr<float>();
  const float* info = im_info.data_ptr<float>();
  const int64_t rc = rois.size(1);
  std::vector<int64_t> per_batch(batch, 0);
  if (rc == 4) {
    TORCH_CHECK(batch == 1, kOp, ": rois without a batch column need im_info of one image");
    per_batch[0] = n;
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t b = static_cast<int64_t>(r[i * 5]);
      TORCH_CHECK(b >= 0 && b < batch, kOp, ": roi ", i, " has batch index ", b, " but im_info has ",
                  batch, " rows");
      if (i > 0) {
        TORCH_CHECK(b >= static_cast<int64_t>(r[(i - 1) * 5]), kOp,
                    ": rois must be grouped by image in increasing order");
      }
      ++per_batch[b];
    }
  }
  const float w[4] = {static_cast<float>(weights_in[0]), static_cast<float>(weights_in[1]),
                      static_cast<float>(weights_in[2]), static_cast<float>(weights_in[3])};
  at::Tensor out = at::empty({n, 4 * num_classes}, at::kFloat);
  float* o = out.data_ptr<float>();
  int64_t offset = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const float scale_before = info[b * 3 + 2];
    const float scale_after = apply_scale ? scale_before : 1.0f;
    const int img_h = static_cast<int>(info[b * 3 + 0] / scale_before + 0.5f);
    const int img_w = static_cast<int>(info[b * 3 + 1] / scale_before + 0.5f);
    for (int64_t i = offset; i < offset + per_batch[b]; ++i) {
      const float* box = r + i * rc + (rc - 4);
      const float x1 = box[0] / scale_before, y1 = box[1] / scale_before;
      const float x2 = box[2] / scale_before, y2 = box[3] / scale_before;
      for (int64_t k = 0; k < num_classes; ++k) {
        const float* dk = d + i * 4 * num_classes + k * 4;
        float p[4];
        internal::TransformAndClipBox(x1, y1, x2, y2, dk[0] / w[0], dk[1] / w[1], dk[2] / w[2],
                                      dk[3] / w[3], img_w, img_h, p);
        float* ok = o + i * 4 * num_classes + k * 4;
        for (int c = 0; c < 4; ++c) ok[c] = p[c] * scale_after;
      }
    }
    offset += per_batch[b];
  }
  std::vector<float> splits(per_batch.begin(), per_batch.end());
  return {out, at::tensor(splits, at::kFloat)};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
BoxWithNmsLimitKernel(const at::Tensor& scores_in, const at::Tensor& boxes_in,
                      const at::Tensor& batch_splits_in, double score_thresh, double nms,
                      int64_t detections_per_im, bool soft_nms_enabled,
                      c10::string_view soft_nms_method, double soft_nms_sigma,
                      double soft_nms_min_score_thres, bool rotated, bool cls_agnostic_bbox_reg,
                      bool input_boxes_include_bg_cls, bool output_classes_include_bg_cls,
                      bool legacy_plus_one) {
  (void)soft_nms_method;
  (void)soft_nms_sigma;
  (void)soft_nms_min_score_thres;
  constexpr const char* kOp = kBoxWithNmsLimitOp;
  TORCH_CHECK(!soft_nms_enabled, kOp, ": soft NMS is not supported");
  TORCH_CHECK(!rotated, kOp, ": rotated boxes are not supported");
  TORCH_CHECK(!legacy_plus_one, kOp, ": legacy_plus_one=True is not supported");
  TORCH_CHECK(scores_in.dim() == 2 && boxes_in.dim() == 2 && scores_in.size(0) == boxes_in.size(0),
              kOp, ": scores [R, C] and boxes [R, 4C'] expected, got ", scores_in.sizes(), " and ",
              boxes_in.sizes());
  const int64_t rows = scores_in.size(0), num_classes = scores_in.size(1);
  // Caffe2's class-index maps (box_with_nms_limit_op.h); j = 1 .. num_classes - 1.
  const int64_t fg_start = input_boxes_include_bg_cls ? 1 : 0;
  auto score_col = [&](int64_t j) { return j - 1 + fg_start; };
  auto box_col = [&](int64_t j) -> int64_t {
    if (cls_agnostic_bbox_reg) return 0;
    return input_boxes_include_bg_cls ? j : j - 1;
  };
  TORCH_CHECK((box_col(num_classes - 1) + 1) * 4 == boxes_in.size(1), kOp, ": boxes must have ",
              (box_col(num_classes - 1) + 1) * 4, " columns for ", num_classes,
              " score columns, got ", boxes_in.size(1));
  const at::Tensor scores = scores_in.to(at::kFloat).contiguous();
  const at::Tensor boxes = boxes_in.to(at::kFloat).contiguous();
  const at::Tensor splits = batch_splits_in.to(at::kDouble).contiguous();
  TORCH_CHECK(splits.dim() == 1, kOp, ": batch_splits must be 1-D, got ", splits.sizes());
  const int64_t batch = splits.size(0);
  std::vector<int64_t> per_image(batch);
  int64_t sum = 0;
  for (int64_t b = 0; b < batch; ++b) {
    per_image[b] = static_cast<int64_t>(splits.data_ptr<double>()[b]);
    sum += per_image[b];
  }
  TORCH_CHECK(sum == rows, kOp, ": batch_splits sum to ", sum, " but there are ", rows, " boxes");
  const float* s = scores.data_ptr<float>();
  const float* bx = boxes.data_ptr<float>();
  const int64_t box_cols = boxes.size(1);
  const float thresh = static_cast<float>(score_thresh);

  std::vector<float> out_scores, out_boxes, out_classes, out_splits;
  std::vector<int32_t> out_keeps, out_keeps_size;
  int64_t offset = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t count = per_image[b];
    const float* sb = s + offset * num_classes;
    const float* bb = bx + offset * box_cols;
    std::vector<std::vector<int64_t>> keeps(num_classes);
    int64_t total_keep = 0;
    for (int64_t j = 1; j < num_classes; ++j) {
      const int64_t sc = score_col(j);
      std::vector<int64_t> inds;
      for (int64_t i = 0; i < count; ++i) {
        if (sb[i * num_classes + sc] > thresh) inds.push_back(i);
      }
      inds = internal::SortByDecreasingScore(
          inds, [&](int64_t i) { return sb[i * num_classes + sc]; });
      keeps[j] = internal::NmsCpu(bb + box_col(j) * 4, box_cols, inds, static_cast<float>(nms),
                                  detections_per_im > 0 ? detections_per_im : -1);
      total_keep += static_cast<int64_t>(keeps[j].size());
    }
    if (detections_per_im > 0 && total_keep > detections_per_im) {
      std::vector<std::pair<int64_t, int64_t>> all;  // (class, row)
      for (int64_t j = 1; j < num_classes; ++j) {
        for (int64_t i : keeps[j]) all.emplace_back(j, i);
      }
      std::stable_sort(all.begin(), all.end(), [&](const auto& l, const auto& r) {
        return sb[l.second * num_classes + score_col(l.first)] >
               sb[r.second * num_classes + score_col(r.first)];
      });
      for (auto& k : keeps) k.clear();
      for (int64_t i = 0; i < detections_per_im; ++i) keeps[all[i].first].push_back(all[i].second);
      total_keep = detections_per_im;
    }
    for (int64_t j = 1; j < num_classes; ++j) {
      for (int64_t i : keeps[j]) {
        out_scores.push_back(sb[i * num_classes + score_col(j)]);
        const float* box = bb + i * box_cols + box_col(j) * 4;
        out_boxes.insert(out_boxes.end(), box, box + 4);
        out_classes.push_back(static_cast<float>(j - (output_classes_include_bg_cls ? 0 : 1)));
      }
    }
    for (int64_t j = 0; j < num_classes; ++j) {
      for (int64_t i : keeps[j]) out_keeps.push_back(static_cast<int32_t>(i));
      out_keeps_size.push_back(static_cast<int32_t>(keeps[j].size()));
    }
    out_splits.push_back(static_cast<float>(total_keep));
    offset += count;
  }
  const int64_t d = static_cast<int64_t>(out_scores.size());
  return {at::tensor(out_scores, at::kFloat),
          at::tensor(out_boxes, at::kFloat).view({d, 4}),
          at::tensor(out_classes, at::kFloat),
          at::tensor(out_splits, at::kFloat),
          at::tensor(out_keeps, at::kInt),
          at::tensor(out_keeps_size, at::kInt).view({batch, num_classes})};
}

at::Tensor BatchPermutationKernel(const at::Tensor& x, const at::Tensor& indices) {
  TORCH_CHECK(indices.dim() == 1 && x.dim() >= 1 && indices.size(0) == x.size(0),
              kBatchPermutationOp, ": indices must be [", x.dim() >= 1 ? x.size(0) : 0,
              "], got ", indices.sizes());
  return x.index_select(0, indices.to(at::kLong));
}

at::Tensor LengthsToSegmentIdsKernel(const at::Tensor& lengths) {
  TORCH_CHECK(lengths.dim() == 1, kLengthsToSegmentIdsOp, ": lengths must be 1-D, got ",
              lengths.sizes());
  const at::Tensor l = lengths.to(at::kLong).contiguous();
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < l.size(0); ++i) {
    const int64_t n = l.data_ptr<int64_t>()[i];
    TORCH_CHECK(n >= 0, kLengthsToSegmentIdsOp, ": negative length ", n, " at ", i);
    ids.insert(ids.end(), n, static_cast<int32_t>(i));
  }
  return at::tensor(ids, at::kInt);
}

// AliasWithName marks a blob name in the graph; the converter fuses it away (detectron2's
// fuse_alias_placeholder). A copy, so the traced graph has no aliasing.
at::Tensor AliasWithNameKernel(const at::Tensor& input, c10::string_view name, bool is_backward) {
  (void)name;
  (void)is_backward;
  return input.clone();
}

}  // namespace

TORCH_LIBRARY_IMPL(d2x, CPU, m) {
  m.impl("c2_bbox_transform", &BBoxTransformKernel);
  m.impl("c2_box_with_nms_limit", &BoxWithNmsLimitKernel);
  m.impl("c2_batch_permutation", &BatchPermutationKernel);
  m.impl("c2_lengths_to_segment_ids", &LengthsToSegmentIdsKernel);
  m.impl("c2_alias_with_name", &AliasWithNameKernel);
}

}  // namespace d2x::c2ops
