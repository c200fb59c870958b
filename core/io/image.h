// Reading and writing images (OpenCV imgcodecs) as LibTorch tensors.
#ifndef D2X_CORE_IO_IMAGE_H_
#define D2X_CORE_IO_IMAGE_H_

#include <ATen/core/Tensor.h>

#include <string>

#include "absl/status/statusor.h"

namespace d2x::io {

// Reads an image file as uint8 [3, H, W] in `format` channel order ("BGR" or "RGB", as
// detectron2's INPUT.FORMAT; cv::imread's BGR array, like detectron2's read_image).
absl::StatusOr<at::Tensor> ReadImage(const std::string& path, const std::string& format = "BGR");

// Writes a uint8 [3, H, W] tensor in `format` order, or a [H, W] uint8/int32-as-RGB image
// (see WritePanopticPng). The format comes from the extension (.png, .jpg).
absl::Status WriteImage(const std::string& path, const at::Tensor& chw,
                        const std::string& format = "BGR");

}  // namespace d2x::io

#endif  // D2X_CORE_IO_IMAGE_H_
