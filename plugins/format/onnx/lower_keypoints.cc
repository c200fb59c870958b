// d2x::heatmaps_to_keypoints -> standard ONNX (the kernel is core/ops/heatmaps_to_keypoints.cc:
// detectron2's heatmaps_to_keypoints).
//
// Every roi's heatmaps are resized to the roi's ceiled size — a different size per roi — so the
// resize + argmax runs in a Loop over the R rois: iteration i takes maps[i] [1, K, S, S], resizes
// it with Resize cubic, cubic_coeff_a = -0.75, half_pixel (torch's upsample_bicubic2d with
// align_corners=False: src = (dst + 0.5) * in / out - 0.5, unclamped, taps outside the map read
// the border pixel; ORT's cubic with exclude_outside = 0 reads clamped indices too), flattens it
// to [K, h * w] and emits the first argmax (ArgMax select_last_index = 0, torch's argmax) and the
// value there. Everything else (widths, corrections, the softmax score at the argmax, x / y) is
// batched over the rois outside the loop in the kernel's op order.
#include <torch/csrc/jit/ir/ir.h>

#include <limits>

#include "plugins/format/onnx/lower_loop.h"
#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace {
namespace tj = torch::jit;

// heatmaps_to_keypoints(Tensor maps, Tensor rois) -> Tensor [R, K, 4]
absl::Status LowerHeatmapsToKeypoints(const tj::Node& node, LoweringContext& ctx) {
  D2X_ASSIGN_OR_RETURN(const std::string maps, ctx.Name(node.inputs()[0]));
  D2X_ASSIGN_OR_RETURN(const std::string rois, ctx.Name(node.inputs()[1]));
  // K is static in the traced graph (the keypoint head's output channels): the scans' shape.
  auto maps_type = node.inputs()[0]->type()->cast<c10::TensorType>();
  const c10::optional<int64_t> k =
      maps_type && maps_type->sizes().size() == 4 ? maps_type->sizes()[1] : c10::nullopt;
  if (!k.has_value()) {
    return absl::InvalidArgumentError("maps must be a 4-D tensor with a known keypoint count");
  }
  const int64_t num_keypoints = *k;
  OnnxBuilder b(ctx);
  auto col = [&](int64_t c) { return b.Slice(rois, 1, c, c + 1); };  // [R, 1]
  const std::string one = b.F32(1.0f);
  const std::string offset_x = col(0), offset_y = col(1);
  const std::string widths = b.Op("Max", {b.Op("Sub", {col(2), col(0)}), one});
  const std::string heights = b.Op("Max", {b.Op("Sub", {col(3), col(1)}), one});
  const std::string widths_ceil = b.Op("Ceil", {widths});
  const std::string heights_ceil = b.Op("Ceil", {heights});
  const std::string width_corr = b.Op("Div", {widths, widths_ceil});
  const std::string height_corr = b.Op("Div", {heights, heights_ceil});
  const std::string sizes = b.ToI64(b.Concat({heights_ceil, widths_ceil}, 1));  // [R, 2]

  LoopBody body(ctx, "keypoints_loop");
  OnnxBuilder& lb = body.b();
  const std::string i = lb.Unsqueeze(body.iter(), {0});
  const std::string roi_map = lb.Op(
      "Slice", {LoopBody::Outer(maps), i, lb.Op("Add", {i, lb.I64s({1})}), lb.I64s({0})});
  const std::string out_hw = lb.Squeeze(lb.Op("Gather", {LoopBody::Outer(sizes), i}), {0});
  const std::string resized =
      lb.Op("Resize", {roi_map, "", "", lb.Concat({lb.Shape(roi_map, 0, 2), out_hw}, 0)});
  SetString(lb.last(), "mode", "cubic");
  SetFloat(lb.last(), "cubic_coeff_a", -0.75f);
  SetString(lb.last(), "coordinate_transformation_mode", "half_pixel");
  const std::string flat = lb.OpInt("Flatten", {resized}, "axis", 2);  // [1 * K, h * w]
  const std::string pos = lb.Op("ArgMax", {flat});
  SetInt(lb.last(), "axis", 1);
  SetInt(lb.last(), "keepdims", 1);
  SetInt(lb.last(), "select_last_index", 0);
  const std::string logit =
      lb.Squeeze(lb.OpInt("GatherElements", {flat, pos}, "axis", 1), {1});  // [K]
  const std::vector<std::string> outs =
      body.Attach(b.Dim(maps, 0), {},
                  {{lb.Squeeze(pos, {1}), onnx::TensorProto::INT64, 1, {num_keypoints}},
                   {logit, onnx::TensorProto::FLOAT, 1, {num_keypoints}}});
  const std::string pos_all = outs[0], logit_all = outs[1];  // [R, K]

  // score = 1 / sum(exp(maps - logit)) over the pooled resolution.
  const std::string max_score = b.Unsqueeze(logit_all, {2, 3});
  const std::string score = b.Op(
      "Div", {one, b.ReduceSum(b.Op("Exp", {b.Op("Sub", {maps, max_score})}), {2, 3}, false)});
  const std::string w = b.ToI64(widths_ceil);  // [R, 1]
  const std::string x_int = b.Op("Mod", {pos_all, w});
  const std::string y_int = b.Op("Div", {b.Op("Sub", {pos_all, x_int}), w});  // >= 0: floor
  const std::string half = b.F32(0.5f);
  const std::string x = b.Op("Mul", {b.Op("Add", {b.ToF32(x_int), half}), width_corr});
  const std::string y = b.Op("Mul", {b.Op("Add", {b.ToF32(y_int), half}), height_corr});
  const std::string out = b.Concat({b.Unsqueeze(b.Op("Add", {x, offset_x}), {2}),
                                    b.Unsqueeze(b.Op("Add", {y, offset_y}), {2}),
                                    b.Unsqueeze(logit_all, {2}), b.Unsqueeze(score, {2})},
                                   2);
  ctx.SetName(node.output(), out);
  return absl::OkStatus();
}

// aten::upsample_bilinear2d(input, int[]? output_size, bool align_corners, float[]?
// scale_factors) — the keypoint head's 2x upscaling of its logits (detectron2's interpolate,
// align_corners=False): Resize linear with constant scales, half_pixel (torch maps
// src = (dst + 0.5) / scale - 0.5 clamped at 0 when scale factors are given: the same formula)
// or align_corners.
absl::Status LowerUpsampleBilinear(const tj::Node& node, LoweringContext& ctx) {
  if (node.inputs().size() != 4) {
    return absl::UnimplementedError(
        "upsample_bilinear2d overload other than (input, output_size?, align_corners, "
        "scale_factors?)");
  }
  D2X_ASSIGN_OR_RETURN(const std::string x, ctx.Name(node.input(0)));
  D2X_ASSIGN_OR_RETURN(const bool align_corners, ctx.Bool(node.input(2)));
  std::vector<std::string> inputs = {x, ""};
  if (!ctx.IsNone(node.input(3))) {
    D2X_ASSIGN_OR_RETURN(const std::vector<double> factors, ConstantDoubles(node.input(3), ctx));
    if (factors.size() != 2) return absl::InvalidArgumentError("expected 2 scale factors");
    inputs.push_back(ctx.AddFloats("scales", {1.f, 1.f, static_cast<float>(factors[0]),
                                              static_cast<float>(factors[1])}));
  } else {
    D2X_ASSIGN_OR_RETURN(const std::vector<int64_t> size, ctx.Ints(node.input(1)));
    if (size.size() != 2) return absl::InvalidArgumentError("expected a 2-D output size");
    OnnxBuilder b(ctx);
    inputs.push_back("");
    inputs.push_back(b.Concat({b.Shape(x, 0, 2), b.I64s(size)}, 0));
  }
  const std::string y = ctx.Fresh("resize_bilinear");
  onnx::NodeProto* resize = ctx.AddNode("Resize", inputs, {y});
  SetString(resize, "mode", "linear");
  SetString(resize, "coordinate_transformation_mode",
            align_corners ? "align_corners" : "half_pixel");
  ctx.SetName(node.output(), y);
  return absl::OkStatus();
}

// aten::slice(self, int dim, int? start, int? end, int step) with constant arguments (the
// keypoint rewriter's keypoints[:, :, 0:2] / [:, :, 2:4] column splits): Slice (ONNX clamps an
// INT64_MAX end like torch).
absl::Status LowerSlice(const tj::Node& node, LoweringContext& ctx) {
  D2X_ASSIGN_OR_RETURN(const std::string x, ctx.Name(node.input(0)));
  D2X_ASSIGN_OR_RETURN(const int64_t dim, ctx.Int(node.input(1)));
  int64_t start = 0, end = std::numeric_limits<int64_t>::max();
  if (!ctx.IsNone(node.input(2))) {
    D2X_ASSIGN_OR_RETURN(start, ctx.Int(node.input(2)));
  }
  if (!ctx.IsNone(node.input(3))) {
    D2X_ASSIGN_OR_RETURN(end, ctx.Int(node.input(3)));
  }
  D2X_ASSIGN_OR_RETURN(const int64_t step, ctx.Int(node.input(4)));
  OnnxBuilder b(ctx);
  ctx.SetName(node.output(), b.Slice(x, dim, start, end, step));
  return absl::OkStatus();
}

}  // namespace

void RegisterKeypointsLowering(LoweringTable& table) {
  table["aten::slice"] = &LowerSlice;
  table["d2x::heatmaps_to_keypoints"] = &LowerHeatmapsToKeypoints;
  table["aten::upsample_bilinear2d"] = &LowerUpsampleBilinear;
}

}  // namespace d2x::onnx_format
