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

}  // namespace

void RegisterSemSegLowering(LoweringTable& table) {
  table["d2x::sem_seg_postprocess"] = &LowerSemSegPostprocess;
}

}  // namespace d2x::onnx_format
