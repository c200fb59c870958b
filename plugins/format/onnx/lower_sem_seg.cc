// d2x::sem_seg_postprocess -> standard ONNX (the kernel is core/ops/panoptic_ops.cc: detectron2's
// sem_seg_postprocess per image on a batch-max canvas).
//
// A Loop over the N images; iteration i crops logits[i, :, :h, :w] (image_sizes[i]), resizes it
// to output_sizes[i] with Resize linear / half_pixel (torch's upsample_bilinear2d with
// align_corners=False: src = (dst + 0.5) * in / out - 0.5, clamped at 0; not pytorch_half_pixel,
// which maps an output of length 1 to 0 where torch uses in / 2 - 0.5), zero-pads it to the
// canvas (max output height, max output width) and emits it as the scan output [C, Hm, Wm].
#include <torch/csrc/jit/ir/ir.h>

#include "plugins/format/onnx/lower_loop.h"
#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace {
namespace tj = torch::jit;

// sem_seg_postprocess(Tensor logits, Tensor image_sizes, Tensor output_sizes) -> Tensor
absl::Status LowerSemSegPostprocess(const tj::Node& node, LoweringContext& ctx) {
  const auto in = node.inputs();
  D2X_ASSIGN_OR_RETURN(const std::string logits, ctx.Name(in[0]));
  D2X_ASSIGN_OR_RETURN(const std::string image_sizes, ctx.Name(in[1]));
  D2X_ASSIGN_OR_RETURN(const std::string output_sizes, ctx.Name(in[2]));
  OnnxBuilder b(ctx);
  const std::string in_sizes = b.ToI64(image_sizes);
  const std::string out_sizes = b.ToI64(output_sizes);
  // Canvas: [max output height, max output width] as int64 [2].
  const std::string canvas = b.Reduce("ReduceMax", out_sizes, {0}, /*keepdims=*/false);

  LoopBody body(ctx, "sem_seg_loop");
  OnnxBuilder& lb = body.b();
  const std::string i = lb.Unsqueeze(body.iter(), {0});                        // [1]
  const std::string in_hw = lb.Squeeze(lb.Op("Gather", {LoopBody::Outer(in_sizes), i}), {0});
  const std::string out_hw = lb.Squeeze(lb.Op("Gather", {LoopBody::Outer(out_sizes), i}), {0});
  const std::string crop = lb.Op(
      "Slice", {LoopBody::Outer(logits), lb.Concat({i, lb.I64s({0, 0})}, 0),
                lb.Concat({lb.Op("Add", {i, lb.I64s({1})}), in_hw}, 0), lb.I64s({0, 2, 3})});
  const std::string sizes = lb.Concat({lb.Shape(crop, 0, 2), out_hw}, 0);
  const std::string resized = lb.Op("Resize", {crop, "", "", sizes});
  SetString(lb.last(), "mode", "linear");
  SetString(lb.last(), "coordinate_transformation_mode", "half_pixel");
  // Pad bottom/right to the canvas: pads = [0, 0, 0, 0, 0, 0, Hm - oh, Wm - ow].
  const std::string extra = lb.Op("Sub", {LoopBody::Outer(canvas), out_hw});
  const std::string pads = lb.Concat({lb.I64s({0, 0, 0, 0, 0, 0}), extra}, 0);
  const std::string padded = lb.Op("Pad", {resized, pads});
  const std::string slice = lb.Squeeze(padded, {0});
  const std::vector<std::string> outs = body.Attach(
      b.Dim(logits, 0), {}, {{slice, onnx::TensorProto::FLOAT, 3}});
  ctx.SetName(node.output(), outs[0]);
  return absl::OkStatus();
}

// aten::group_norm(input, int num_groups, Tensor? weight, Tensor? bias, float eps, bool) — the
// semantic segmentation head's GroupNorm (GroupNormalization is opset 18, past libonnx 1.12's
// checker): per (image, group) mean and biased variance over the group's channels and pixels
// ([N, G, C/G * H * W] with a constant-shape Reshape), expanded back to [N, C, 1, 1] (constant
// shapes keep the ranks known to shape inference), (x - mean) / sqrt(var + eps) * w + b.
absl::Status LowerGroupNorm(const tj::Node& node, LoweringContext& ctx) {
  D2X_ASSIGN_OR_RETURN(const std::string x, ctx.Name(node.input(0)));
  D2X_ASSIGN_OR_RETURN(const int64_t groups, ctx.Int(node.input(1)));
  D2X_ASSIGN_OR_RETURN(const double eps, ctx.Double(node.input(4)));
  auto type = node.input(0)->type()->cast<c10::TensorType>();
  const c10::optional<int64_t> c =
      type && type->sizes().size() == 4 ? type->sizes()[1] : c10::nullopt;
  if (!c.has_value() || groups <= 0 || *c % groups != 0) {
    return absl::InvalidArgumentError(
        "group_norm needs a 4-D input with a known channel count divisible by num_groups");
  }
  OnnxBuilder b(ctx);
  const std::string xg = b.Reshape(x, std::vector<int64_t>{0, groups, -1});
  const std::string mean = b.Op("ReduceMean", {xg});
  SetInts(b.last(), "axes", {2});
  const std::string centered = b.Op("Sub", {xg, mean});
  const std::string var = b.Op("ReduceMean", {b.Op("Mul", {centered, centered})});
  SetInts(b.last(), "axes", {2});
  auto per_channel = [&](const std::string& g) {  // [N, G, 1] -> [N, C, 1, 1]
    return b.Reshape(b.Op("Expand", {g, b.I64s({1, 1, *c / groups})}),
                     std::vector<int64_t>{0, *c, 1, 1});
  };
  const std::string rstd = b.Op(
      "Div", {b.F32(1.0f), b.Op("Sqrt", {b.Op("Add", {var, b.F32(static_cast<float>(eps))})})});
  std::string y = b.Op("Mul", {b.Op("Sub", {x, per_channel(mean)}), per_channel(rstd)});
  if (!ctx.IsNone(node.input(2))) {
    D2X_ASSIGN_OR_RETURN(const std::string w, ctx.Name(node.input(2)));
    y = b.Op("Mul", {y, b.Reshape(w, std::vector<int64_t>{1, -1, 1, 1})});
  }
  if (!ctx.IsNone(node.input(3))) {
    D2X_ASSIGN_OR_RETURN(const std::string bias, ctx.Name(node.input(3)));
    y = b.Op("Add", {y, b.Reshape(bias, std::vector<int64_t>{1, -1, 1, 1})});
  }
  ctx.SetName(node.output(), y);
  return absl::OkStatus();
}

}  // namespace

void RegisterSemSegLowering(LoweringTable& table) {
  table["d2x::sem_seg_postprocess"] = &LowerSemSegPostprocess;
  table["aten::group_norm"] = &LowerGroupNorm;
}

}  // namespace d2x::onnx_format
