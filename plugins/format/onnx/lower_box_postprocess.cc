// d2x::box_postprocess -> standard ONNX (the kernel is core/ops/box_postprocess.cc:
// FastRCNNOutputLayers.inference for a batch of proposals, rois [R, 5] grouped by image).
//
// Dense over the R proposals and K classes of the whole batch, no per-image loop:
//  1. boxes [R, K', 4] = apply_deltas(box_deltas, rois[:, 1:5]) in the kernel's float32 op order
//     (K' = K, or 1 for class-agnostic regression, broadcast to K); probs = Softmax or Sigmoid;
//  2. valid rows = finite boxes (all classes) and finite probs (all K + 1);
//  3. clip every box to its image's size (image = rois[:, 0]);
//  4. candidates = valid & probs[:, :K] > score_thresh;
//  5. NonMaxSuppression with batch = image * K + class and spatial = the R proposals: the boxes of
//     class c for every image, the scores of other images' rows and of non-candidates -inf,
//     score_threshold = lowest float (ORT keeps scores strictly greater); IoU threshold = the
//     largest float <= nms_thresh (see lower_rpn_proposals.cc);
//  6. the selected (image, roi, class) scattered into a keep mask [N, R, K]; per image TopK of
//     the kept scores (others -inf) over the R * K (roi, class) pairs in row-major order,
//     k = min(topk_per_image, R * K): decreasing score, ties by lower (roi, class) index, which
//     is the order of the stable score sort over the kernel's filter_mask.nonzero() list;
//  7. NonZero of the finite top-k scores compacts the detections image-major.
// The per-class NMS differs from torchvision's batched_nms as described in
// lower_rpn_proposals.cc (coordinate offsets below 1000 candidates per image, an unstable merge
// sort above).
#include <torch/csrc/jit/ir/ir.h>

#include <array>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace {
namespace tj = torch::jit;

// box_postprocess(Tensor class_logits, Tensor box_deltas, Tensor proposal_rois,
//   Tensor image_sizes, float[] bbox_reg_weights, float scale_clamp, bool use_sigmoid,
//   float score_thresh, float nms_thresh, int topk_per_image)
absl::Status LowerBoxPostprocess(const tj::Node& node, LoweringContext& ctx) {
  const auto in = node.inputs();
  D2X_ASSIGN_OR_RETURN(std::string class_logits, ctx.Name(in[0]));
  D2X_ASSIGN_OR_RETURN(std::string box_deltas, ctx.Name(in[1]));
  D2X_ASSIGN_OR_RETURN(std::string rois, ctx.Name(in[2]));
  D2X_ASSIGN_OR_RETURN(std::string image_sizes, ctx.Name(in[3]));
  D2X_ASSIGN_OR_RETURN(const std::vector<double> w, BoxRegWeights(in[4], ctx));
  D2X_ASSIGN_OR_RETURN(double scale_clamp, ctx.Double(in[5]));
  D2X_ASSIGN_OR_RETURN(bool use_sigmoid, ctx.Bool(in[6]));
  D2X_ASSIGN_OR_RETURN(double score_thresh, ctx.Double(in[7]));
  D2X_ASSIGN_OR_RETURN(double nms_thresh, ctx.Double(in[8]));
  D2X_ASSIGN_OR_RETURN(int64_t topk_per_image, ctx.Int(in[9]));
  const float neg_inf = -std::numeric_limits<float>::infinity();
  OnnxBuilder b(ctx);

  // K = classes without background; R proposals; N images.
  const std::string num_classes = b.Op("Sub", {b.Dim(class_logits, 1), b.I64(1)});
  const std::string k1 = b.Unsqueeze(num_classes, {0});  // [1]
  const std::string r1 = b.Shape(rois, 0, 1);             // [1]
  const std::string n1 = b.Shape(image_sizes, 0, 1);      // [1]

  // 1. Decode against the proposal boxes (ApplyDeltas, op for op): [R, K', 4].
  auto p = [&](int64_t c) { return b.Unsqueeze(b.Select(rois, 1, c + 1), {1}); };  // [R, 1]
  const std::string widths = b.Op("Sub", {p(2), p(0)});
  const std::string heights = b.Op("Sub", {p(3), p(1)});
  const std::string half = b.F32(0.5f);
  const std::string ctr_x = b.Op("Add", {p(0), b.Op("Mul", {half, widths})});
  const std::string ctr_y = b.Op("Add", {p(1), b.Op("Mul", {half, heights})});
  // deltas[:, c::4] / weight[c]: [R, K'], the kernel's slicing.
  auto d = [&](int64_t c) {
    return b.Op("Div", {b.Slice(box_deltas, 1, c, std::numeric_limits<int64_t>::max(), 4),
                        b.F32(static_cast<float>(w[c]))});
  };
  const std::string clamp = b.F32(static_cast<float>(scale_clamp));
  const std::string dx = d(0), dy = d(1);
  const std::string dw = b.Op("Min", {d(2), clamp}), dh = b.Op("Min", {d(3), clamp});
  const std::string pcx = b.Op("Add", {b.Op("Mul", {dx, widths}), ctr_x});
  const std::string pcy = b.Op("Add", {b.Op("Mul", {dy, heights}), ctr_y});
  const std::string pw = b.Op("Mul", {b.Op("Exp", {dw}), widths});
  const std::string ph = b.Op("Mul", {b.Op("Exp", {dh}), heights});
  const std::string hw = b.Op("Mul", {half, pw}), hh = b.Op("Mul", {half, ph});
  const std::string decoded = b.Concat(  // [R, K', 4]
      {b.Unsqueeze(b.Op("Sub", {pcx, hw}), {2}), b.Unsqueeze(b.Op("Sub", {pcy, hh}), {2}),
       b.Unsqueeze(b.Op("Add", {pcx, hw}), {2}), b.Unsqueeze(b.Op("Add", {pcy, hh}), {2})},
      2);
  const std::string probs = use_sigmoid ? b.TorchSigmoid(class_logits)
                                        : b.OpInt("Softmax", {class_logits}, "axis", -1);

  // 2. Valid rows.
  const std::string valid = b.Op(
      "And", {b.Cast(b.Reduce("ReduceMin", b.Cast(b.IsFinite(decoded), onnx::TensorProto::INT32),
                              {1, 2}, false),
                     onnx::TensorProto::BOOL),
              b.AllAlong(b.IsFinite(probs), 1)});  // [R]

  // 3. Clip to the image of each row: [R, 1, 1] bounds.
  const std::string image = b.ToI64(b.Select(rois, 1, 0));  // [R]
  const std::string row_hw = b.Gather(b.ToF32(image_sizes), image, 0);  // [R, 2]
  auto bound = [&](int64_t c) { return b.Unsqueeze(b.Select(row_hw, 1, c), {1}); };  // [R, 1]
  auto clip = [&](int64_t c, const std::string& hi) {
    return b.Unsqueeze(b.Op("Min", {b.Op("Max", {b.Select(decoded, 2, c), b.F32(0.f)}), hi}),
                       {2});
  };
  const std::string height = bound(0), width = bound(1);
  // [R, K, 4]: class-agnostic boxes are broadcast to every class.
  const std::string boxes = b.Op(
      "Expand", {b.Concat({clip(0, width), clip(1, height), clip(2, width), clip(3, height)}, 2),
                 b.Concat({r1, k1, b.I64s({4})}, 0)});

  // 4. Candidates [R, K].
  const std::string scores = b.Slice(probs, 1, 0, -1);  // [R, K]: probs[:, :-1]
  const std::string candidate = b.Op(
      "And", {b.Op("Greater", {scores, b.F32(static_cast<float>(score_thresh))}),
              b.Unsqueeze(valid, {1})});

  // 5. NMS, batch = image * K + class: boxes [N * K, R, 4], scores [N * K, 1, R].
  const std::string nk = b.Op("Mul", {n1, k1});
  const std::string boxes_kr = b.Op("Transpose", {boxes});
  SetInts(b.last(), "perm", {1, 0, 2});  // [K, R, 4]
  const std::string nms_boxes = b.Reshape(
      b.Op("Expand", {b.Unsqueeze(boxes_kr, {0}), b.Concat({n1, k1, r1, b.I64s({4})}, 0)}),
      b.Concat({nk, r1, b.I64s({4})}, 0));
  const std::string images = b.Arange(b.Dim(image_sizes, 0));  // [N]
  const std::string of_image =
      b.Op("Equal", {b.Unsqueeze(images, {1}), b.Unsqueeze(image, {0})});  // [N, R]
  std::string cand_kr = b.Op("Transpose", {candidate});                   // [K, R]
  SetInts(b.last(), "perm", {1, 0});
  std::string scores_kr = b.Op("Transpose", {scores});
  SetInts(b.last(), "perm", {1, 0});
  const std::string nms_mask =
      b.Op("And", {b.Unsqueeze(of_image, {1}), b.Unsqueeze(cand_kr, {0})});  // [N, K, R]
  const std::string nms_scores = b.Reshape(
      b.Where(nms_mask, b.Unsqueeze(scores_kr, {0}), b.F32(neg_inf)),
      b.Concat({nk, b.I64s({1}), r1}, 0));
  const std::string selected = b.Op(
      "NonMaxSuppression",
      {nms_boxes, nms_scores, b.I64(std::numeric_limits<int32_t>::max()),
       b.F32(FloorToFloat(nms_thresh)), b.F32(std::numeric_limits<float>::lowest())});

  // 6. keep [N, R, K] from (batch = n * K + c, box = r).
  const std::string sel_batch = b.Select(selected, 1, 0);
  const std::string sel_box = b.Select(selected, 1, 2);
  const std::string triples = b.Concat(
      {b.Unsqueeze(b.Op("Div", {sel_batch, num_classes}), {1}), b.Unsqueeze(sel_box, {1}),
       b.Unsqueeze(b.Op("Mod", {sel_batch, num_classes}), {1})},
      1);  // [S, 3] (image, roi, class)
  const std::string ones = b.Op("Expand", {b.F32s({1.f}), b.Shape(selected, 0, 1)});
  const std::string zeros = b.Op("ConstantOfShape", {b.Concat({n1, r1, k1}, 0)});
  const std::string keep =
      b.Cast(b.Op("ScatterND", {zeros, triples, ones}), onnx::TensorProto::BOOL);
  const std::string rk = b.Op("Mul", {r1, k1});
  const std::string kept_scores =  // [N, R * K]
      b.OpInt("Flatten", {b.Where(keep, b.Unsqueeze(scores, {0}), b.F32(neg_inf))}, "axis", 1);
  const std::string k = topk_per_image >= 0
                            ? b.Op("Min", {rk, b.I64s({topk_per_image})})
                            : rk;
  const std::string top_scores = b.Op("TopK", {kept_scores, k});
  const std::string top_idx = ctx.Fresh("topk_idx");
  b.last()->add_output(top_idx);
  SetInt(b.last(), "axis", 1);

  // 7. Compact.
  std::string nz = b.Op("NonZero", {b.IsFinite(top_scores)});
  nz = b.Op("Transpose", {nz});  // [D, 2] (image, rank)
  const std::string flat = b.Op("GatherND", {top_idx, nz});  // roi * K + class
  const std::string roi = b.Op("Div", {flat, num_classes});
  const std::string cls = b.Op("Mod", {flat, num_classes});
  const std::string rc = b.Concat({b.Unsqueeze(roi, {1}), b.Unsqueeze(cls, {1})}, 1);
  ctx.SetName(node.output(0), b.Op("GatherND", {boxes, rc}));
  ctx.SetName(node.output(1), b.Op("GatherND", {scores, rc}));
  ctx.SetName(node.output(2), cls);
  ctx.SetName(node.output(3), b.Select(nz, 1, 0));
  return absl::OkStatus();
}

}  // namespace

void RegisterBoxPostprocessLowering(LoweringTable& table) {
  table["d2x::box_postprocess"] = LowerBoxPostprocess;
}

}  // namespace d2x::onnx_format
