// d2x::multilevel_roi_align -> standard ONNX: detectron2's ROIPooler.forward (core/ops/
// multilevel_roi_align.cc) as level assignment + one RoiAlign-16 per level + a reorder.
//
// Level assignment. The kernel computes, in float32,
//   level = clamp(floor(canonical_level + log2(sqrt(area) / canonical_box_size + 1e-8)),
//                 min_level, max_level)
// ONNX has no Log2, and Log(x) / Log(2) can round across an integer where torch's log2 does not.
// The expression is monotone in the area, so it is evaluated here, at lowering time, with the
// very same ATen float32 ops, to find for every level L > min_level the smallest float32 area
// whose level is >= L (a bisection over the float bit patterns). The graph then only compares:
//   level = min_level + sum_L (area >= threshold_L)
// which equals the kernel's level for every finite area (including the float rounding of
// canonical_level + log2(...) near an integer, which a Log-based lowering would get wrong).
// Areas are (x2 - x1) * (y2 - y1) in float32, the kernel's expression.
//
// Pooling: per level, NonZero(level == l) -> Gather the rois -> RoiAlign-16 (aligned=True ->
// half_pixel, False -> output_half_pixel, as d2x::roi_align's lowering); the per-level results
// are concatenated and put back in roi order by Gather with the inverse permutation (built with
// ScatterElements).
#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/ir.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace {
namespace tj = torch::jit;

int64_t LevelOfScale(double scale) { return std::llround(-std::log2(scale)); }

// The kernel's level for a float32 area (before subtracting min_level). Evaluated on a vector of
// 64 equal values so that ATen takes its vectorized path, as it does on the rois of a real batch.
int64_t KernelLevel(float area, int64_t canonical_box_size, int64_t canonical_level,
                    int64_t min_level, int64_t max_level) {
  const at::Tensor areas = at::full({64}, area, at::kFloat);
  at::Tensor level =
      at::floor(canonical_level + at::log2(at::sqrt(areas) / canonical_box_size + 1e-8));
  level = at::clamp(level, min_level, max_level).to(at::kLong);
  return level[0].item<int64_t>();
}

float FloatOfBits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// Smallest non-negative float32 area whose kernel level is >= level (+inf if none).
float LevelThreshold(int64_t level, int64_t canonical_box_size, int64_t canonical_level,
                     int64_t min_level, int64_t max_level) {
  uint32_t lo = 0;           // bits of 0.0f
  uint32_t hi = 0x7f800000;  // bits of +inf
  auto reaches = [&](uint32_t bits) {
    return KernelLevel(FloatOfBits(bits), canonical_box_size, canonical_level, min_level,
                       max_level) >= level;
  };
  if (reaches(lo)) return 0.f;
  if (!reaches(hi)) return std::numeric_limits<float>::infinity();
  while (hi - lo > 1) {  // invariant: !reaches(lo), reaches(hi)
    const uint32_t mid = lo + (hi - lo) / 2;
    (reaches(mid) ? hi : lo) = mid;
  }
  return FloatOfBits(hi);
}

// RoiAlign-16 on rois [K, 5] (batch index, x1, y1, x2, y2).
std::string RoiAlign(OnnxBuilder& b, const std::string& x, const std::string& rois, double scale,
                     int64_t oh, int64_t ow, int64_t sampling_ratio, bool aligned) {
  const std::string idx = b.ToI64(b.Select(rois, 1, 0));
  const std::string boxes = b.Slice(rois, 1, 1, 5);
  const std::string y = b.Op("RoiAlign", {x, boxes, idx});
  SetString(b.last(), "mode", "avg");
  SetInt(b.last(), "output_height", oh);
  SetInt(b.last(), "output_width", ow);
  SetInt(b.last(), "sampling_ratio", std::max<int64_t>(sampling_ratio, 0));
  SetFloat(b.last(), "spatial_scale", static_cast<float>(scale));
  SetString(b.last(), "coordinate_transformation_mode",
            aligned ? "half_pixel" : "output_half_pixel");
  return y;
}

// multilevel_roi_align(Tensor[] features, Tensor rois, float[] scales, int output_height,
//                      int output_width, int sampling_ratio, bool aligned,
//                      int canonical_box_size, int canonical_level)
absl::Status LowerMultilevelRoiAlign(const tj::Node& node, LoweringContext& ctx) {
  const auto in = node.inputs();
  D2X_ASSIGN_OR_RETURN(std::vector<std::string> features, TensorListNames(in[0], ctx));
  D2X_ASSIGN_OR_RETURN(std::string rois, ctx.Name(in[1]));
  D2X_ASSIGN_OR_RETURN(const std::vector<double> scales, ConstantDoubles(in[2], ctx));
  D2X_ASSIGN_OR_RETURN(int64_t oh, ctx.Int(in[3]));
  D2X_ASSIGN_OR_RETURN(int64_t ow, ctx.Int(in[4]));
  D2X_ASSIGN_OR_RETURN(int64_t sampling_ratio, ctx.Int(in[5]));
  D2X_ASSIGN_OR_RETURN(bool aligned, ctx.Bool(in[6]));
  D2X_ASSIGN_OR_RETURN(int64_t canonical_box_size, ctx.Int(in[7]));
  D2X_ASSIGN_OR_RETURN(int64_t canonical_level, ctx.Int(in[8]));
  if (scales.empty() || scales.size() != features.size()) {
    return absl::InvalidArgumentError(absl::StrCat("got ", features.size(), " feature maps and ",
                                                   scales.size(), " scales"));
  }
  OnnxBuilder b(ctx);
  if (scales.size() == 1) {
    ctx.SetName(node.output(), RoiAlign(b, features[0], rois, scales[0], oh, ow, sampling_ratio,
                                        aligned));
    return absl::OkStatus();
  }
  const int64_t min_level = LevelOfScale(scales.front());
  const int64_t max_level = LevelOfScale(scales.back());
  if (max_level - min_level + 1 != static_cast<int64_t>(scales.size())) {
    return absl::InvalidArgumentError("scales do not form a pyramid of powers of 2");
  }

  // area = (x2 - x1) * (y2 - y1); level - min_level = sum of (area >= threshold).
  const std::string area =
      b.Op("Mul", {b.Op("Sub", {b.Select(rois, 1, 3), b.Select(rois, 1, 1)}),
                   b.Op("Sub", {b.Select(rois, 1, 4), b.Select(rois, 1, 2)})});
  std::string level;
  for (int64_t l = min_level + 1; l <= max_level; ++l) {
    const float t =
        LevelThreshold(l, canonical_box_size, canonical_level, min_level, max_level);
    const std::string step = b.ToI64(b.Op("GreaterOrEqual", {area, b.F32(t)}));
    level = level.empty() ? step : b.Op("Add", {level, step});
  }

  std::vector<std::string> indices, pooled;
  for (size_t l = 0; l < scales.size(); ++l) {
    const std::string inds = b.NonZero1D(b.Op("Equal", {level, b.I64(static_cast<int64_t>(l))}));
    indices.push_back(inds);
    pooled.push_back(RoiAlign(b, features[l], b.Gather(rois, inds, 0), scales[l], oh, ow,
                              sampling_ratio, aligned));
  }
  // output[perm[j]] = pooled_cat[j]  <=>  output = pooled_cat[inverse(perm)].
  const std::string perm = b.Concat(indices, 0);
  const std::string positions = b.Arange(b.Dim(perm, 0));
  const std::string inverse =
      b.OpInt("ScatterElements", {b.Op("Sub", {perm, perm}), perm, positions}, "axis", 0);
  ctx.SetName(node.output(), b.Gather(b.Concat(pooled, 0), inverse, 0));
  return absl::OkStatus();
}

}  // namespace

void RegisterMultilevelRoiAlignLowering(LoweringTable& table) {
  table["d2x::multilevel_roi_align"] = LowerMultilevelRoiAlign;
}

}  // namespace d2x::onnx_format
