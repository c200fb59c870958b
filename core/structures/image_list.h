// ImageList: a batch of images of possibly different sizes padded into one tensor, as
// detectron2's structures/image_list.py.
#ifndef D2X_CORE_STRUCTURES_IMAGE_LIST_H_
#define D2X_CORE_STRUCTURES_IMAGE_LIST_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace d2x::structures {

// (height, width) of one image before padding.
struct ImageSize {
  int64_t height = 0;
  int64_t width = 0;

  bool operator==(const ImageSize& o) const { return height == o.height && width == o.width; }
  bool operator!=(const ImageSize& o) const { return !(*this == o); }
};

struct ImageList {
  // [N, C_1, ..., C_K, Hp, Wp] (usually [N, 3, Hp, Wp]); contiguous.
  at::Tensor tensor;
  // Unpadded size of each image; image_sizes.size() == N.
  std::vector<ImageSize> image_sizes;

  int64_t size() const { return static_cast<int64_t>(image_sizes.size()); }

  // Image `index` at its original size: tensor[index, ..., :h, :w] (a view).
  at::Tensor Get(int64_t index) const;

  // ImageList.from_tensors: pads every tensor ([..., H_i, W_i], equal leading dims) with
  // `pad_value` at the bottom/right to the common maximum (H, W); when size_divisibility > 1 the
  // padded size is rounded up to a multiple of it; square_size > 0 (padding_constraints
  // "square_size") pads to that square instead of the maximum. Errors: empty list, undefined or
  // <2-D tensors, mismatched leading dims or dtypes, images larger than square_size.
  static absl::StatusOr<ImageList> FromTensors(const std::vector<at::Tensor>& tensors,
                                               int64_t size_divisibility = 0,
                                               double pad_value = 0.0, int64_t square_size = 0);
};

}  // namespace d2x::structures

#endif  // D2X_CORE_STRUCTURES_IMAGE_LIST_H_
