#include "plugins/format/caffe2/c2_op_mapping.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/caffe2_ops/c2_ops.h"
#include "core/util/status_macros.h"

namespace d2x::caffe2_format {
namespace {

using d2x::caffe2::Argument;
using d2x::caffe2::OperatorDef;
using torch::jit::Node;
using torch::jit::Value;

// Writes a constant IValue as an argument; false if its type has no Caffe2 argument form.
bool SetArg(Argument* a, const c10::IValue& iv) {
  if (iv.isBool()) {
    a->set_i(iv.toBool() ? 1 : 0);
  } else if (iv.isInt()) {
    a->set_i(iv.toInt());
  } else if (iv.isDouble()) {
    a->set_f(static_cast<float>(iv.toDouble()));
  } else if (iv.isString()) {
    a->set_s(iv.toStringRef());
  } else if (iv.isIntList()) {
    for (int64_t v : iv.toIntVector()) a->add_ints(v);
  } else if (iv.isDoubleList()) {
    for (double v : iv.toDoubleVector()) a->add_floats(static_cast<float>(v));
  } else {
    return false;
  }
  return true;
}

// ConstantValue, or nullopt when the input is computed by the graph.
c10::optional<c10::IValue> ConstantOf(Value* v) {
  absl::StatusOr<c10::IValue> iv = ConstantValue(v);
  if (!iv.ok()) return c10::nullopt;
  return *std::move(iv);
}

absl::Status ConvertC2Op(Node* node, const std::string& caffe2_type, MappingContext& ctx) {
  const c10::FunctionSchema& schema = node->schema();
  OperatorDef* op = ctx.net->add_op();
  op->set_type(caffe2_type);
  for (size_t i = 0; i < schema.arguments().size(); ++i) {
    const c10::Argument& arg = schema.arguments()[i];
    Value* v = node->input(i);
    const c10::TypePtr& type = arg.type();
    if (type->kind() == c10::TypeKind::TensorType) {
      auto blob = ctx.blob(v);
      if (!blob.ok()) return blob.status();
      op->add_input(*blob);
    } else if (type->kind() == c10::TypeKind::ListType &&
               type->containedType(0)->kind() == c10::TypeKind::TensorType) {
      if (v->node()->kind() != c10::prim::ListConstruct) {
        return absl::UnimplementedError(absl::StrCat(schema.name(), ": argument ", arg.name(),
                                                     " is not a prim::ListConstruct"));
      }
      for (Value* e : v->node()->inputs()) {
        auto blob = ctx.blob(e);
        if (!blob.ok()) return blob.status();
        op->add_input(*blob);
      }
    } else {
      c10::optional<c10::IValue> iv = ConstantOf(v);
      if (!iv || !SetArg(AddArg(op, arg.name()), *iv)) {
        return absl::UnimplementedError(absl::StrCat(
            schema.name(), ": argument ", arg.name(),
            " is not a constant number, list or string (the net must not depend on it)"));
      }
    }
  }
  for (size_t i = 0; i < node->outputs().size(); ++i) {
    op->add_output(ctx.out_name(node->output(i), schema.returns()[i].name()));
  }
  return absl::OkStatus();
}

// The channel count of a value produced by a convolution with a constant weight, possibly
// followed by channel-preserving ops (activations, normalizations).
c10::optional<int64_t> ConvOutputChannels(Value* v) {
  Node* p = v->node();
  std::string k = p->kind().toQualString();
  for (int depth = 0; depth < 8; ++depth) {
    if (k != "aten::relu" && k != "aten::relu_" && k != "aten::group_norm" &&
        k != "aten::batch_norm" && k != "aten::sigmoid") {
      break;
    }
    p = p->input(0)->node();
    k = p->kind().toQualString();
  }
  bool transposed = k == "aten::conv_transpose2d";
  int64_t groups = 1;
  if (k == "aten::_convolution") {
    c10::optional<c10::IValue> t = torch::jit::toIValue(p->input(6));
    c10::optional<c10::IValue> g = torch::jit::toIValue(p->input(8));
    if (!t || !g) return c10::nullopt;
    transposed = t->toBool();
    groups = g->toInt();
  } else if (k == "aten::conv_transpose2d") {
    c10::optional<c10::IValue> g = torch::jit::toIValue(p->input(6));
    if (!g) return c10::nullopt;
    groups = g->toInt();
  } else if (k != "aten::conv2d") {
    return c10::nullopt;
  }
  c10::optional<c10::IValue> w = torch::jit::toIValue(p->input(1));
  if (!w || !w->isTensor() || w->toTensor().dim() != 4) return c10::nullopt;
  return transposed ? w->toTensor().size(1) * groups : w->toTensor().size(0);
}

// interpolate(scale_factor=s, mode="bilinear", align_corners=False) for even s, exactly: edge
// padding by one (PadImage mode "edge") and a depthwise ConvTranspose with the bilinear kernel of
// size 2s (s = 2: (0.25, 0.75, 0.75, 0.25)^2), stride s, pads 3s/2. (detectron2's
// BilinearInterpolation is the same ConvTranspose on zero padding, which is off at the borders.)
absl::Status ConvertBilinearUpsample(Node* node, MappingContext& ctx) {
  // (input, output_size?, align_corners, scale_factors?)
  if (node->inputs().size() != 4) {
    return absl::UnimplementedError("aten::upsample_bilinear2d: only the scale_factors overload");
  }
  c10::optional<c10::IValue> align = torch::jit::toIValue(node->input(2));
  c10::optional<c10::IValue> scales = ConstantOf(node->input(3));
  const bool no_size = node->input(1)->type()->kind() == c10::TypeKind::NoneType;
  const std::vector<double> sv =
      scales && scales->isDoubleList() ? scales->toDoubleVector() : std::vector<double>{};
  const int64_t s = sv.size() == 2 && sv[0] == sv[1] ? static_cast<int64_t>(sv[0]) : 0;
  if (!align || align->toBool() || !no_size || s < 2 || s % 2 != 0 ||
      static_cast<double>(s) != sv[0]) {
    return absl::UnimplementedError(
        "aten::upsample_bilinear2d: only even integer scale factors with align_corners=False "
        "have a Caffe2 mapping");
  }
  c10::optional<int64_t> channels = ConvOutputChannels(node->input(0));
  if (!channels) {
    return absl::UnimplementedError(
        "aten::upsample_bilinear2d: the channel count is unknown (the input must come from a "
        "convolution with a constant weight)");
  }
  auto x = ctx.blob(node->input(0));
  if (!x.ok()) return x.status();
  // The bilinear filter of size 2s: 1 - |i - (s - 0.5)| / s.
  std::vector<float> taps(2 * s);
  for (int64_t i = 0; i < 2 * s; ++i) {
    taps[i] = static_cast<float>(1.0 - std::abs(static_cast<double>(i) - (s - 0.5)) / s);
  }
  const at::Tensor axis = at::tensor(taps, at::kFloat);
  const at::Tensor kernel = (axis.view({2 * s, 1}) * axis.view({1, 2 * s}))
                                .view({1, 1, 2 * s, 2 * s})
                                .repeat({*channels, 1, 1, 1});
  auto weight = ctx.constant("bilinear_x2_kernel", kernel);
  if (!weight.ok()) return weight.status();
  OperatorDef* pad = ctx.net->add_op();
  pad->set_type("PadImage");
  pad->add_input(*x);
  const std::string padded = ctx.fresh_name(*x + "_edge_padded");
  pad->add_output(padded);
  Argument* pad_sizes = AddArg(pad, "pads");
  for (int i = 0; i < 4; ++i) pad_sizes->add_ints(1);
  AddArg(pad, "mode")->set_s("edge");
  AddArg(pad, "order")->set_s("NCHW");
  OperatorDef* op = ctx.net->add_op();
  op->set_type("ConvTranspose");
  op->add_input(padded);
  op->add_input(*weight);
  op->add_output(ctx.out_name(node->output(), ""));
  Argument* kernels = AddArg(op, "kernels");
  kernels->add_ints(2 * s);
  kernels->add_ints(2 * s);
  Argument* strides = AddArg(op, "strides");
  strides->add_ints(s);
  strides->add_ints(s);
  Argument* pads = AddArg(op, "pads");  // output size (H + 1) s - 3s + 2s = H s
  for (int i = 0; i < 4; ++i) pads->add_ints(3 * s / 2);
  Argument* adjs = AddArg(op, "adjs");
  adjs->add_ints(0);
  adjs->add_ints(0);
  AddArg(op, "group")->set_i(*channels);
  AddArg(op, "order")->set_s("NCHW");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<c10::IValue> ConstantValue(Value* v) {
  if (v->node()->kind() == c10::prim::ListConstruct) {
    std::vector<int64_t> ints;
    std::vector<double> doubles;
    bool all_int = true;
    for (Value* e : v->node()->inputs()) {
      absl::StatusOr<c10::IValue> iv = ConstantValue(e);
      if (!iv.ok()) return iv.status();
      if (iv->isInt()) {
        ints.push_back(iv->toInt());
        doubles.push_back(static_cast<double>(iv->toInt()));
      } else if (iv->isDouble()) {
        all_int = false;
        doubles.push_back(iv->toDouble());
      } else {
        return absl::UnimplementedError("non-numeric list argument");
      }
    }
    if (all_int) return c10::IValue(ints);
    return c10::IValue(doubles);
  }
  c10::optional<c10::IValue> iv = torch::jit::toIValue(v);
  if (!iv) {
    return absl::UnimplementedError(absl::StrCat(
        "argument %", v->debugName(), " (from ", v->node()->kind().toQualString(),
        ") is not a constant; only shape-static graphs are supported"));
  }
  return *iv;
}

absl::StatusOr<int64_t> Caffe2DataType(c10::ScalarType type) {
  switch (type) {
    case at::kFloat: return 1;    // FLOAT
    case at::kInt: return 2;      // INT32
    case at::kByte: return 3;     // BYTE
    case at::kBool: return 5;     // BOOL
    case at::kChar: return 7;     // INT8
    case at::kShort: return 9;    // INT16
    case at::kLong: return 10;    // INT64
    case at::kHalf: return 12;    // FLOAT16
    case at::kDouble: return 13;  // DOUBLE
    default:
      return absl::UnimplementedError(
          absl::StrCat("dtype ", c10::toString(type), " has no Caffe2 TensorProto type"));
  }
}

absl::StatusOr<c10::ScalarType> TorchDataType(int64_t caffe2_type) {
  switch (caffe2_type) {
    case 1: return at::kFloat;
    case 2: return at::kInt;
    case 3: return at::kByte;
    case 5: return at::kBool;
    case 7: return at::kChar;
    case 9: return at::kShort;
    case 10: return at::kLong;
    case 12: return at::kHalf;
    case 13: return at::kDouble;
    default:
      return absl::UnimplementedError(
          absl::StrCat("Caffe2 TensorProto data type ", caffe2_type, " is not supported"));
  }
}

absl::Status ConvertCaffe2FlavorNode(Node* node, MappingContext& ctx, bool* handled) {
  *handled = false;
  const std::string k = node->kind().toQualString();
  if (const std::string type = c2ops::Caffe2TypeOf(k); !type.empty()) {
    *handled = true;
    return ConvertC2Op(node, type, ctx);
  }
  if (k == "aten::to") {
    const c10::FunctionSchema& schema = node->schema();
    c10::optional<int> dtype_index = schema.argumentIndexWithName("dtype");
    if (!dtype_index) return absl::OkStatus();  // device moves etc.: not mapped
    *handled = true;
    c10::optional<c10::IValue> iv = torch::jit::toIValue(node->input(*dtype_index));
    if (!iv || !iv->isInt()) {
      return absl::UnimplementedError("aten::to: the dtype is not a constant");
    }
    auto to = Caffe2DataType(static_cast<c10::ScalarType>(iv->toInt()));
    if (!to.ok()) return absl::UnimplementedError(absl::StrCat("aten::to: ", to.status().message()));
    auto x = ctx.blob(node->input(0));
    if (!x.ok()) return x.status();
    OperatorDef* op = ctx.net->add_op();
    op->set_type("Cast");
    op->add_input(*x);
    op->add_output(ctx.out_name(node->output(), ""));
    AddArg(op, "to")->set_i(*to);
    return absl::OkStatus();
  }
  if (k == "aten::batch_norm") {
    // (input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled)
    *handled = true;
    c10::optional<c10::IValue> training = torch::jit::toIValue(node->input(5));
    c10::optional<c10::IValue> eps = torch::jit::toIValue(node->input(7));
    if (!training || !training->isBool() || training->toBool() || !eps || !eps->isDouble()) {
      return absl::UnimplementedError(
          "aten::batch_norm: only inference (training=False, constant eps) maps to SpatialBN");
    }
    OperatorDef* op = ctx.net->add_op();
    op->set_type("SpatialBN");
    for (int i = 0; i < 5; ++i) {
      if (node->input(i)->type()->kind() == c10::TypeKind::NoneType) {
        return absl::UnimplementedError("aten::batch_norm without weight, bias or statistics");
      }
      auto b = ctx.blob(node->input(i));
      if (!b.ok()) return b.status();
      op->add_input(*b);
    }
    op->add_output(ctx.out_name(node->output(), ""));
    AddArg(op, "is_test")->set_i(1);
    AddArg(op, "epsilon")->set_f(static_cast<float>(eps->toDouble()));
    AddArg(op, "order")->set_s("NCHW");
    return absl::OkStatus();
  }
  if (k == "aten::upsample_bilinear2d") {
    *handled = true;
    return ConvertBilinearUpsample(node, ctx);
  }
  if (k == "aten::group_norm") {
    // (input, num_groups, weight, bias, eps, cudnn_enabled) -> Caffe2 GroupNorm (X, gamma, beta)
    *handled = true;
    c10::optional<c10::IValue> groups = torch::jit::toIValue(node->input(1));
    c10::optional<c10::IValue> eps = torch::jit::toIValue(node->input(4));
    if (!groups || !groups->isInt() || !eps || !eps->isDouble()) {
      return absl::UnimplementedError("aten::group_norm: num_groups and eps must be constants");
    }
    OperatorDef* op = ctx.net->add_op();
    op->set_type("GroupNorm");
    for (int i : {0, 2, 3}) {
      if (node->input(i)->type()->kind() == c10::TypeKind::NoneType) {
        return absl::UnimplementedError("aten::group_norm without weight or bias");
      }
      auto b = ctx.blob(node->input(i));
      if (!b.ok()) return b.status();
      op->add_input(*b);
    }
    const std::string out = ctx.out_name(node->output(), "");
    op->add_output(out);
    op->add_output(ctx.fresh_name(out + "_mean"));
    op->add_output(ctx.fresh_name(out + "_inv_std"));
    AddArg(op, "group")->set_i(groups->toInt());
    AddArg(op, "epsilon")->set_f(static_cast<float>(eps->toDouble()));
    AddArg(op, "order")->set_s("NCHW");
    return absl::OkStatus();
  }
  if (k == "aten::unsqueeze") {
    *handled = true;
    c10::optional<c10::IValue> iv = torch::jit::toIValue(node->input(1));
    if (!iv || !iv->isInt()) return absl::UnimplementedError("aten::unsqueeze: dim not constant");
    int64_t dim = iv->toInt();
    if (dim < 0) {
      const int64_t rank = ctx.rank(node->input(0));
      if (rank < 0) return absl::UnimplementedError("aten::unsqueeze: negative dim, unknown rank");
      dim += rank + 1;
    }
    auto x = ctx.blob(node->input(0));
    if (!x.ok()) return x.status();
    OperatorDef* op = ctx.net->add_op();
    op->set_type("ExpandDims");
    op->add_input(*x);
    op->add_output(ctx.out_name(node->output(), ""));
    AddArg(op, "dims")->add_ints(dim);
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status RecordNodeArguments(Node* node, Caffe2Nets* nets) {
  // A constant tensor list: one fill op per tensor in the init net (<name>.<i>) and its length
  // as the predict net's argument <name>.size.
  auto record_tensor_list = [nets](const std::string& name,
                                   const std::vector<at::Tensor>& tensors) -> absl::Status {
    for (size_t t = 0; t < tensors.size(); ++t) {
      auto fill = MakeFillOp(absl::StrCat(name, ".", t), tensors[t]);
      if (!fill.ok()) return fill.status();
      *nets->init_net.add_op() = *std::move(fill);
    }
    Argument* size = nets->predict_net.add_arg();
    size->set_name(absl::StrCat(name, ".size"));
    size->set_i(static_cast<int64_t>(tensors.size()));
    return absl::OkStatus();
  };
  const c10::FunctionSchema& schema = node->schema();
  const std::string op_name = schema.name().substr(schema.name().find("::") + 2);
  for (size_t i = 0; i < schema.arguments().size(); ++i) {
    const std::string name = absl::StrCat(op_name, ".", schema.arguments()[i].name());
    Value* v = node->input(i);
    if (v->node()->kind() == c10::prim::ListConstruct && v->type()->kind() == c10::TypeKind::ListType &&
        v->type()->containedType(0)->kind() == c10::TypeKind::TensorType) {
      std::vector<at::Tensor> tensors;
      for (Value* e : v->node()->inputs()) {
        c10::optional<c10::IValue> iv = torch::jit::toIValue(e);
        if (!iv || !iv->isTensor()) {
          tensors.clear();
          break;
        }
        tensors.push_back(iv->toTensor());
      }
      if (tensors.size() != v->node()->inputs().size()) continue;  // not constant
      D2X_RETURN_IF_ERROR(record_tensor_list(name, tensors));
      continue;
    }
    c10::optional<c10::IValue> iv = ConstantOf(v);
    if (!iv) continue;  // a tensor computed by the graph
    if (iv->isTensorList()) {  // a constant list (frozen graphs fold ListConstructs)
      const std::vector<at::Tensor> tensors = iv->toTensorVector();
      D2X_RETURN_IF_ERROR(record_tensor_list(name, tensors));
      continue;
    }
    if (iv->isTensor()) {
      auto fill = MakeFillOp(name, iv->toTensor());
      if (!fill.ok()) return fill.status();
      *nets->init_net.add_op() = *std::move(fill);
      continue;
    }
    Argument* a = nets->predict_net.add_arg();
    a->set_name(name);
    if (!SetArg(a, *iv)) nets->predict_net.mutable_arg()->RemoveLast();
  }
  return absl::OkStatus();
}

}  // namespace d2x::caffe2_format
