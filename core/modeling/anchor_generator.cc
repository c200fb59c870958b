#include "core/modeling/anchor_generator.h"

#include <ATen/ATen.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/ops/box_math.h"

namespace d2x::modeling {

namespace {

absl::StatusOr<std::vector<std::vector<double>>> BroadcastParams(
    const std::vector<std::vector<double>>& params, size_t num_features, const char* name) {
  if (params.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(name, " in anchor generator cannot be empty"));
  }
  for (const auto& p : params) {
    if (p.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " in anchor generator has an empty level"));
    }
  }
  if (params.size() == 1) return std::vector<std::vector<double>>(num_features, params[0]);
  if (params.size() != num_features) {
    return absl::InvalidArgumentError(absl::StrCat("Got ", name, " of length ", params.size(),
                                                   " in anchor generator, but the number of "
                                                   "input features is ",
                                                   num_features));
  }
  return params;
}

}  // namespace

absl::StatusOr<DefaultAnchorGenerator> DefaultAnchorGenerator::Create(
    const AnchorGeneratorOptions& options) {
  if (options.strides.empty()) {
    return absl::InvalidArgumentError("anchor generator: no feature strides given");
  }
  if (!(options.offset >= 0.0 && options.offset < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("MODEL.ANCHOR_GENERATOR.OFFSET must be in [0, 1), got ", options.offset));
  }
  const size_t n = options.strides.size();
  auto sizes = BroadcastParams(options.sizes, n, "sizes");
  if (!sizes.ok()) return sizes.status();
  auto ratios = BroadcastParams(options.aspect_ratios, n, "aspect_ratios");
  if (!ratios.ok()) return ratios.status();
  DefaultAnchorGenerator gen;
  gen.strides_ = options.strides;
  gen.offset_ = options.offset;
  for (size_t i = 0; i < n; ++i) {
    gen.cell_anchors_.push_back(GenerateCellAnchors((*sizes)[i], (*ratios)[i]));
  }
  return gen;
}

at::Tensor DefaultAnchorGenerator::GenerateCellAnchors(const std::vector<double>& sizes,
                                                       const std::vector<double>& aspect_ratios) {
  std::vector<double> values;
  for (double size : sizes) {
    const double area = std::pow(size, 2.0);
    for (double aspect_ratio : aspect_ratios) {
      const double w = std::sqrt(area / aspect_ratio);
      const double h = aspect_ratio * w;
      values.insert(values.end(), {-w / 2.0, -h / 2.0, w / 2.0, h / 2.0});
    }
  }
  // torch.tensor(list of Python floats) is float32: each double rounds to nearest float.
  return at::tensor(values, at::kDouble)
      .to(at::kFloat)
      .reshape({static_cast<int64_t>(values.size() / 4), 4});
}

std::vector<at::Tensor> DefaultAnchorGenerator::GridAnchors(
    const std::vector<std::pair<int64_t, int64_t>>& grid_sizes) const {
  std::vector<at::Tensor> anchors;
  const size_t n = std::min(grid_sizes.size(), cell_anchors_.size());
  for (size_t i = 0; i < n; ++i) {
    const auto [grid_height, grid_width] = grid_sizes[i];
    anchors.push_back(
        ops::internal::GridAnchors(cell_anchors_[i], grid_height, grid_width, strides_[i],
                                   offset_));
  }
  return anchors;
}

std::vector<at::Tensor> DefaultAnchorGenerator::Forward(
    const std::vector<at::Tensor>& features) const {
  std::vector<std::pair<int64_t, int64_t>> grid_sizes;
  for (const at::Tensor& f : features) grid_sizes.emplace_back(f.size(-2), f.size(-1));
  std::vector<at::Tensor> anchors = GridAnchors(grid_sizes);
  for (size_t i = 0; i < anchors.size(); ++i) {
    if (anchors[i].device() != features[i].device()) {
      anchors[i] = anchors[i].to(features[i].device());
    }
  }
  return anchors;
}

std::vector<int64_t> DefaultAnchorGenerator::num_anchors() const {
  std::vector<int64_t> out;
  for (const at::Tensor& c : cell_anchors_) out.push_back(c.size(0));
  return out;
}

}  // namespace d2x::modeling
