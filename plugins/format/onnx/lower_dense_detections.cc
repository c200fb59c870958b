// d2x::dense_detections -> standard ONNX (the kernel is core/ops/dense_detections.cc: RetinaNet's
// inference, detectron2's RetinaNet.forward_inference with _decode_per_level_predictions).
//
// Batched over the N images, no Loop:
//  1. per level: the anchor grid from the feature's H, W (Shape at run time): shifts =
//     float(Range(0, W)) * stride + offset * stride (exact in float, like the kernel's arange),
//     (x, y, x, y) + cell anchors -> [H*W*A, 4]; logits / deltas permuted to [N, H*W*A, K|4]
//     (Transpose to N,H,W,A*K + Reshape = permute_to_N_HWA_K);
//  2. per level and image: TopK of min(topk_candidates, H*W*A*K) over the sigmoid scores of all
//     (anchor, class) pairs, then the score threshold (> score_thresh) as a mask. detectron2
//     thresholds first and takes the top-k of the survivors; both give the same set because the
//     top-k of everything contains every survivor of the top-k of the survivors (ties aside);
//  3. box decoding (Box2BoxTransform.apply_deltas) in the kernel's float32 op order;
//  4. per image class-wise NMS: NonMaxSuppression with batch = image and classes = classes, the
//     scores of other classes' and of below-threshold candidates -1, score_threshold -0.5 (the
//     sigmoid scores are >= 0), IoU threshold = the largest float <= nms_thresh (the kernel
//     compares the float IoU with the double threshold, ORT `iou > float threshold`);
//  5. the selected scores scattered into [N, T] (others -1), per image TopK of
//     min(max_detections, T): decreasing score, as batched_nms's keep order; NonZero of the valid
//     entries compacts the detections image-major.
#include <torch/csrc/jit/ir/ir.h>

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace {
namespace tj = torch::jit;

float LargestFloatAtMost(double t) {
  float f = static_cast<float>(t);
  if (static_cast<double>(f) > t) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}

// The anchors of one level: [H*W*A, 4] from the logits' H, W.
std::string GridAnchors(OnnxBuilder& b, const std::string& logits, const std::string& cell,
                        int64_t stride, double offset) {
  const float start = static_cast<float>(offset * static_cast<double>(stride));
  const std::string h = b.Dim(logits, 2), w = b.Dim(logits, 3);
  auto shifts = [&](const std::string& n) {
    return b.Op("Add", {b.Op("Mul", {b.ToF32(b.Arange(n)), b.F32(static_cast<float>(stride))}),
                        b.F32(start)});
  };
  const std::string hw = b.Concat({b.Unsqueeze(h, {0}), b.Unsqueeze(w, {0})}, 0);
  // meshgrid(shift_y, shift_x, "ij"): [H, W] each.
  const std::string sx = b.Op("Expand", {b.Unsqueeze(shifts(w), {0}), hw});
  const std::string sy = b.Op("Expand", {b.Unsqueeze(shifts(h), {1}), hw});
  const std::string sx1 = b.Unsqueeze(sx, {2}), sy1 = b.Unsqueeze(sy, {2});
  const std::string grid = b.Reshape(b.Concat({sx1, sy1, sx1, sy1}, 2), std::vector<int64_t>{-1, 1, 4});
  const std::string base = b.Reshape(b.ToF32(cell), std::vector<int64_t>{1, -1, 4});
  return b.Reshape(b.Op("Add", {grid, base}), std::vector<int64_t>{-1, 4});
}

// (N, A*K, H, W) -> (N, H*W*A, K).
std::string PermuteToNHWAK(OnnxBuilder& b, const std::string& x, int64_t k) {
  std::string t = b.Op("Transpose", {x});
  SetInts(b.last(), "perm", {0, 2, 3, 1});
  return b.Reshape(t, std::vector<int64_t>{0, -1, k});
}

// Box2BoxTransform.apply_deltas on [N, k, 4] deltas and anchors, the kernel's op order.
std::string ApplyDeltas(OnnxBuilder& b, const std::string& deltas, const std::string& anchors,
                        const std::vector<double>& weights, double scale_clamp) {
  auto col = [&](const std::string& x, int64_t i) { return b.Slice(x, 2, i, i + 1); };
  const std::string widths = b.Op("Sub", {col(anchors, 2), col(anchors, 0)});
  const std::string heights = b.Op("Sub", {col(anchors, 3), col(anchors, 1)});
  const std::string half = b.F32(0.5f);
  const std::string ctr_x = b.Op("Add", {col(anchors, 0), b.Op("Mul", {half, widths})});
  const std::string ctr_y = b.Op("Add", {col(anchors, 1), b.Op("Mul", {half, heights})});
  auto scaled = [&](int64_t i) {
    return b.Op("Div", {col(deltas, i), b.F32(static_cast<float>(weights[i]))});
  };
  const std::string clamp = b.F32(static_cast<float>(scale_clamp));
  const std::string dx = scaled(0), dy = scaled(1);
  const std::string dw = b.Op("Min", {scaled(2), clamp});
  const std::string dh = b.Op("Min", {scaled(3), clamp});
  const std::string pcx = b.Op("Add", {b.Op("Mul", {dx, widths}), ctr_x});
  const std::string pcy = b.Op("Add", {b.Op("Mul", {dy, heights}), ctr_y});
  const std::string pw = b.Op("Mul", {b.Op("Exp", {dw}), widths});
  const std::string ph = b.Op("Mul", {b.Op("Exp", {dh}), heights});
  const std::string hw = b.Op("Mul", {half, pw}), hh = b.Op("Mul", {half, ph});
  return b.Concat({b.Op("Sub", {pcx, hw}), b.Op("Sub", {pcy, hh}), b.Op("Add", {pcx, hw}),
                   b.Op("Add", {pcy, hh})},
                  2);
}

// dense_detections(Tensor[] cls_logits, Tensor[] box_deltas, Tensor[] cell_anchors, int[] strides,
//   float offset, Tensor image_sizes, int num_classes, float[] bbox_reg_weights,
//   float scale_clamp, float score_thresh, int topk_candidates, float nms_thresh,
//   int max_detections) -> (boxes, scores, classes, batch_index)
absl::Status LowerDenseDetections(const tj::Node& node, LoweringContext& ctx) {
  const auto in = node.inputs();
  D2X_ASSIGN_OR_RETURN(const std::vector<std::string> logits, TensorListNames(in[0], ctx));
  D2X_ASSIGN_OR_RETURN(const std::vector<std::string> deltas, TensorListNames(in[1], ctx));
  D2X_ASSIGN_OR_RETURN(const std::vector<std::string> cells, TensorListNames(in[2], ctx));
  D2X_ASSIGN_OR_RETURN(const std::vector<int64_t> strides, ctx.Ints(in[3]));
  D2X_ASSIGN_OR_RETURN(const double offset, ctx.Double(in[4]));
  D2X_ASSIGN_OR_RETURN(const int64_t num_classes, ctx.Int(in[6]));
  D2X_ASSIGN_OR_RETURN(const std::vector<double> weights, BoxRegWeights(in[7], ctx));
  D2X_ASSIGN_OR_RETURN(const double scale_clamp, ctx.Double(in[8]));
  D2X_ASSIGN_OR_RETURN(const double score_thresh, ctx.Double(in[9]));
  D2X_ASSIGN_OR_RETURN(const int64_t topk_candidates, ctx.Int(in[10]));
  D2X_ASSIGN_OR_RETURN(const double nms_thresh, ctx.Double(in[11]));
  D2X_ASSIGN_OR_RETURN(const int64_t max_detections, ctx.Int(in[12]));
  const size_t levels = logits.size();
  if (levels == 0 || deltas.size() != levels || cells.size() != levels ||
      strides.size() != levels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected the same number (> 0) of class-logit levels, box-delta levels, cell-anchor "
        "sets and strides, got ", levels, ", ", deltas.size(), ", ", cells.size(), ", ",
        strides.size()));
  }
  if (num_classes <= 0) return absl::InvalidArgumentError("num_classes must be positive");

  OnnxBuilder b(ctx);
  const std::string k_classes = b.I64(num_classes);
  const std::string thresh = b.F32(static_cast<float>(score_thresh));
  std::vector<std::string> level_boxes, level_scores, level_classes, level_valid;
  for (size_t l = 0; l < levels; ++l) {
    const std::string anchors = GridAnchors(b, logits[l], cells[l], strides[l], offset);
    const std::string scores = b.Reshape(
        b.TorchSigmoid(PermuteToNHWAK(b, logits[l], num_classes)), std::vector<int64_t>{0, -1});
    const std::string level_deltas = PermuteToNHWAK(b, deltas[l], 4);
    const std::string k =
        b.Op("Min", {b.Shape(scores, 1, 2), b.I64s({topk_candidates})});
    onnx::NodeProto* topk = ctx.AddNode("TopK", {scores, k},
                                        {ctx.Fresh("topk_scores"), ctx.Fresh("topk_idx")});
    SetInt(topk, "axis", 1);
    SetInt(topk, "largest", 1);
    SetInt(topk, "sorted", 1);
    const std::string top_scores = topk->output(0), top_idx = topk->output(1);
    const std::string anchor_idx = b.Op("Div", {top_idx, k_classes});
    const std::string cls = b.Op("Mod", {top_idx, k_classes});
    // deltas[i, anchor_idx[i, j], :] (GatherElements along the anchors).
    const std::string idx4 = b.Op(
        "Expand", {b.Unsqueeze(anchor_idx, {2}),
                   b.Concat({b.Shape(anchor_idx, 0, 2), b.I64s({4})}, 0)});
    const std::string picked_deltas = b.OpInt("GatherElements", {level_deltas, idx4}, "axis", 1);
    const std::string picked_anchors = b.Gather(anchors, anchor_idx, 0);
    level_boxes.push_back(ApplyDeltas(b, picked_deltas, picked_anchors, weights, scale_clamp));
    level_scores.push_back(top_scores);
    level_classes.push_back(cls);
    level_valid.push_back(b.Op("Greater", {top_scores, thresh}));
  }
  const std::string boxes = levels == 1 ? level_boxes[0] : b.Concat(level_boxes, 1);    // [N,T,4]
  const std::string scores = levels == 1 ? level_scores[0] : b.Concat(level_scores, 1);  // [N,T]
  const std::string classes = levels == 1 ? level_classes[0] : b.Concat(level_classes, 1);
  const std::string valid = levels == 1 ? level_valid[0] : b.Concat(level_valid, 1);

  // Class-wise NMS per image: scores [N, C, T], -1 where the class differs or below threshold.
  const std::string minus_one = b.F32(-1.0f);
  const std::string class_range = b.Reshape(b.Arange(k_classes), std::vector<int64_t>{1, -1, 1});
  const std::string is_class = b.Op("Equal", {b.Unsqueeze(classes, {1}), class_range});
  const std::string candidate = b.Op("And", {is_class, b.Unsqueeze(valid, {1})});
  const std::string class_scores = b.Where(candidate, b.Unsqueeze(scores, {1}), minus_one);
  const std::string t = b.Shape(scores, 1, 2);
  const std::string selected =
      b.Op("NonMaxSuppression", {boxes, class_scores, t,
                                 ctx.AddFloats("iou", {LargestFloatAtMost(nms_thresh)}),
                                 ctx.AddFloats("score_min", {-0.5f})});
  // (image, box) of every kept detection; scatter their scores into [N, T].
  const std::string image_box = b.Op("Gather", {selected, b.I64s({0, 2})});
  SetInt(b.last(), "axis", 1);
  const std::string kept_scores = b.Op("GatherND", {scores, image_box});
  const std::string dense = b.Op(
      "ScatterND", {b.Op("Expand", {minus_one, b.Op("Shape", {scores})}), image_box, kept_scores});
  const std::string k_final = b.Op("Min", {t, b.I64s({max_detections})});
  onnx::NodeProto* topk =
      ctx.AddNode("TopK", {dense, k_final}, {ctx.Fresh("final_scores"), ctx.Fresh("final_idx")});
  SetInt(topk, "axis", 1);
  SetInt(topk, "largest", 1);
  SetInt(topk, "sorted", 1);
  const std::string final_scores = topk->output(0), final_idx = topk->output(1);
  std::string slots = b.Op("Transpose", {b.Op("NonZero", {b.Op("Greater", {final_scores,
                                                                            b.F32(-0.5f)})})});
  SetInts(b.last(), "perm", {1, 0});  // [D, 2] (image, slot)
  const std::string image = b.Gather(slots, b.I64(0), 1);
  const std::string box = b.Op("GatherND", {final_idx, slots});
  const std::string pair = b.Concat({b.Unsqueeze(image, {1}), b.Unsqueeze(box, {1})}, 1);

  ctx.SetName(node.outputs()[0], b.Op("GatherND", {boxes, pair}));
  ctx.SetName(node.outputs()[1], b.Op("GatherND", {final_scores, slots}));
  ctx.SetName(node.outputs()[2], b.Op("GatherND", {classes, pair}));
  ctx.SetName(node.outputs()[3], image);
  return absl::OkStatus();
}

}  // namespace

void RegisterDenseDetectionsLowering(LoweringTable& table) {
  table["d2x::dense_detections"] = &LowerDenseDetections;
}

}  // namespace d2x::onnx_format
