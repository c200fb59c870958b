// The largest elementwise difference of two tensors of the same shape, as the exporters' checks
// report it (core/trace's generalization check, core/verify's field differences).
#ifndef D2X_CORE_UTIL_TENSOR_DIFF_H_
#define D2X_CORE_UTIL_TENSOR_DIFF_H_

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <limits>

namespace d2x::util {

// max |a - b| over all elements, in double precision (bool / integer tensors as numbers). Equal
// values count 0, including equal infinities; a NaN on either side makes the result +inf, unless
// `nan_equal` and both sides are NaN there. Computed in chunks of 2^20 elements: full-image mask
// fields have ~10^8 elements, whose double copies would take gigabytes. `a` and `b` must have the
// same number of elements.
inline double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b, bool nan_equal = false) {
  constexpr int64_t kChunk = int64_t{1} << 20;
  const at::Tensor fa = a.detach().to(at::kCPU).contiguous().view(-1);
  const at::Tensor fb = b.detach().to(at::kCPU).contiguous().view(-1);
  double max_diff = 0.0;
  for (int64_t begin = 0; begin < fa.numel(); begin += kChunk) {
    const int64_t end = std::min(fa.numel(), begin + kChunk);
    const at::Tensor x = fa.slice(0, begin, end).to(at::kDouble);
    const at::Tensor y = fb.slice(0, begin, end).to(at::kDouble);
    at::Tensor diff = (x - y).abs();
    diff = at::where(x == y, at::zeros_like(diff), diff);  // equal infinities
    if (nan_equal) diff = at::where(at::isnan(x) & at::isnan(y), at::zeros_like(diff), diff);
    if (at::isnan(diff).any().item<bool>()) return std::numeric_limits<double>::infinity();
    max_diff = std::max(max_diff, diff.max().item<double>());
  }
  return max_diff;
}

}  // namespace d2x::util

#endif  // D2X_CORE_UTIL_TENSOR_DIFF_H_
