// d2x::paste_masks -> standard ONNX (the kernel is core/ops/paste_masks.cc: detectron2's CPU
// paste_masks_in_image, one grid_sample per mask over the region bounding its box).
//
// grid_sample (bilinear, zeros padding, align_corners=False) on the axis-aligned grid of a box is
// separable: the sample at pixel (py, px) is sum_{i,j} wy[py, i] * mask[i, j] * wx[px, j] with
// the 1-D bilinear ("tent") weights w[p, i] = max(0, 1 - |s(p) - i|) for the source coordinate
//   s(p) = ((g(p) + 1) * M - 1) / 2,   g(p) = (p + 0.5 - b0) / (b1 - b0) * 2 - 1
// (grid_sampler_unnormalize with align_corners=False; g as the kernel's _do_paste_mask computes
// it), and zero padding is the absence of the out-of-range i, j from the sums. So
//   pasted[d] = Wy[d] [H, M] @ mask[d] [M, M] @ Wx[d]^T [M, W]
// two batched MatMuls on the batch-max canvas (H, W = max output height, width) instead of a
// GridSample over a full-image grid per detection. The kernel only writes the region
//   [max(floor(x0) - 1, 0), min(ceil(x1) + 1, img_w)) x [max(floor(y0) - 1, 0),
//   min(ceil(y1) + 1, img_h))
// of each detection (its image's size, from batch_index); everything else is False, as is the
// whole row of an empty region. Inside, the result is `value >= threshold`. The MatMul sums the
// four bilinear terms in another order than grid_sample, so a value within a few ulp of the
// threshold can land on the other side.
#include <torch/csrc/jit/ir/ir.h>

#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace {
namespace tj = torch::jit;

// Tent weights [D, P, M] of the P canvas pixels along one axis for boxes from b0 to b1 ([D, 1]).
std::string AxisWeights(OnnxBuilder& b, const std::string& pixels, const std::string& b0,
                        const std::string& b1, const std::string& m_f,
                        const std::string& m_index) {
  // g = (p + 0.5 - b0) / (b1 - b0) * 2 - 1: [D, P].
  const std::string centers = b.Unsqueeze(b.Op("Add", {pixels, b.F32(0.5f)}), {0});  // [1, P]
  const std::string g = b.Op(
      "Sub", {b.Op("Mul", {b.Op("Div", {b.Op("Sub", {centers, b0}), b.Op("Sub", {b1, b0})}),
                           b.F32(2.f)}),
              b.F32(1.f)});
  // s = ((g + 1) * M - 1) / 2.
  const std::string s = b.Op(
      "Div", {b.Op("Sub", {b.Op("Mul", {b.Op("Add", {g, b.F32(1.f)}), m_f}), b.F32(1.f)}),
              b.F32(2.f)});
  // w = relu(1 - |s - i|): [D, P, M].
  return b.Op("Relu", {b.Op("Sub", {b.F32(1.f), b.Op("Abs", {b.Op("Sub", {b.Unsqueeze(s, {2}),
                                                                           m_index})})})});
}

// paste_masks(Tensor masks [D, M, M], Tensor boxes [D, 4], Tensor batch_index [D],
//             Tensor output_sizes [N, 2], float threshold) -> bool [D, max H, max W]
absl::Status LowerPasteMasks(const tj::Node& node, LoweringContext& ctx) {
  const auto in = node.inputs();
  D2X_ASSIGN_OR_RETURN(std::string masks, ctx.Name(in[0]));
  D2X_ASSIGN_OR_RETURN(std::string boxes, ctx.Name(in[1]));
  D2X_ASSIGN_OR_RETURN(std::string batch_index, ctx.Name(in[2]));
  D2X_ASSIGN_OR_RETURN(std::string output_sizes, ctx.Name(in[3]));
  D2X_ASSIGN_OR_RETURN(double threshold, ctx.Double(in[4]));
  OnnxBuilder b(ctx);
  const std::string masks_f = b.ToF32(masks);
  const std::string m = b.Dim(masks_f, 1);
  const std::string m_f = b.ToF32(m);
  const std::string m_index = b.ToF32(b.Arange(m));  // [M]
  // Canvas: the batch's largest output size.
  const std::string max_hw = b.Reduce("ReduceMax", output_sizes, {0}, false);  // [2]
  const std::string ys = b.ToF32(b.Arange(b.Select(max_hw, 0, 0)));            // [H]
  const std::string xs = b.ToF32(b.Arange(b.Select(max_hw, 0, 1)));            // [W]

  auto corner = [&](int64_t c) { return b.Slice(boxes, 1, c, c + 1); };  // [D, 1]
  const std::string x0 = corner(0), y0 = corner(1), x1 = corner(2), y1 = corner(3);
  const std::string wy = AxisWeights(b, ys, y0, y1, m_f, m_index);  // [D, H, M]
  const std::string wx = AxisWeights(b, xs, x0, x1, m_f, m_index);  // [D, W, M]
  std::string wx_t = b.Op("Transpose", {wx});
  SetInts(b.last(), "perm", {0, 2, 1});  // [D, M, W]
  const std::string values = b.Op("MatMul", {b.Op("MatMul", {wy, masks_f}), wx_t});  // [D,H,W]

  // The kernel's region per detection, clamped to its image's size.
  const std::string img_hw = b.ToF32(b.Gather(output_sizes, batch_index, 0));  // [D, 2]
  const std::string img_h = b.Slice(img_hw, 1, 0, 1), img_w = b.Slice(img_hw, 1, 1, 2);
  auto lower = [&](const std::string& v) {
    return b.Op("Max", {b.Op("Sub", {b.Op("Floor", {v}), b.F32(1.f)}), b.F32(0.f)});
  };
  auto upper = [&](const std::string& v, const std::string& size) {
    return b.Op("Min", {b.Op("Add", {b.Op("Ceil", {v}), b.F32(1.f)}), size});
  };
  auto inside = [&](const std::string& pixels, const std::string& lo, const std::string& hi) {
    const std::string p = b.Unsqueeze(pixels, {0});  // [1, P]
    return b.Op("And", {b.Op("GreaterOrEqual", {p, lo}), b.Op("Less", {p, hi})});  // [D, P]
  };
  const std::string in_y = inside(ys, lower(y0), upper(y1, img_h));
  const std::string in_x = inside(xs, lower(x0), upper(x1, img_w));
  const std::string region = b.Op("And", {b.Unsqueeze(in_y, {2}), b.Unsqueeze(in_x, {1})});
  const std::string above = b.Op(
      "GreaterOrEqual", {values, b.F32(static_cast<float>(threshold))});
  ctx.SetName(node.output(), b.Op("And", {region, above}));
  return absl::OkStatus();
}

}  // namespace

void RegisterPasteMasksLowering(LoweringTable& table) {
  table["d2x::paste_masks"] = LowerPasteMasks;
}

}  // namespace d2x::onnx_format
