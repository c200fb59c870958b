// Caffe2's RPN proposal ops, CPU, upright boxes, legacy_plus_one=False:
//   GenerateProposals       (caffe2/operators/generate_proposals_op.cc + _util_boxes.h)
//   CollectRpnProposals     (collect_and_distribute_fpn_rpn_proposals_op.cc)
//   DistributeFpnProposals  (same file)
// Arithmetic is float32 in Caffe2's order of operations.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>
#include <vector>

#include "core/caffe2_ops/c2_box_transform.h"
#include "core/caffe2_ops/c2_nms.h"
#include "core/caffe2_ops/c2_ops.h"

namespace d2x::c2ops {
namespace {

void CheckCommon(const char* op, bool angle_bound_on, bool legacy_plus_one) {
  (void)angle_bound_on;  // only used by rotated boxes
  TORCH_CHECK(!legacy_plus_one, op, ": legacy_plus_one=True is not supported (detectron2 ",
              "exports with False)");
}

// One image of one level: Caffe2's GenerateProposalsOp::ProposalsForOneImage.
void ProposalsForOneImage(const float* im_info, const float* anchors, int64_t num_anchors,
                          int64_t height, int64_t width, float feat_stride, const float* deltas,
                          const float* scores, int64_t pre_nms_topn, int64_t post_nms_topn,
                          float nms_thresh, float min_size, int64_t image,
                          std::vector<float>* out_rois, std::vector<float>* out_probs) {
  const int64_t a_count = num_anchors, hw = height * width, total = hw * a_count;
  // Scores and deltas in (H, W, A) order, as the anchors.
  std::vector<float> flat_scores(total);
  for (int64_t a = 0; a < a_count; ++a) {
    for (int64_t k = 0; k < hw; ++k) flat_scores[k * a_count + a] = scores[a * hw + k];
  }
  std::vector<int64_t> all(total);
  std::iota(all.begin(), all.end(), 0);
  std::vector<int64_t> order = internal::SortByDecreasingScore(
      all, [&](int64_t i) { return flat_scores[i]; });
  if (pre_nms_topn > 0 && pre_nms_topn < total) order.resize(pre_nms_topn);

  const int64_t m = static_cast<int64_t>(order.size());
  std::vector<float> proposals(m * 4), sorted_scores(m);
  const int im_h = static_cast<int>(im_info[0]), im_w = static_cast<int>(im_info[1]);
  for (int64_t r = 0; r < m; ++r) {
    const int64_t idx = order[r];
    const int64_t k = idx / a_count, a = idx % a_count;
    const int64_t h = k / width, w = k % width;
    const float sx = static_cast<float>(w) * feat_stride;
    const float sy = static_cast<float>(h) * feat_stride;
    const float ax1 = anchors[a * 4 + 0] + sx, ay1 = anchors[a * 4 + 1] + sy;
    const float ax2 = anchors[a * 4 + 2] + sx, ay2 = anchors[a * 4 + 3] + sy;
    // bbox_deltas[(a * 4 + c), h, w]
    float b[4];
    internal::TransformAndClipBox(ax1, ay1, ax2, ay2, deltas[(a * 4 + 0) * hw + k],
                                  deltas[(a * 4 + 1) * hw + k], deltas[(a * 4 + 2) * hw + k],
                                  deltas[(a * 4 + 3) * hw + k], im_w, im_h, b);
    std::copy(b, b + 4, proposals.begin() + r * 4);
    sorted_scores[r] = flat_scores[idx];
  }
  // filter_boxes_upright: both sides >= min_size * scale, center inside the image.
  const double scaled_min = static_cast<double>(min_size) * im_info[2];
  std::vector<int64_t> keep;
  for (int64_t r = 0; r < m; ++r) {
    const float* b = &proposals[r * 4];
    const float ws = b[2] - b[0], hs = b[3] - b[1];
    const float x_ctr = b[0] + ws / 2.0f, y_ctr = b[1] + hs / 2.0f;
    if (ws >= scaled_min && hs >= scaled_min && x_ctr < im_info[1] && y_ctr < im_info[0]) {
      keep.push_back(r);
    }
  }
  const int64_t top_n =
      post_nms_topn > 0 && post_nms_topn < static_cast<int64_t>(keep.size()) ? post_nms_topn : -1;
  keep = internal::NmsCpu(proposals.data(), 4, keep, nms_thresh, top_n);
  for (int64_t r : keep) {
    out_rois->push_back(static_cast<float>(image));
    out_rois->insert(out_rois->end(), proposals.begin() + r * 4, proposals.begin() + r * 4 + 4);
    out_probs->push_back(sorted_scores[r]);
  }
}

std::tuple<at::Tensor, at::Tensor> GenerateProposalsKernel(
    const at::Tensor& scores_in, const at::Tensor& deltas_in, const at::Tensor& im_info_in,
    const at::Tensor& anchors_in, double spatial_scale, int64_t pre_nms_topn,
    int64_t post_nms_topn, double nms_thresh, double min_size, bool angle_bound_on,
    int64_t angle_bound_lo, int64_t angle_bound_hi, double clip_angle_thresh,
    bool legacy_plus_one) {
  (void)angle_bound_lo;
  (void)angle_bound_hi;
  (void)clip_angle_thresh;
  constexpr const char* kOp = kGenerateProposalsOp;
  CheckCommon(kOp, angle_bound_on, legacy_plus_one);
  TORCH_CHECK(scores_in.dim() == 4 && scores_in.scalar_type() == at::kFloat, kOp,
              ": scores must be float [N, A, H, W], got ", scores_in.sizes(), " ",
              scores_in.scalar_type());
  const int64_t n = scores_in.size(0), a = scores_in.size(1), h = scores_in.size(2),
                w = scores_in.size(3);
  TORCH_CHECK(anchors_in.dim() == 2 && anchors_in.size(1) == 4 && anchors_in.size(0) == a, kOp,
              ": anchors must be [", a, ", 4] (rotated anchors are not supported), got ",
              anchors_in.sizes());
  TORCH_CHECK(deltas_in.sizes() == at::IntArrayRef({n, 4 * a, h, w}), kOp,
              ": bbox_deltas must be [", n, ", ", 4 * a, ", ", h, ", ", w, "], got ",
              deltas_in.sizes());
  TORCH_CHECK(im_info_in.sizes() == at::IntArrayRef({n, 3}), kOp, ": im_info must be [", n,
              ", 3], got ", im_info_in.sizes());
  TORCH_CHECK(spatial_scale > 0, kOp, ": spatial_scale must be > 0");
  const at::Tensor scores = scores_in.contiguous();
  const at::Tensor deltas = deltas_in.to(at::kFloat).contiguous();
  const at::Tensor im_info = im_info_in.to(at::kFloat).contiguous();
  const at::Tensor anchors = anchors_in.to(at::kFloat).contiguous();
  // Caffe2 stores 1 / spatial_scale (both float).
  const float feat_stride =
      static_cast<float>(1.0 / static_cast<double>(static_cast<float>(spatial_scale)));
  std::vector<float> rois, probs;
  for (int64_t i = 0; i < n; ++i) {
    ProposalsForOneImage(im_info.data_ptr<float>() + i * 3, anchors.data_ptr<float>(), a, h, w,
                         feat_stride, deltas.data_ptr<float>() + i * 4 * a * h * w,
                         scores.data_ptr<float>() + i * a * h * w, pre_nms_topn, post_nms_topn,
                         static_cast<float>(nms_thresh), static_cast<float>(min_size), i, &rois,
                         &probs);
  }
  const int64_t r = static_cast<int64_t>(probs.size());
  return {at::tensor(rois, at::kFloat).view({r, 5}), at::tensor(probs, at::kFloat)};
}

// Caffe2 merges every level's proposals and keeps the rpn_post_nms_topN best of the whole batch
// (sorted by decreasing score, ties by position). Here the top N are taken per image (images in
// order, each sorted), which equals Caffe2 for one image and gives each image of a batch what a
// batch of 1 would.
at::Tensor CollectRpnProposalsKernel(at::TensorList input_list, int64_t rpn_max_level,
                                     int64_t rpn_min_level, int64_t rpn_post_nms_topn) {
  constexpr const char* kOp = kCollectRpnProposalsOp;
  const int64_t levels = rpn_max_level - rpn_min_level + 1;
  TORCH_CHECK(levels > 0 && static_cast<int64_t>(input_list.size()) == 2 * levels, kOp,
              ": expected ", 2 * std::max<int64_t>(levels, 0), " inputs (rois and probs of levels ",
              rpn_min_level, "..", rpn_max_level, "), got ", input_list.size());
  std::vector<at::Tensor> rois_list, probs_list;
  for (int64_t l = 0; l < levels; ++l) {
    TORCH_CHECK(input_list[l].dim() == 2 && input_list[l].size(1) == 5, kOp, ": rois of level ",
                rpn_min_level + l, " must be [R, 5], got ", input_list[l].sizes());
    TORCH_CHECK(input_list[levels + l].dim() == 1 &&
                    input_list[levels + l].size(0) == input_list[l].size(0),
                kOp, ": probs of level ", rpn_min_level + l, " must be [", input_list[l].size(0),
                "], got ", input_list[levels + l].sizes());
    rois_list.push_back(input_list[l].to(at::kFloat));
    probs_list.push_back(input_list[levels + l].to(at::kFloat));
  }
  const at::Tensor rois = at::cat(rois_list, 0).contiguous();
  const at::Tensor probs = at::cat(probs_list, 0).contiguous();
  const float* r = rois.data_ptr<float>();
  const float* p = probs.data_ptr<float>();
  const int64_t total = probs.size(0);
  int64_t num_images = 0;
  for (int64_t i = 0; i < total; ++i) {
    num_images = std::max(num_images, static_cast<int64_t>(r[i * 5]) + 1);
  }
  std::vector<int64_t> selected;
  for (int64_t b = 0; b < num_images; ++b) {
    std::vector<int64_t> mine;
    for (int64_t i = 0; i < total; ++i) {
      if (static_cast<int64_t>(r[i * 5]) == b) mine.push_back(i);
    }
    std::vector<int64_t> order =
        internal::SortByDecreasingScore(mine, [&](int64_t i) { return p[i]; });
    if (static_cast<int64_t>(order.size()) > rpn_post_nms_topn) order.resize(rpn_post_nms_topn);
    selected.insert(selected.end(), order.begin(), order.end());
  }
  return rois.index_select(0, at::tensor(selected, at::kLong));
}

// Caffe2's DistributeFpnProposals (the distribute half of CollectAndDistributeFpnRpnProposals):
// level = floor(canonical_level + log2(sqrt(area) / canonical_scale + 1e-6)), clamped; rois of
// each level in input order; rois_idx_restore_int32 maps the concatenated levels back.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
DistributeFpnProposalsKernel(const at::Tensor& rois_in, int64_t roi_canonical_scale,
                             int64_t roi_canonical_level, int64_t roi_max_level,
                             int64_t roi_min_level, bool legacy_plus_one) {
  constexpr const char* kOp = kDistributeFpnProposalsOp;
  CheckCommon(kOp, true, legacy_plus_one);
  TORCH_CHECK(roi_max_level - roi_min_level + 1 == 4, kOp,
              ": the Caffe2 op has 4 output levels (rois_fpn2..5); got levels ", roi_min_level,
              "..", roi_max_level);
  TORCH_CHECK(rois_in.dim() == 2 && rois_in.size(1) == 5, kOp,
              ": rois must be [R, 5] (batch, x1, y1, x2, y2), got ", rois_in.sizes());
  const at::Tensor rois = rois_in.to(at::kFloat).contiguous();
  const float* r = rois.data_ptr<float>();
  const int64_t n = rois.size(0);
  std::vector<int64_t> level(n);
  for (int64_t i = 0; i < n; ++i) {
    const float* b = r + i * 5 + 1;
    const float area = (b[2] - b[0]) * (b[3] - b[1]);
    const float s = std::sqrt(area);
    const float lvl = std::floor(static_cast<float>(roi_canonical_level) +
                                 std::log2(s / static_cast<float>(roi_canonical_scale) + 1e-6f));
    level[i] = std::min<int64_t>(std::max<int64_t>(static_cast<int64_t>(lvl), roi_min_level),
                                 roi_max_level);
  }
  std::vector<at::Tensor> outs;
  std::vector<int64_t> order;  // rois in output order (level by level)
  for (int64_t l = roi_min_level; l <= roi_max_level; ++l) {
    std::vector<int64_t> mine;
    for (int64_t i = 0; i < n; ++i) {
      if (level[i] == l) mine.push_back(i);
    }
    order.insert(order.end(), mine.begin(), mine.end());
    outs.push_back(rois.index_select(0, at::tensor(mine, at::kLong)));
  }
  std::vector<int32_t> restore(n);
  for (int64_t k = 0; k < n; ++k) restore[order[k]] = static_cast<int32_t>(k);
  return {outs[0], outs[1], outs[2], outs[3], at::tensor(restore, at::kInt)};
}

}  // namespace

TORCH_LIBRARY_IMPL(d2x, CPU, m) {
  m.impl("c2_generate_proposals", &GenerateProposalsKernel);
  m.impl("c2_collect_rpn_proposals", &CollectRpnProposalsKernel);
  m.impl("c2_distribute_fpn_proposals", &DistributeFpnProposalsKernel);
}

}  // namespace d2x::c2ops
