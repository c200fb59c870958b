#include "core/structures/image_list.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace d2x::structures {

at::Tensor ImageList::Get(int64_t index) const {
  const ImageSize& s = image_sizes.at(index);
  return tensor.select(0, index).slice(-2, 0, s.height).slice(-1, 0, s.width);
}

absl::StatusOr<ImageList> ImageList::FromTensors(const std::vector<at::Tensor>& tensors,
                                                 int64_t size_divisibility, double pad_value,
                                                 int64_t square_size) {
  if (tensors.empty()) {
    return absl::InvalidArgumentError("ImageList::FromTensors: no tensors given");
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor& t = tensors[i];
    if (!t.defined() || t.dim() < 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("ImageList::FromTensors: tensor ", i, " must be defined with >= 2 dims"));
    }
    if (t.sizes().slice(0, t.dim() - 2) != tensors[0].sizes().slice(0, tensors[0].dim() - 2)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ImageList::FromTensors: tensor ", i, " has shape ", c10::str(t.sizes()),
          " whose leading dims differ from tensor 0 ", c10::str(tensors[0].sizes())));
    }
    if (t.scalar_type() != tensors[0].scalar_type()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ImageList::FromTensors: tensor ", i, " has dtype ",
                       c10::toString(t.scalar_type()), ", tensor 0 has ",
                       c10::toString(tensors[0].scalar_type())));
    }
  }

  ImageList out;
  int64_t max_h = 0;
  int64_t max_w = 0;
  for (const at::Tensor& t : tensors) {
    out.image_sizes.push_back({t.size(-2), t.size(-1)});
    max_h = std::max(max_h, t.size(-2));
    max_w = std::max(max_w, t.size(-1));
  }
  if (square_size > 0) {
    if (max_h > square_size || max_w > square_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("ImageList::FromTensors: image of ", max_h, "x", max_w,
                       " does not fit square_size ", square_size));
    }
    max_h = max_w = square_size;
  }
  if (size_divisibility > 1) {
    const int64_t stride = size_divisibility;
    max_h = (max_h + stride - 1) / stride * stride;
    max_w = (max_w + stride - 1) / stride * stride;
  }

  try {
    at::Tensor batched;
    if (tensors.size() == 1) {
      const at::Tensor& t = tensors[0];
      batched = at::constant_pad_nd(t, {0, max_w - t.size(-1), 0, max_h - t.size(-2)}, pad_value)
                    .unsqueeze_(0);
    } else {
      std::vector<int64_t> shape;
      shape.push_back(static_cast<int64_t>(tensors.size()));
      for (int64_t d = 0; d < tensors[0].dim() - 2; ++d) shape.push_back(tensors[0].size(d));
      shape.push_back(max_h);
      shape.push_back(max_w);
      batched = at::full(shape, pad_value, tensors[0].options());
      for (size_t i = 0; i < tensors.size(); ++i) {
        batched.select(0, static_cast<int64_t>(i))
            .slice(-2, 0, tensors[i].size(-2))
            .slice(-1, 0, tensors[i].size(-1))
            .copy_(tensors[i]);
      }
    }
    out.tensor = batched.contiguous();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("ImageList::FromTensors: ", e.what()));
  }
  return out;
}

}  // namespace d2x::structures
