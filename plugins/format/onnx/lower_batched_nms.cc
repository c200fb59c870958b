// d2x::batched_nms -> standard ONNX (the kernel is core/ops/nms.cc: torchvision's batched_nms).
//
// NonMaxSuppression with one batch and class = idxs: scores [1, C, K] with C = max(idxs) + 1 and
// the scores of every other class -inf (score_threshold = lowest float; ORT keeps scores strictly
// greater), IoU threshold = the largest float <= iou_threshold (the kernel compares the float IoU
// with the double threshold). The kept boxes are then ordered by decreasing score, ties by lower
// index (TopK), which is the order of the kernel's offset path (<= 1000 boxes: a stable score
// sort); its per-class path (> 1000 boxes) merges with an unstable sort, so exactly equal scores
// may come out in another order there. The offset path also rounds the shifted coordinates,
// which can change an IoU within an ulp of the threshold (see lower_rpn_proposals.cc).
// Boxes with a -inf or NaN score are never kept here (torchvision would keep a -inf one).
#include <torch/csrc/jit/ir/ir.h>

#include <cmath>
#include <limits>

#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace {
namespace tj = torch::jit;

// batched_nms(Tensor boxes [K, 4], Tensor scores [K], Tensor idxs [K], float iou_threshold)
//   -> int64 [M] kept indices by decreasing score.
absl::Status LowerBatchedNms(const tj::Node& node, LoweringContext& ctx) {
  const auto in = node.inputs();
  D2X_ASSIGN_OR_RETURN(std::string boxes, ctx.Name(in[0]));
  D2X_ASSIGN_OR_RETURN(std::string scores, ctx.Name(in[1]));
  D2X_ASSIGN_OR_RETURN(std::string idxs_in, ctx.Name(in[2]));
  D2X_ASSIGN_OR_RETURN(double iou, ctx.Double(in[3]));
  OnnxBuilder b(ctx);
  const std::string neg_inf = b.F32(-std::numeric_limits<float>::infinity());
  const std::string idxs = b.ToI64(idxs_in);
  // C = max(idxs) + 1 (0 appended so that no boxes gives C = 1).
  const std::string num_classes = b.Op(
      "Add", {b.Reduce("ReduceMax", b.Concat({idxs, b.I64s({0})}, 0), {0}, false), b.I64(1)});
  const std::string one_hot = b.Op(
      "Equal", {b.Unsqueeze(b.Arange(num_classes), {1}), b.Unsqueeze(idxs, {0})});  // [C, K]
  const std::string class_scores =
      b.Unsqueeze(b.Where(one_hot, b.Unsqueeze(scores, {0}), neg_inf), {0});  // [1, C, K]
  const std::string selected = b.Op(
      "NonMaxSuppression",
      {b.Unsqueeze(boxes, {0}), class_scores, b.I64(std::numeric_limits<int32_t>::max()),
       b.F32(FloorToFloat(iou)), b.F32(std::numeric_limits<float>::lowest())});
  // keep mask [K], then the kept indices by decreasing score, ties by index.
  const std::string kept_box = b.Select(selected, 1, 2);
  const std::string zeros = b.Op("ConstantOfShape", {b.Op("Shape", {scores})});
  const std::string ones = b.Op("Expand", {b.F32s({1.f}), b.Shape(kept_box, 0, 1)});
  const std::string keep = b.Cast(
      b.OpInt("ScatterElements", {zeros, kept_box, ones}, "axis", 0), onnx::TensorProto::BOOL);
  const std::string top_scores =
      b.Op("TopK", {b.Where(keep, scores, neg_inf), b.Shape(scores, 0, 1)});
  const std::string top_idx = ctx.Fresh("topk_idx");
  b.last()->add_output(top_idx);
  SetInt(b.last(), "axis", 0);
  const std::string ranks = b.NonZero1D(b.Op("Greater", {top_scores, neg_inf}));
  ctx.SetName(node.output(), b.Gather(top_idx, ranks, 0));
  return absl::OkStatus();
}

}  // namespace

void RegisterBatchedNmsLowering(LoweringTable& table) {
  table["d2x::batched_nms"] = LowerBatchedNms;
}

}  // namespace d2x::onnx_format
