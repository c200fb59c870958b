// d2x::panoptic_combine -> standard ONNX (the kernel is core/ops/panoptic_ops.cc: PanopticFPN's
// combine_semantic_and_instance_outputs per image on the batch canvas).
//
// The greedy overlap loop is an ONNX Loop. Images are independent, so one Loop runs over all D
// detections in decreasing score order (TopK; within an image that is the kernel's argsort
// order) and updates that detection's image in the carried canvas [N, Hm, Wm] and per-image
// segment counter [N]: mask = masks[k] & the image's output region; skip (score < threshold —
// the kernel's break, all later ones of the image are lower —, empty mask, or
// intersection / area > overlap_threshold, in double); else paint mask & free pixels with the
// next id. A second Loop runs over the N * C (image, label) pairs in label order: the label's
// free pixels in the image's region (semantic = first ArgMax over C), kept when the label is
// present, not 0 and its free area >= stuff_area_thresh. Segment rows (id, class, isthing, area,
// instance_id, image) accumulate in loop-carried tensors and are finally ordered by (image, id),
// which is the kernel's per-image order (things, then stuff).
#include <torch/csrc/jit/ir/ir.h>

#include "plugins/format/onnx/lower_loop.h"
#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace {
namespace tj = torch::jit;
constexpr int32_t kI64 = onnx::TensorProto::INT64;
constexpr int32_t kF32 = onnx::TensorProto::FLOAT;
constexpr int32_t kI32 = onnx::TensorProto::INT32;
constexpr int32_t kBool = onnx::TensorProto::BOOL;

struct Carried {
  std::string canvas, counters, rows, scores;
};

std::vector<BodyOutput> CarriedSpec() {
  return {{"canvas", kI32, 3}, {"counters", kI64, 1}, {"rows", kI64, 2}, {"scores", kF32, 1}};
}
Carried BodyCarried(const LoopBody& body) {
  return {body.carried(0), body.carried(1), body.carried(2), body.carried(3)};
}
std::vector<BodyOutput> CarriedOut(const Carried& c) {
  return {{c.canvas, kI32, 3}, {c.counters, kI64, 1}, {c.rows, kI64, 2}, {c.scores, kF32, 1}};
}

// Loop-carried outputs come out of libonnx 1.12's Loop inference without a shape (which the
// checker requires downstream): a Reshape by a constant of the known rank restores it.
std::vector<std::string> PinRanks(OnnxBuilder& b, const std::vector<std::string>& loop_out) {
  return {b.Reshape(loop_out[0], std::vector<int64_t>{0, 0, 0}),
          b.Reshape(loop_out[1], std::vector<int64_t>{-1}),
          b.Reshape(loop_out[2], std::vector<int64_t>{-1, 6}),
          b.Reshape(loop_out[3], std::vector<int64_t>{-1})};
}

std::string SumI64(OnnxBuilder& lb, const std::string& mask) {
  return lb.ReduceSum(lb.ToI64(mask), {0, 1}, /*keepdims=*/false);
}

std::string DoubleConst(OnnxBuilder& lb, const std::string& hint, double v) {
  onnx::TensorProto* t = lb.ctx().AddInitializer(hint);
  t->set_data_type(onnx::TensorProto::DOUBLE);
  t->add_double_data(v);
  return t->name();
}

// One candidate segment of image b1 ([1]): its pixels `mask` (already restricted to the image
// and to free pixels), kept when `keep`: painted with the image's next id, row appended.
Carried Update(OnnxBuilder& lb, const Carried& in, const std::string& b1, const std::string& seg,
               const std::string& mask, const std::string& keep, const std::string& cls,
               int64_t isthing, const std::string& area, const std::string& inst,
               const std::string& score) {
  const std::string keep_i64 = lb.Reshape(lb.ToI64(keep), std::vector<int64_t>{1});
  const std::string id = lb.Op("Add", {lb.Op("Gather", {in.counters, b1}), keep_i64});  // [1]
  const std::string painted =
      lb.Where(lb.Op("And", {mask, keep}), lb.Cast(lb.Squeeze(id, {0}), kI32), seg);
  const std::string idx = lb.Unsqueeze(b1, {1});  // [[b]]
  Carried out;
  out.canvas = lb.Op("ScatterND", {in.canvas, idx, lb.Unsqueeze(painted, {0})});
  out.counters = lb.Op("ScatterND", {in.counters, idx, id});
  auto one = [&](const std::string& x) { return lb.Reshape(x, std::vector<int64_t>{1}); };
  const std::string row = lb.Unsqueeze(
      lb.Concat({id, one(cls), lb.I64s({isthing}), one(area), one(inst), b1}, 0), {0});
  const std::string zero = lb.I64s({0});
  out.rows = lb.Concat({in.rows, lb.Op("Slice", {row, zero, keep_i64, zero})}, 0);
  out.scores =
      lb.Concat({in.scores, lb.Op("Slice", {one(score), zero, keep_i64, zero})}, 0);
  return out;
}

// The image region of image b1 ([1]): [Hm, Wm] bool.
std::string Region(OnnxBuilder& lb, const std::string& sizes, const std::string& b1,
                   const std::string& rows_idx, const std::string& cols_idx) {
  const std::string hw = lb.Squeeze(lb.Op("Gather", {sizes, b1}), {0});  // [2]
  return lb.Op("And", {lb.Op("Less", {rows_idx, lb.Select(hw, 0, 0)}),
                       lb.Op("Less", {cols_idx, lb.Select(hw, 0, 1)})});
}

// panoptic_combine(Tensor scores, Tensor classes, Tensor masks, Tensor batch_index,
//   Tensor sem_seg, Tensor output_sizes, float overlap_threshold, float stuff_area_thresh,
//   float instances_score_thresh) -> (panoptic_seg, segments_info, segments_score, num_segments)
absl::Status LowerPanopticCombine(const tj::Node& node, LoweringContext& ctx) {
  const auto in = node.inputs();
  D2X_ASSIGN_OR_RETURN(const std::string scores, ctx.Name(in[0]));
  D2X_ASSIGN_OR_RETURN(const std::string classes, ctx.Name(in[1]));
  D2X_ASSIGN_OR_RETURN(const std::string masks, ctx.Name(in[2]));
  D2X_ASSIGN_OR_RETURN(const std::string batch_index, ctx.Name(in[3]));
  D2X_ASSIGN_OR_RETURN(const std::string sem_seg, ctx.Name(in[4]));
  D2X_ASSIGN_OR_RETURN(const std::string output_sizes, ctx.Name(in[5]));
  D2X_ASSIGN_OR_RETURN(const double overlap_threshold, ctx.Double(in[6]));
  D2X_ASSIGN_OR_RETURN(const double stuff_area_thresh, ctx.Double(in[7]));
  D2X_ASSIGN_OR_RETURN(const double instances_score_thresh, ctx.Double(in[8]));
  OnnxBuilder b(ctx);
  using O = LoopBody;
  const std::string sizes = b.ToI64(output_sizes);
  const std::string n = b.Dim(sem_seg, 0), c = b.Dim(sem_seg, 1);
  const std::string hm = b.Dim(sem_seg, 2), wm = b.Dim(sem_seg, 3);
  const std::string rows_idx = b.Unsqueeze(b.Arange(hm), {1});  // [Hm, 1]
  const std::string cols_idx = b.Unsqueeze(b.Arange(wm), {0});  // [1, Wm]
  const std::string semantic = b.Op("ArgMax", {sem_seg});       // [N, Hm, Wm] int64
  SetInt(b.last(), "axis", 1);
  SetInt(b.last(), "keepdims", 0);
  SetInt(b.last(), "select_last_index", 0);
  const std::string bool_masks = b.Cast(masks, kBool);
  const std::string batch = b.ToI64(batch_index);

  Carried init;
  init.canvas = b.Cast(b.Op("Expand", {b.I64s({0}), b.Concat({b.Unsqueeze(n, {0}),
                                                              b.Unsqueeze(hm, {0}),
                                                              b.Unsqueeze(wm, {0})}, 0)}),
                       kI32);
  init.counters = b.Op("Expand", {b.I64s({0}), b.Unsqueeze(n, {0})});
  init.rows = b.Reshape(b.I64s({}), std::vector<int64_t>{0, 6});
  init.scores = b.F32s({});

  // Things, in decreasing score order (per image the kernel's order).
  const std::string d = b.Dim(scores, 0);
  onnx::NodeProto* topk = ctx.AddNode("TopK", {scores, b.Unsqueeze(d, {0})},
                                      {ctx.Fresh("order_scores"), ctx.Fresh("order")});
  SetInt(topk, "largest", 1);
  SetInt(topk, "sorted", 1);
  const std::string order = topk->output(1);
  LoopBody things(ctx, "panoptic_things", CarriedSpec());
  std::vector<std::string> after_things;
  {
    OnnxBuilder& lb = things.b();
    const Carried cur = BodyCarried(things);
    const std::string k1 = lb.Op("Gather", {O::Outer(order), lb.Unsqueeze(things.iter(), {0})});
    const std::string b1 = lb.Op("Gather", {O::Outer(batch), k1});
    const std::string score = lb.Squeeze(lb.Op("Gather", {O::Outer(scores), k1}), {0});
    const std::string cls = lb.ToI64(lb.Op("Gather", {O::Outer(classes), k1}));
    const std::string region =
        Region(lb, O::Outer(sizes), b1, O::Outer(rows_idx), O::Outer(cols_idx));
    const std::string mask = lb.Op(
        "And", {lb.Squeeze(lb.Op("Gather", {O::Outer(bool_masks), k1}), {0}), region});
    const std::string seg = lb.Squeeze(lb.Op("Gather", {cur.canvas, b1}), {0});
    const std::string free = lb.Op("Equal", {seg, lb.Cast(lb.I64(0), kI32)});
    const std::string area = SumI64(lb, mask);
    const std::string inter = SumI64(lb, lb.Op("And", {mask, lb.Op("Not", {free})}));
    const std::string free_mask = lb.Op("And", {mask, free});
    const std::string ratio = lb.Op("Div", {lb.Cast(inter, onnx::TensorProto::DOUBLE),
                                            lb.Cast(area, onnx::TensorProto::DOUBLE)});
    const std::string score_ok = lb.Op(
        "Not", {lb.Op("Less", {lb.Cast(score, onnx::TensorProto::DOUBLE),
                               DoubleConst(lb, "score_thresh", instances_score_thresh)})});
    const std::string keep = lb.Op(
        "And", {lb.Op("And", {score_ok, lb.Op("Greater", {area, lb.I64(0)})}),
                lb.Op("Not", {lb.Op("Greater", {ratio, DoubleConst(lb, "overlap",
                                                                   overlap_threshold)})})});
    // instance_id: the detection's index among its image's detections (grouped by image).
    const std::string start = lb.ReduceSum(lb.ToI64(lb.Op("Less", {O::Outer(batch), b1})), {0},
                                           /*keepdims=*/true);
    const std::string inst = lb.Op("Sub", {k1, start});
    const Carried next = Update(lb, cur, b1, seg, free_mask, keep, cls, 1,
                                SumI64(lb, free_mask), inst, score);
    after_things = PinRanks(
        b, things.Attach(d, {init.canvas, init.counters, init.rows, init.scores},
                         CarriedOut(next)));
  }

  // Stuff: (image, label) pairs, image-major, labels increasing.
  LoopBody stuff(ctx, "panoptic_stuff", CarriedSpec());
  std::vector<std::string> final_state;
  {
    OnnxBuilder& lb = stuff.b();
    const Carried cur = BodyCarried(stuff);
    const std::string t = stuff.iter();
    const std::string b1 = lb.Unsqueeze(lb.Op("Div", {t, O::Outer(c)}), {0});
    const std::string label = lb.Op("Mod", {t, O::Outer(c)});
    const std::string region =
        Region(lb, O::Outer(sizes), b1, O::Outer(rows_idx), O::Outer(cols_idx));
    const std::string sem = lb.Squeeze(lb.Op("Gather", {O::Outer(semantic), b1}), {0});
    const std::string lab = lb.Op("And", {lb.Op("Equal", {sem, label}), region});
    const std::string present = lb.Op("Greater", {SumI64(lb, lab), lb.I64(0)});
    const std::string seg = lb.Squeeze(lb.Op("Gather", {cur.canvas, b1}), {0});
    const std::string free_mask =
        lb.Op("And", {lab, lb.Op("Equal", {seg, lb.Cast(lb.I64(0), kI32)})});
    const std::string area = SumI64(lb, free_mask);
    const std::string big_enough = lb.Op(
        "Not", {lb.Op("Less", {lb.Cast(area, onnx::TensorProto::DOUBLE),
                               DoubleConst(lb, "stuff_area", stuff_area_thresh)})});
    const std::string keep =
        lb.Op("And", {lb.Op("And", {present, big_enough}),
                      lb.Op("Not", {lb.Op("Equal", {label, lb.I64(0)})})});
    const Carried next = Update(lb, cur, b1, seg, free_mask, keep, label, 0, area, lb.I64(-1),
                                lb.F32(0.f));
    final_state = PinRanks(b, stuff.Attach(b.Op("Mul", {n, c}), after_things, CarriedOut(next)));
  }
  const std::string rows = final_state[2], seg_scores = final_state[3];
  // Order the rows by (image, id): the kernel's per-image order (things, then stuff).
  const std::string key = b.Op(
      "Add", {b.Op("Mul", {b.Select(b.Slice(rows, 1, 5, 6), 1, 0), b.I64(int64_t{1} << 32)}),
              b.Select(b.Slice(rows, 1, 0, 1), 1, 0)});
  onnx::NodeProto* sort = ctx.AddNode("TopK", {key, b.Shape(key, 0, 1)},
                                      {ctx.Fresh("sorted_keys"), ctx.Fresh("row_order")});
  SetInt(sort, "largest", 0);
  SetInt(sort, "sorted", 1);
  const std::string sorted_rows = b.Gather(rows, sort->output(1), 0);
  ctx.SetName(node.outputs()[0], final_state[0]);
  ctx.SetName(node.outputs()[1], b.Slice(sorted_rows, 1, 0, 5));
  ctx.SetName(node.outputs()[2], b.Gather(seg_scores, sort->output(1), 0));
  ctx.SetName(node.outputs()[3], final_state[1]);
  return absl::OkStatus();
}

}  // namespace

void RegisterPanopticLowering(LoweringTable& table) {
  table["d2x::panoptic_combine"] = &LowerPanopticCombine;
}

}  // namespace d2x::onnx_format
