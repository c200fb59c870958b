#include "core/io/panoptic.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "core/io/image.h"
#include "opencv2/imgcodecs.hpp"

namespace d2x::io {

absl::Status WritePanopticPng(const std::string& path, const at::Tensor& panoptic_seg) {
  if (panoptic_seg.dim() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("panoptic map for ", path, " must be [H, W]"));
  }
  at::Tensor ids = panoptic_seg.to(at::kLong);
  if (ids.numel() > 0 && (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= (1 << 24))) {
    return absl::InvalidArgumentError(
        absl::StrCat("panoptic ids for ", path, " must be in [0, 2^24)"));
  }
  // Channels R, G, B of the id; WriteImage takes BGR order.
  at::Tensor rgb = at::stack({ids % 256, (ids / 256) % 256, ids / 65536}).to(at::kByte);
  return WriteImage(path, rgb, "RGB");
}

absl::StatusOr<at::Tensor> ReadPanopticPng(const std::string& path) {
  absl::StatusOr<at::Tensor> rgb = ReadImage(path, "RGB");
  if (!rgb.ok()) return rgb.status();
  at::Tensor c = rgb->to(at::kInt);
  return c[0] + 256 * c[1] + 65536 * c[2];
}

nlohmann::json SegmentsInfoJson(const std::vector<PanopticSegment>& segments) {
  nlohmann::json out = nlohmann::json::array();
  for (const PanopticSegment& s : segments) {
    nlohmann::json j = {{"id", s.id},
                        {"category_id", s.category_id},
                        {"isthing", s.isthing},
                        {"area", s.area}};
    if (s.isthing) {
      j["score"] = s.score;
      j["instance_id"] = s.instance_id;
    }
    out.push_back(std::move(j));
  }
  return out;
}

absl::Status WriteSemSegPng(const std::string& path, const at::Tensor& sem_seg_logits) {
  if (sem_seg_logits.dim() != 3 || sem_seg_logits.size(0) > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("sem_seg for ", path, " must be [C<=256, H, W] logits"));
  }
  at::Tensor labels = sem_seg_logits.argmax(0).to(at::kByte).contiguous();
  cv::Mat mat(static_cast<int>(labels.size(0)), static_cast<int>(labels.size(1)), CV_8UC1,
              labels.data_ptr());
  bool ok = false;
  try {
    ok = cv::imwrite(path, mat);
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", e.what()));
  }
  return ok ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write ", path));
}

}  // namespace d2x::io
