#include "core/ops/box_math.h"

#include <vector>

namespace d2x::ops::internal {

std::vector<int64_t> CountRowsPerImage(const at::Tensor& batch_index, int64_t num_images,
                                       const char* op) {
  TORCH_CHECK(batch_index.dim() == 1, op, ": batch index must be 1-D, got ", batch_index.sizes());
  const at::Tensor idx = batch_index.to(at::kCPU, at::kLong).contiguous();
  const int64_t* p = idx.data_ptr<int64_t>();
  std::vector<int64_t> counts(num_images, 0);
  int64_t previous = 0;
  for (int64_t r = 0; r < idx.numel(); ++r) {
    TORCH_CHECK(p[r] >= 0 && p[r] < num_images, op, ": row ", r, " has batch index ", p[r],
                ", expected an index into the ", num_images, " images");
    TORCH_CHECK(p[r] >= previous, op, ": rows must be grouped by image in increasing order; row ",
                r, " has batch index ", p[r], " after ", previous);
    previous = p[r];
    ++counts[p[r]];
  }
  return counts;
}

}  // namespace d2x::ops::internal
