// d2x::rpn_proposals -> standard ONNX (the kernel is core/ops/rpn_proposals.cc).
//
// Everything stays dense per image ([N, M] over the M = sum_l min(pre_nms_topk, H_l W_l A)
// candidates of every image, with masks), so there is no per-image loop:
//  1. per level: the anchor grid from the feature map's run-time H, W (Range * stride + offset,
//     exact like ATen's arange for integer strides), logits [N, HWA] and deltas [N, HWA, 4] in the
//     kernel's (y, x, anchor) order, Box2BoxTransform.apply_deltas in the kernel's float32 op
//     order (Div by the weight, Min = clamp_max(scale_clamp), Exp), TopK(min(pre_nms_topk, HWA))
//     per image;
//  2. concatenated levels; valid = finite box and score; clip to the image size (Max/Min with
//     the image's width/height); non-empty (width and height > min_box_size);
//  3. NonMaxSuppression with batch = image and class = level, the scores of every other level and
//     of invalid boxes set to -inf and score_threshold = lowest float (ORT keeps scores strictly
//     greater), IoU threshold = the largest float <= nms_thresh (d2x::nms compares the float IoU
//     with the double threshold; ORT compares `iou > float threshold`, with the same IoU
//     expression inter / (area_kept + area_other - inter));
//  4. the selected (image, box) pairs scattered into a keep mask [N, M]; TopK of the kept scores
//     (others -inf), k = min(post_nms_topk, M), per image: decreasing score, ties by lower index;
//  5. NonZero of the finite top-k scores compacts the result image-major to rois [R, 5] and
//     their logits [R].
//
// Difference from torchvision's batched_nms (what the kernel calls, core/ops/nms.cc): for
// <= 1000 boxes per image it runs one NMS over boxes offset by level * (max coordinate + 1); the
// offsets round the coordinates, so an IoU can differ from the per-level IoU in the last bit.
// Above 1000 boxes it runs NMS per level (as here) and merges with an unstable sort, so equal
// scores may come out in another order. NonMaxSuppression here is always per level on the
// unshifted boxes, and ties are ordered by index (the offset path's stable sort). The results
// agree except for IoUs within an ulp of the threshold or exactly equal scores; the tests compare
// with the op on random inputs, and the end-to-end tests detection-aware.
#include <torch/csrc/jit/ir/ir.h>

#include <array>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace {
namespace tj = torch::jit;

struct Decoded {
  std::string boxes;   // [N, K, 4]
  std::string logits;  // [N, K]
};

// One level: anchors, permuted logits/deltas, decode, per-image top-k.
Decoded DecodeLevel(OnnxBuilder& b, const std::string& objectness, const std::string& deltas_in,
                    const std::string& cell_anchors, int64_t num_anchors, int64_t stride,
                    double offset, const std::array<float, 4>& weights, float scale_clamp,
                    int64_t pre_nms_topk) {
  // Anchors [H * W * A, 4]: (shift_x, shift_y, shift_x, shift_y) + cell anchor, (y, x, a) order.
  const std::string hw = b.Shape(objectness, 2, 4);
  auto shifts = [&](int64_t dim) {
    const std::string n = b.Dim(objectness, dim);
    return b.Op("Add", {b.Op("Mul", {b.ToF32(b.Arange(n)), b.F32(static_cast<float>(stride))}),
                        b.F32(static_cast<float>(offset * static_cast<double>(stride)))});
  };
  const std::string sx = b.Reshape(b.Op("Expand", {b.Unsqueeze(shifts(3), {0}), hw}),
                                    std::vector<int64_t>{-1});
  const std::string sy = b.Reshape(b.Op("Expand", {b.Unsqueeze(shifts(2), {1}), hw}),
                                    std::vector<int64_t>{-1});
  const std::string sx1 = b.Unsqueeze(sx, {1}), sy1 = b.Unsqueeze(sy, {1});
  const std::string grid = b.Concat({sx1, sy1, sx1, sy1}, 1);  // [HW, 4]
  const std::string anchors = b.Reshape(
      b.Op("Add", {b.Unsqueeze(grid, {1}), b.Unsqueeze(cell_anchors, {0})}),
      std::vector<int64_t>{-1, 4});

  // logits [N, HWA]; deltas [N, A, 4, H, W] -> [N, H, W, A, 4] -> [N, HWA, 4].
  std::string logits = b.Op("Transpose", {objectness});
  SetInts(b.last(), "perm", {0, 2, 3, 1});
  logits = b.Reshape(logits, std::vector<int64_t>{0, -1});
  std::string deltas = b.Reshape(deltas_in, std::vector<int64_t>{0, num_anchors, 4, -1});
  deltas = b.Op("Transpose", {deltas});
  SetInts(b.last(), "perm", {0, 3, 1, 2});
  deltas = b.Reshape(deltas, std::vector<int64_t>{0, -1, 4});

  // Box2BoxTransform.apply_deltas (box_math.h ApplyDeltas), op for op.
  auto a = [&](int64_t c) { return b.Select(anchors, 1, c); };  // [HWA]
  const std::string widths = b.Op("Sub", {a(2), a(0)});
  const std::string heights = b.Op("Sub", {a(3), a(1)});
  const std::string half = b.F32(0.5f);
  const std::string ctr_x = b.Op("Add", {a(0), b.Op("Mul", {half, widths})});
  const std::string ctr_y = b.Op("Add", {a(1), b.Op("Mul", {half, heights})});
  auto d = [&](int64_t c) { return b.Op("Div", {b.Select(deltas, 2, c), b.F32(weights[c])}); };
  const std::string dx = d(0), dy = d(1);
  const std::string dw = b.Op("Min", {d(2), b.F32(scale_clamp)});
  const std::string dh = b.Op("Min", {d(3), b.F32(scale_clamp)});
  const std::string pcx = b.Op("Add", {b.Op("Mul", {dx, widths}), ctr_x});
  const std::string pcy = b.Op("Add", {b.Op("Mul", {dy, heights}), ctr_y});
  const std::string pw = b.Op("Mul", {b.Op("Exp", {dw}), widths});
  const std::string ph = b.Op("Mul", {b.Op("Exp", {dh}), heights});
  const std::string hw_half = b.Op("Mul", {half, pw}), hh_half = b.Op("Mul", {half, ph});
  const std::string boxes = b.Concat(
      {b.Unsqueeze(b.Op("Sub", {pcx, hw_half}), {2}), b.Unsqueeze(b.Op("Sub", {pcy, hh_half}), {2}),
       b.Unsqueeze(b.Op("Add", {pcx, hw_half}), {2}), b.Unsqueeze(b.Op("Add", {pcy, hh_half}), {2})},
      2);

  // Top-k per image, k = min(pre_nms_topk, HWA).
  const std::string k = b.Op("Min", {b.Shape(logits, 1, 2), b.I64s({pre_nms_topk})});
  const std::string scores = b.Op("TopK", {logits, k});
  const std::string idx = b.ctx().Fresh("topk_idx");
  b.last()->add_output(idx);
  SetInt(b.last(), "axis", 1);
  const std::string idx4 = b.Op("Expand", {b.Unsqueeze(idx, {2}), b.I64s({1, 1, 4})});
  return {b.OpInt("GatherElements", {boxes, idx4}, "axis", 1), scores};
}

// rpn_proposals(Tensor[] objectness, Tensor[] anchor_deltas, Tensor[] cell_anchors, int[] strides,
//   float offset, Tensor image_sizes, float[] bbox_reg_weights, float scale_clamp,
//   float nms_thresh, int pre_nms_topk, int post_nms_topk, float min_box_size)
absl::Status LowerRpnProposals(const tj::Node& node, LoweringContext& ctx) {
  const auto in = node.inputs();
  D2X_ASSIGN_OR_RETURN(std::vector<std::string> objectness, TensorListNames(in[0], ctx));
  D2X_ASSIGN_OR_RETURN(std::vector<std::string> anchor_deltas, TensorListNames(in[1], ctx));
  D2X_ASSIGN_OR_RETURN(std::vector<std::string> cell_anchors, TensorListNames(in[2], ctx));
  D2X_ASSIGN_OR_RETURN(std::vector<int64_t> strides, ctx.Ints(in[3]));
  D2X_ASSIGN_OR_RETURN(double offset, ctx.Double(in[4]));
  D2X_ASSIGN_OR_RETURN(std::string image_sizes, ctx.Name(in[5]));
  D2X_ASSIGN_OR_RETURN(const std::vector<double> w, BoxRegWeights(in[6], ctx));
  D2X_ASSIGN_OR_RETURN(double scale_clamp, ctx.Double(in[7]));
  D2X_ASSIGN_OR_RETURN(double nms_thresh, ctx.Double(in[8]));
  D2X_ASSIGN_OR_RETURN(int64_t pre_nms_topk, ctx.Int(in[9]));
  D2X_ASSIGN_OR_RETURN(int64_t post_nms_topk, ctx.Int(in[10]));
  D2X_ASSIGN_OR_RETURN(double min_box_size, ctx.Double(in[11]));
  const size_t num_levels = objectness.size();
  if (num_levels == 0 || anchor_deltas.size() != num_levels ||
      cell_anchors.size() != num_levels || strides.size() != num_levels) {
    return absl::InvalidArgumentError(absl::StrCat(
        "got ", num_levels, " objectness levels, ", anchor_deltas.size(), " delta levels, ",
        cell_anchors.size(), " cell-anchor sets and ", strides.size(), " strides"));
  }
  // The number of cell anchors per level (a constant of the traced graph).
  std::vector<int64_t> num_anchors;
  for (const tj::Value* v : in[2]->node()->inputs()) {
    c10::optional<c10::IValue> iv = tj::toIValue(v);
    if (!iv.has_value() || !iv->isTensor() || iv->toTensor().dim() != 2 ||
        iv->toTensor().size(1) != 4) {
      return absl::InvalidArgumentError("cell_anchors must be constant [A, 4] tensors");
    }
    num_anchors.push_back(iv->toTensor().size(0));
  }
  const std::array<float, 4> weights = {static_cast<float>(w[0]), static_cast<float>(w[1]),
                                        static_cast<float>(w[2]), static_cast<float>(w[3])};
  const float neg_inf = -std::numeric_limits<float>::infinity();

  OnnxBuilder b(ctx);
  std::vector<std::string> level_boxes, level_scores, level_ids;
  for (size_t l = 0; l < num_levels; ++l) {
    Decoded dec = DecodeLevel(b, objectness[l], anchor_deltas[l], cell_anchors[l],
                              num_anchors[l], strides[l], offset, weights,
                              static_cast<float>(scale_clamp), pre_nms_topk);
    level_ids.push_back(
        b.Op("Expand", {b.I64s({static_cast<int64_t>(l)}), b.Shape(dec.logits, 1, 2)}));
    level_boxes.push_back(dec.boxes);
    level_scores.push_back(dec.logits);
  }
  const std::string boxes = b.Concat(level_boxes, 1);    // [N, M, 4]
  const std::string scores = b.Concat(level_scores, 1);  // [N, M]
  const std::string levels = b.Concat(level_ids, 0);     // [M]

  // Valid (finite), clipped, non-empty.
  const std::string valid =
      b.Op("And", {b.AllAlong(b.IsFinite(boxes), 2), b.IsFinite(scores)});
  const std::string sizes_f = b.ToF32(image_sizes);   // [N, 2] (h, w)
  const std::string height = b.Slice(sizes_f, 1, 0, 1);  // [N, 1]
  const std::string width = b.Slice(sizes_f, 1, 1, 2);
  auto clip = [&](int64_t c, const std::string& hi) {
    return b.Op("Min", {b.Op("Max", {b.Select(boxes, 2, c), b.F32(0.f)}), hi});
  };
  const std::string x1 = clip(0, width), y1 = clip(1, height);
  const std::string x2 = clip(2, width), y2 = clip(3, height);
  const std::string min_size = b.F32(static_cast<float>(min_box_size));
  const std::string nonempty =
      b.Op("And", {b.Op("Greater", {b.Op("Sub", {x2, x1}), min_size}),
                   b.Op("Greater", {b.Op("Sub", {y2, y1}), min_size})});
  const std::string candidate = b.Op("And", {valid, nonempty});  // [N, M]
  const std::string clipped = b.Concat(
      {b.Unsqueeze(x1, {2}), b.Unsqueeze(y1, {2}), b.Unsqueeze(x2, {2}), b.Unsqueeze(y2, {2})},
      2);

  // NMS: batch = image, class = level.
  const std::string level_of = b.Op(
      "Equal", {b.Unsqueeze(b.I64s([&] {
                  std::vector<int64_t> v(num_levels);
                  for (size_t l = 0; l < num_levels; ++l) v[l] = static_cast<int64_t>(l);
                  return v;
                }()), {1}),
                b.Unsqueeze(levels, {0})});  // [L, M]
  const std::string in_class = b.Op("And", {b.Unsqueeze(candidate, {1}), level_of});  // [N,L,M]
  const std::string class_scores =
      b.Where(in_class, b.Unsqueeze(scores, {1}), b.F32(neg_inf));
  const std::string selected = b.Op(
      "NonMaxSuppression",
      {clipped, class_scores, b.I64(std::numeric_limits<int32_t>::max()),
       b.F32(FloorToFloat(nms_thresh)), b.F32(std::numeric_limits<float>::lowest())});

  // keep mask [N, M] from the selected (image, class, box) triples.
  const std::string pairs = b.Gather(selected, b.I64s({0, 2}), 1);  // [S, 2]
  const std::string ones = b.Op("Expand", {b.F32s({1.f}), b.Shape(selected, 0, 1)});
  const std::string zeros = b.Op("ConstantOfShape", {b.Op("Shape", {scores})});
  const std::string keep = b.Cast(b.Op("ScatterND", {zeros, pairs, ones}),
                                  onnx::TensorProto::BOOL);
  const std::string kept_scores = b.Where(keep, scores, b.F32(neg_inf));

  // Post-NMS top-k per image, then the finite ones, image-major.
  const std::string k = b.Op("Min", {b.Shape(scores, 1, 2), b.I64s({post_nms_topk})});
  const std::string top_scores = b.Op("TopK", {kept_scores, k});
  const std::string top_idx = ctx.Fresh("topk_idx");
  b.last()->add_output(top_idx);
  SetInt(b.last(), "axis", 1);
  std::string nz = b.Op("NonZero", {b.IsFinite(top_scores)});  // [2, R]
  nz = b.Op("Transpose", {nz});                                 // [R, 2] (image, rank)
  const std::string image = b.Select(nz, 1, 0);
  const std::string box = b.Op("GatherND", {top_idx, nz});
  const std::string pair = b.Concat({b.Unsqueeze(image, {1}), b.Unsqueeze(box, {1})}, 1);
  const std::string rois =
      b.Concat({b.ToF32(b.Unsqueeze(image, {1})), b.Op("GatherND", {clipped, pair})}, 1);
  ctx.SetName(node.output(0), rois);
  ctx.SetName(node.output(1), b.Op("GatherND", {scores, pair}));
  return absl::OkStatus();
}

}  // namespace

void RegisterRpnProposalsLowering(LoweringTable& table) {
  table["d2x::rpn_proposals"] = LowerRpnProposals;
}

}  // namespace d2x::onnx_format
