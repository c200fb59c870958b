#include "core/io/image.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "opencv2/imgcodecs.hpp"

namespace d2x::io {

absl::StatusOr<at::Tensor> ReadImage(const std::string& path, const std::string& format) {
  if (format != "BGR" && format != "RGB") {
    return absl::InvalidArgumentError(
        absl::StrCat("image format '", format, "' is not supported (expected BGR or RGB)"));
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("image ", path, ": no such file"));
  }
  cv::Mat mat;
  try {
    mat = cv::imread(path, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("image ", path, ": ", e.what()));
  }
  if (mat.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image ", path, ": cannot decode (not an image OpenCV can read)"));
  }
  at::Tensor hwc = at::from_blob(mat.data, {mat.rows, mat.cols, 3}, at::kByte).clone();
  if (format == "RGB") hwc = hwc.flip({2});
  return hwc.permute({2, 0, 1}).contiguous();
}

absl::Status WriteImage(const std::string& path, const at::Tensor& chw, const std::string& format) {
  if (chw.dim() != 3 || chw.size(0) != 3 || chw.scalar_type() != at::kByte) {
    return absl::InvalidArgumentError(
        absl::StrCat("WriteImage(", path, "): expected a uint8 [3,H,W] tensor"));
  }
  at::Tensor hwc = chw.permute({1, 2, 0});
  if (format == "RGB") hwc = hwc.flip({2});
  hwc = hwc.contiguous();
  cv::Mat mat(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)), CV_8UC3,
              hwc.data_ptr());
  bool ok = false;
  try {
    ok = cv::imwrite(path, mat);
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("cannot write image ", path, ": ", e.what()));
  }
  if (!ok) return absl::InternalError(absl::StrCat("cannot write image ", path));
  return absl::OkStatus();
}

}  // namespace d2x::io
