// Internal: Caffe2's utils::nms_cpu for upright boxes with legacy_plus_one=False
// (generate_proposals_op_util_nms.h), shared by the proposal and box kernels.
#ifndef D2X_CORE_CAFFE2_OPS_C2_NMS_H_
#define D2X_CORE_CAFFE2_OPS_C2_NMS_H_

#include <algorithm>
#include <cstdint>
#include <vector>

namespace d2x::c2ops::internal {

// `boxes` is row-major [*, 4] (x1, y1, x2, y2), read at `stride` floats per row. `order` lists
// candidate rows by decreasing score. Greedy: keep the first, drop the rest whose IoU with it is
// not <= thresh (NaN IoUs are dropped too), repeat; stop after top_n kept (top_n < 0: no limit).
inline std::vector<int64_t> NmsCpu(const float* boxes, int64_t stride,
                                   const std::vector<int64_t>& order, float thresh,
                                   int64_t top_n) {
  std::vector<int64_t> keep;
  std::vector<int64_t> rest = order;
  std::vector<int64_t> next;
  auto area = [&](int64_t i) {
    const float* b = boxes + i * stride;
    return (b[2] - b[0]) * (b[3] - b[1]);
  };
  while (!rest.empty()) {
    if (top_n >= 0 && static_cast<int64_t>(keep.size()) >= top_n) break;
    const int64_t i = rest[0];
    keep.push_back(i);
    const float* bi = boxes + i * stride;
    const float area_i = area(i);
    next.clear();
    for (size_t k = 1; k < rest.size(); ++k) {
      const float* bj = boxes + rest[k] * stride;
      const float xx1 = std::max(bj[0], bi[0]);
      const float yy1 = std::max(bj[1], bi[1]);
      const float xx2 = std::min(bj[2], bi[2]);
      const float yy2 = std::min(bj[3], bi[3]);
      const float w = std::max(xx2 - xx1, 0.0f);
      const float h = std::max(yy2 - yy1, 0.0f);
      const float inter = w * h;
      const float ovr = inter / (area_i + area(rest[k]) - inter);
      if (ovr <= thresh) next.push_back(rest[k]);
    }
    rest.swap(next);
  }
  return keep;
}

// Indices 0..n-1 of `scores` sorted by decreasing score; ties keep index order (Caffe2 uses
// std::sort, whose tie order is unspecified).
template <typename Score>
std::vector<int64_t> SortByDecreasingScore(const std::vector<int64_t>& candidates,
                                           const Score& score) {
  std::vector<int64_t> order = candidates;
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return score(a) > score(b); });
  return order;
}

}  // namespace d2x::c2ops::internal

#endif  // D2X_CORE_CAFFE2_OPS_C2_NMS_H_
