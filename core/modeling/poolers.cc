#include "core/modeling/poolers.h"

#include <ATen/ATen.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/ops/ops.h"

namespace d2x::modeling {

at::Tensor AssignBoxesToLevels(const std::vector<at::Tensor>& boxes_per_image, int64_t min_level,
                               int64_t max_level, int64_t canonical_box_size,
                               int64_t canonical_level) {
  std::vector<at::Tensor> areas;
  for (const at::Tensor& b : boxes_per_image) {
    areas.push_back((b.select(1, 2) - b.select(1, 0)) * (b.select(1, 3) - b.select(1, 1)));
  }
  at::Tensor box_sizes = at::sqrt(areas.size() == 1 ? areas[0] : at::cat(areas));
  // Eqn.(1) in FPN paper; the scalar operands have detectron2's Python types (int, float).
  at::Tensor level_assignments =
      at::floor(canonical_level + at::log2(box_sizes / canonical_box_size + 1e-8));
  level_assignments = at::clamp(level_assignments, min_level, max_level);
  return level_assignments.to(at::kLong) - min_level;
}

at::Tensor ConvertBoxesToPoolerFormat(const std::vector<at::Tensor>& boxes_per_image) {
  at::Tensor boxes = at::cat(boxes_per_image, 0);
  std::vector<int64_t> sizes;
  for (const at::Tensor& b : boxes_per_image) sizes.push_back(b.size(0));
  at::Tensor sizes_t = at::tensor(sizes, at::kLong).to(boxes.device());
  at::Tensor indices = at::repeat_interleave(
      at::arange(static_cast<int64_t>(sizes.size()), boxes.options()), sizes_t);
  return at::cat({indices.unsqueeze(1), boxes}, 1);
}

absl::StatusOr<RoiPooler> RoiPooler::Create(const RoiPoolerOptions& options) {
  if (options.output_height <= 0 || options.output_width <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("ROIPooler: output size must be positive, got ",
                                                   options.output_height, "x",
                                                   options.output_width));
  }
  if (options.scales.empty()) return absl::InvalidArgumentError("ROIPooler: no scales");
  RoiPooler pooler;
  pooler.options_ = options;
  if (options.pooler_type == "ROIAlignV2") {
    pooler.aligned_ = true;
  } else if (options.pooler_type == "ROIAlign") {
    pooler.aligned_ = false;
  } else if (options.pooler_type == "ROIPool" || options.pooler_type == "ROIAlignRotated") {
    return absl::UnimplementedError(
        absl::StrCat("ROIPooler: pooler type ", options.pooler_type, " is not supported by d2x"));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("ROIPooler: unknown pooler type '", options.pooler_type, "'"));
  }
  const double min_level = -std::log2(options.scales.front());
  const double max_level = -std::log2(options.scales.back());
  auto is_int = [](double v) { return std::fabs(v - std::round(v)) <= 1e-9 * std::fabs(v); };
  if (!is_int(min_level) || !is_int(max_level)) {
    return absl::InvalidArgumentError("ROIPooler: featuremap stride is not power of 2");
  }
  // int() truncation as detectron2; the check above makes it exact up to rounding noise.
  pooler.min_level_ = static_cast<int64_t>(std::round(min_level));
  pooler.max_level_ = static_cast<int64_t>(std::round(max_level));
  if (static_cast<int64_t>(options.scales.size()) != pooler.max_level_ - pooler.min_level_ + 1) {
    return absl::InvalidArgumentError(
        "ROIPooler: sizes of input featuremaps do not form a pyramid");
  }
  if (pooler.min_level_ < 0 || pooler.min_level_ > pooler.max_level_) {
    return absl::InvalidArgumentError("ROIPooler: invalid level range");
  }
  if (options.canonical_box_size <= 0) {
    return absl::InvalidArgumentError("ROIPooler: canonical_box_size must be positive");
  }
  return pooler;
}

at::Tensor RoiPooler::Forward(const std::vector<at::Tensor>& features,
                              const std::vector<at::Tensor>& boxes_per_image) const {
  const size_t num_levels = options_.scales.size();
  TORCH_CHECK(features.size() == num_levels, "ROIPooler: expected ", num_levels,
              " feature maps, got ", features.size());
  TORCH_CHECK(static_cast<int64_t>(boxes_per_image.size()) == features[0].size(0),
              "ROIPooler: x[0] batch dim 0 is ", features[0].size(0), ", but box list has length ",
              boxes_per_image.size());
  const int64_t oh = options_.output_height;
  const int64_t ow = options_.output_width;
  if (boxes_per_image.empty()) {
    return at::zeros({0, features[0].size(1), oh, ow}, features[0].options());
  }
  at::Tensor pooler_fmt_boxes = ConvertBoxesToPoolerFormat(boxes_per_image);
  auto pool = [&](size_t level, const at::Tensor& rois) {
    return ops::RoiAlign(features[level], rois.to(features[level].scalar_type()),
                         options_.scales[level], oh, ow, options_.sampling_ratio, aligned_);
  };
  if (num_levels == 1) return pool(0, pooler_fmt_boxes);

  at::Tensor level_assignments =
      AssignBoxesToLevels(boxes_per_image, min_level_, max_level_, options_.canonical_box_size,
                          options_.canonical_level);
  at::Tensor output = at::zeros({pooler_fmt_boxes.size(0), features[0].size(1), oh, ow},
                                features[0].options());
  for (size_t level = 0; level < num_levels; ++level) {
    at::Tensor inds = (level_assignments == static_cast<int64_t>(level)).nonzero().select(1, 0);
    at::Tensor rois = pooler_fmt_boxes.index_select(0, inds);
    output.index_put_({inds}, pool(level, rois));
  }
  return output;
}

}  // namespace d2x::modeling
