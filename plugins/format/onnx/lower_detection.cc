// Detection ops with a standard ONNX equivalent: d2x::roi_align (RoiAlign-16) and d2x::nms
// (NonMaxSuppression + Gather). The coarse d2x ops (rpn_proposals, box_postprocess, ...) have no
// lowering yet: they fail with "op d2x::... has no ONNX lowering".
#include <torch/csrc/jit/ir/ir.h>

#include <limits>

#include "absl/strings/str_cat.h"
#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace {
namespace tj = torch::jit;

// roi_align(input, rois [K, 5] (batch_index, x1, y1, x2, y2), spatial_scale, pooled_height,
// pooled_width, sampling_ratio, aligned). aligned=True is half_pixel, aligned=False
// output_half_pixel (RoiAlign-16; ORT matches torchvision exactly in both modes).
absl::Status LowerRoiAlign(const tj::Node& node, LoweringContext& ctx) {
  const auto in = node.inputs();
  D2X_ASSIGN_OR_RETURN(std::string x, ctx.Name(in[0]));
  D2X_ASSIGN_OR_RETURN(std::string rois, ctx.Name(in[1]));
  D2X_ASSIGN_OR_RETURN(double scale, ctx.Double(in[2]));
  D2X_ASSIGN_OR_RETURN(int64_t ph, ctx.Int(in[3]));
  D2X_ASSIGN_OR_RETURN(int64_t pw, ctx.Int(in[4]));
  D2X_ASSIGN_OR_RETURN(int64_t sampling_ratio, ctx.Int(in[5]));
  D2X_ASSIGN_OR_RETURN(bool aligned, ctx.Bool(in[6]));
  if (sampling_ratio < 0) sampling_ratio = 0;  // torchvision: <= 0 is adaptive, as ONNX's 0
  // batch_indices = int64(rois[:, 0]); boxes = rois[:, 1:5]
  const std::string idx_f = ctx.Fresh("roi_batch_f");
  SetInt(ctx.AddNode("Gather", {rois, ctx.AddInt64s("zero", {0}, true)}, {idx_f}), "axis", 1);
  const std::string idx = ctx.Fresh("roi_batch");
  SetInt(ctx.AddNode("Cast", {idx_f}, {idx}), "to", onnx::TensorProto::INT64);
  const std::string boxes = ctx.Fresh("roi_boxes");
  ctx.AddNode("Slice",
              {rois, ctx.AddInt64s("starts", {1}), ctx.AddInt64s("ends", {5}),
               ctx.AddInt64s("axes", {1})},
              {boxes});
  const std::string y = ctx.Fresh("roi_align");
  onnx::NodeProto* n = ctx.AddNode("RoiAlign", {x, boxes, idx}, {y});
  SetString(n, "mode", "avg");
  SetInt(n, "output_height", ph);
  SetInt(n, "output_width", pw);
  SetInt(n, "sampling_ratio", sampling_ratio);
  SetFloat(n, "spatial_scale", static_cast<float>(scale));
  SetString(n, "coordinate_transformation_mode", aligned ? "half_pixel" : "output_half_pixel");
  ctx.SetName(node.output(), y);
  return absl::OkStatus();
}

// nms(boxes [K, 4] x1y1x2y2, scores [K], iou_threshold) -> int64 [M] kept indices by decreasing
// score. NonMaxSuppression's IoU is symmetric in x/y, so x1y1x2y2 boxes need no reordering.
absl::Status LowerNms(const tj::Node& node, LoweringContext& ctx) {
  const auto in = node.inputs();
  D2X_ASSIGN_OR_RETURN(std::string boxes, ctx.Name(in[0]));
  D2X_ASSIGN_OR_RETURN(std::string scores, ctx.Name(in[1]));
  D2X_ASSIGN_OR_RETURN(double iou, ctx.Double(in[2]));
  const std::string b3 = ctx.Fresh("nms_boxes");
  ctx.AddNode("Unsqueeze", {boxes, ctx.AddInt64s("axes", {0})}, {b3});
  const std::string s3 = ctx.Fresh("nms_scores");
  ctx.AddNode("Unsqueeze", {scores, ctx.AddInt64s("axes", {0, 1})}, {s3});
  const std::string selected = ctx.Fresh("nms_selected");
  ctx.AddNode("NonMaxSuppression",
              {b3, s3,
               ctx.AddInt64s("max_out", {std::numeric_limits<int32_t>::max()}, true),
               ctx.AddFloats("iou", {static_cast<float>(iou)}, true)},
              {selected});
  const std::string y = ctx.Fresh("nms_keep");
  SetInt(ctx.AddNode("Gather", {selected, ctx.AddInt64s("two", {2}, true)}, {y}), "axis", 1);
  ctx.SetName(node.output(), y);
  return absl::OkStatus();
}

}  // namespace

void RegisterDetectionLowerings(LoweringTable& table) {
  table["d2x::roi_align"] = LowerRoiAlign;
  table["d2x::nms"] = LowerNms;
}

}  // namespace d2x::onnx_format
