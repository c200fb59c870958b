// Small helpers shared by the lower_*.cc files.
#ifndef D2X_PLUGINS_FORMAT_ONNX_LOWER_UTIL_H_
#define D2X_PLUGINS_FORMAT_ONNX_LOWER_UTIL_H_

#include <torch/csrc/jit/ir/ir.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#include "plugins/format/onnx/lowering.h"
#include "core/util/status_macros.h"

namespace d2x::onnx_format {

inline void SetInts(onnx::NodeProto* node, const std::string& name,
                    const std::vector<int64_t>& values) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}
inline void SetInt(onnx::NodeProto* node, const std::string& name, int64_t value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}
inline void SetFloat(onnx::NodeProto* node, const std::string& name, float value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}
inline void SetString(onnx::NodeProto* node, const std::string& name, const std::string& value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}

// A small builder for the multi-node lowerings (lower_rpn_proposals.cc, ...): one-output nodes
// with fresh names, int64 / float constants, and the shape plumbing they need at opset 16/17
// (Unsqueeze/Squeeze/ReduceSum axes as inputs, ReduceMax/ReduceMin axes as attributes).
class OnnxBuilder {
 public:
  explicit OnnxBuilder(LoweringContext& ctx) : ctx_(ctx) {}
  LoweringContext& ctx() { return ctx_; }

  // A node with one output; last() is the node, for attributes.
  std::string Op(const std::string& op_type, const std::vector<std::string>& inputs) {
    const std::string y = ctx_.Fresh(op_type);
    last_ = ctx_.AddNode(op_type, inputs, {y});
    return y;
  }
  onnx::NodeProto* last() { return last_; }
  std::string OpInt(const std::string& op_type, const std::vector<std::string>& inputs,
                    const std::string& attr, int64_t value) {
    std::string y = Op(op_type, inputs);
    SetInt(last_, attr, value);
    return y;
  }

  std::string I64(int64_t v) { return ctx_.AddInt64s("c", {v}, /*as_scalar=*/true); }
  std::string I64s(const std::vector<int64_t>& v) { return ctx_.AddInt64s("c", v); }
  std::string F32(float v) { return ctx_.AddFloats("c", {v}, /*as_scalar=*/true); }
  std::string F32s(const std::vector<float>& v) { return ctx_.AddFloats("c", v); }

  // torch's CPU sigmoid op for op: 1 / (1 + exp(-x)) (ATen's sigmoid_kernel). ONNX Sigmoid is
  // another approximation in ORT: it rounds to exactly 1.0f from x >= 15.84 where torch does
  // from x >= 16.64 — exact score ties torch does not have, which decide what top-k and NMS keep
  // in saturated heads — and differs by 1-2 ulps on about 2/3 of inputs. This formula saturates
  // where torch does and differs only through Exp (<= 2 ulps, on about 4 % of inputs).
  std::string TorchSigmoid(const std::string& x) {
    const std::string one = F32(1.0f);
    return Op("Div", {one, Op("Add", {Op("Exp", {Op("Neg", {x})}), one})});
  }

  std::string Cast(const std::string& x, int32_t to) { return OpInt("Cast", {x}, "to", to); }
  std::string ToF32(const std::string& x) { return Cast(x, onnx::TensorProto::FLOAT); }
  std::string ToI64(const std::string& x) { return Cast(x, onnx::TensorProto::INT64); }
  std::string Gather(const std::string& x, const std::string& idx, int64_t axis) {
    return OpInt("Gather", {x, idx}, "axis", axis);
  }
  // x[..., i, ...] along axis (the axis is removed).
  std::string Select(const std::string& x, int64_t axis, int64_t i) {
    return Gather(x, I64(i), axis);
  }
  std::string Slice(const std::string& x, int64_t axis, int64_t start, int64_t end,
                    int64_t step = 1) {
    return Op("Slice", {x, I64s({start}), I64s({end}), I64s({axis}), I64s({step})});
  }
  std::string Unsqueeze(const std::string& x, const std::vector<int64_t>& axes) {
    return Op("Unsqueeze", {x, I64s(axes)});
  }
  std::string Squeeze(const std::string& x, const std::vector<int64_t>& axes) {
    return Op("Squeeze", {x, I64s(axes)});
  }
  // A computed shape is taken literally: allowzero=1, so a 0 in it (an empty dim at run time)
  // means 0, not "copy the input's dim".
  std::string Reshape(const std::string& x, const std::string& shape) {
    std::string y = Op("Reshape", {x, shape});
    SetInt(last_, "allowzero", 1);
    return y;
  }
  // A constant shape: 0 copies the input's dim, -1 is inferred (ONNX's default, allowzero=0).
  std::string ReshapeConst(const std::string& x, const std::vector<int64_t>& shape) {
    return Op("Reshape", {x, I64s(shape)});
  }
  std::string Reshape(const std::string& x, const std::vector<int64_t>& shape) {
    return ReshapeConst(x, shape);
  }
  std::string Concat(const std::vector<std::string>& xs, int64_t axis) {
    return OpInt("Concat", xs, "axis", axis);
  }
  // Shape(x)[start:end] as int64 [end - start].
  std::string Shape(const std::string& x, int64_t start, int64_t end) {
    std::string y = Op("Shape", {x});
    SetInt(last_, "start", start);
    SetInt(last_, "end", end);
    return y;
  }
  // Shape(x)[d] as an int64 scalar.
  std::string Dim(const std::string& x, int64_t d) {
    return Squeeze(Shape(x, d, d + 1), {0});
  }
  std::string Reduce(const std::string& op_type, const std::string& x,
                     const std::vector<int64_t>& axes, bool keepdims) {
    std::string y = Op(op_type, {x});
    SetInts(last_, "axes", axes);
    SetInt(last_, "keepdims", keepdims ? 1 : 0);
    return y;
  }
  std::string ReduceSum(const std::string& x, const std::vector<int64_t>& axes, bool keepdims) {
    std::string y = Op("ReduceSum", {x, I64s(axes)});
    SetInt(last_, "keepdims", keepdims ? 1 : 0);
    return y;
  }
  // Where(mask, x, y).
  std::string Where(const std::string& mask, const std::string& x, const std::string& y) {
    return Op("Where", {mask, x, y});
  }
  // Rows of a 1-D bool mask that are true, as int64 [K].
  std::string NonZero1D(const std::string& mask) {
    return ReshapeConst(Op("NonZero", {mask}), {-1});
  }
  // Range(0, n) for an int64 scalar n.
  std::string Arange(const std::string& n) { return Op("Range", {I64(0), n, I64(1)}); }
  // Elementwise isfinite of a float tensor.
  std::string IsFinite(const std::string& x) {
    return Op("Not", {Op("Or", {Op("IsInf", {x}), Op("IsNaN", {x})})});
  }
  // All along `axis` of a bool tensor (axis removed).
  std::string AllAlong(const std::string& mask, int64_t axis) {
    return Cast(Reduce("ReduceMin", Cast(mask, onnx::TensorProto::INT32), {axis}, false),
                onnx::TensorProto::BOOL);
  }

 private:
  LoweringContext& ctx_;
  onnx::NodeProto* last_ = nullptr;
};

// Tensor names of a Tensor[] input built with prim::ListConstruct.
inline absl::StatusOr<std::vector<std::string>> TensorListNames(const torch::jit::Value* list,
                                                                LoweringContext& ctx) {
  if (list->node()->kind() != c10::prim::ListConstruct) {
    return absl::UnimplementedError(absl::StrCat("onnx: tensor list %", list->debugName(),
                                                 " is not built in the graph (ListConstruct)"));
  }
  std::vector<std::string> names;
  for (const torch::jit::Value* v : list->node()->inputs()) {
    D2X_ASSIGN_OR_RETURN(std::string name, ctx.Name(v));
    names.push_back(name);
  }
  return names;
}

// A constant float list: a float[] constant or a prim::ListConstruct of float constants.
inline absl::StatusOr<std::vector<double>> ConstantDoubles(const torch::jit::Value* value,
                                                           const LoweringContext& ctx) {
  if (value->node()->kind() == c10::prim::ListConstruct) {
    std::vector<double> out;
    for (const torch::jit::Value* in : value->node()->inputs()) {
      D2X_ASSIGN_OR_RETURN(double v, ctx.Double(in));
      out.push_back(v);
    }
    return out;
  }
  c10::optional<c10::IValue> iv = torch::jit::toIValue(value);
  if (iv.has_value() && iv->isDoubleList()) return iv->toDoubleVector();
  return absl::InvalidArgumentError(absl::StrCat("onnx: value %", value->debugName(),
                                                 " must be a constant float list"));
}

// The 4 bbox_reg_weights of a box-decoding op (a constant float list).
inline absl::StatusOr<std::vector<double>> BoxRegWeights(const torch::jit::Value* value,
                                                         const LoweringContext& ctx) {
  D2X_ASSIGN_OR_RETURN(std::vector<double> w, ConstantDoubles(value, ctx));
  if (w.size() != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("bbox_reg_weights must have 4 values, got ", w.size()));
  }
  return w;
}

// The largest float <= t: NonMaxSuppression compares float IoUs with a float threshold, while
// core/ops/nms.cc compares the float IoU with the double threshold.
inline float FloorToFloat(double t) {
  float f = static_cast<float>(t);
  if (static_cast<double>(f) > t) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}

// The lowerings of the R-CNN post-processing ops (one lower_<op>.cc each).
void RegisterRpnProposalsLowering(LoweringTable& table);        // lower_rpn_proposals.cc
void RegisterMultilevelRoiAlignLowering(LoweringTable& table);  // lower_multilevel_roi_align.cc
void RegisterBoxPostprocessLowering(LoweringTable& table);      // lower_box_postprocess.cc
void RegisterDetectorPostprocessLowering(LoweringTable& table); // lower_detector_postprocess.cc
void RegisterPasteMasksLowering(LoweringTable& table);          // lower_paste_masks.cc
void RegisterIndexingLowerings(LoweringTable& table);           // lower_indexing.cc
void RegisterBatchedNmsLowering(LoweringTable& table);          // lower_batched_nms.cc

}  // namespace d2x::onnx_format

#endif  // D2X_PLUGINS_FORMAT_ONNX_LOWER_UTIL_H_
