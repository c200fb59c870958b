// d2x::detector_postprocess -> standard ONNX (the kernel is in core/ops/box_postprocess.cc).
//
// Per detection d of image i = batch_index[d]:
//   scale_x = float32(double(out_w[i]) / double(in_w[i])), scale_y likewise (the kernel divides
//   in double and ATen multiplies a float tensor by the double scalar as float32);
//   boxes = clip(boxes * (scale_x, scale_y, scale_x, scale_y), out size);
//   keep = indices of boxes with width > 0 and height > 0 (image-major, as the kernel's per-image
//   loop, since batch_index is sorted); num_instances[i] = kept boxes of image i.
#include <torch/csrc/jit/ir/ir.h>

#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace {
namespace tj = torch::jit;

absl::Status LowerDetectorPostprocess(const tj::Node& node, LoweringContext& ctx) {
  const auto in = node.inputs();
  D2X_ASSIGN_OR_RETURN(std::string boxes, ctx.Name(in[0]));
  D2X_ASSIGN_OR_RETURN(std::string batch_index, ctx.Name(in[1]));
  D2X_ASSIGN_OR_RETURN(std::string image_sizes, ctx.Name(in[2]));
  D2X_ASSIGN_OR_RETURN(std::string output_sizes, ctx.Name(in[3]));
  OnnxBuilder b(ctx);
  constexpr int32_t kDouble = onnx::TensorProto::DOUBLE;
  // Per image (h, w) scale in double, then float32: [N, 2] (scale_y, scale_x).
  const std::string scale_hw = b.ToF32(
      b.Op("Div", {b.Cast(output_sizes, kDouble), b.Cast(image_sizes, kDouble)}));
  const std::string scale_xy = b.Gather(scale_hw, b.I64s({1, 0}), 1);     // [N, 2] (sx, sy)
  const std::string row_scale = b.Gather(scale_xy, batch_index, 0);       // [D, 2]
  const std::string scaled = b.Op("Mul", {boxes, b.Concat({row_scale, row_scale}, 1)});
  // Clip to [0, out_w] / [0, out_h]: upper bound per row (w, h, w, h).
  const std::string out_wh = b.ToF32(b.Gather(output_sizes, b.I64s({1, 0}), 1));
  const std::string row_wh = b.Gather(out_wh, batch_index, 0);
  const std::string clipped = b.Op(
      "Min", {b.Op("Max", {scaled, b.F32(0.f)}), b.Concat({row_wh, row_wh}, 1)});
  // Non-empty: x2 - x1 > 0 and y2 - y1 > 0.
  const std::string nonempty = b.Op(
      "And", {b.Op("Greater", {b.Op("Sub", {b.Select(clipped, 1, 2), b.Select(clipped, 1, 0)}),
                               b.F32(0.f)}),
              b.Op("Greater", {b.Op("Sub", {b.Select(clipped, 1, 3), b.Select(clipped, 1, 1)}),
                               b.F32(0.f)})});
  const std::string keep = b.NonZero1D(nonempty);
  // num_instances[i] = sum over kept detections of (batch_index == i).
  const std::string images = b.Arange(b.Dim(image_sizes, 0));                // [N]
  const std::string kept_index = b.Gather(batch_index, keep, 0);             // [K]
  const std::string one_hot = b.Op("Equal", {b.Unsqueeze(images, {1}),
                                             b.Unsqueeze(kept_index, {0})});  // [N, K]
  const std::string num_instances = b.ReduceSum(b.ToI64(one_hot), {1}, false);
  ctx.SetName(node.output(0), clipped);
  ctx.SetName(node.output(1), row_scale);
  ctx.SetName(node.output(2), keep);
  ctx.SetName(node.output(3), num_instances);
  return absl::OkStatus();
}

}  // namespace

void RegisterDetectorPostprocessLowering(LoweringTable& table) {
  table["d2x::detector_postprocess"] = LowerDetectorPostprocess;
}

}  // namespace d2x::onnx_format
