// Element-wise ops: relu(_), sigmoid, add(_), sub, mul, div (tensor or scalar operands).
#include <torch/csrc/jit/ir/ir.h>

#include "absl/strings/str_cat.h"
#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace {
namespace tj = torch::jit;

absl::StatusOr<std::string> Operand(const tj::Value* v, const tj::Value* like,
                                    LoweringContext& ctx) {
  if (v->type()->kind() == c10::TypeKind::TensorType) return ctx.Name(v);
  // A scalar constant: an initializer of the other operand's dtype.
  D2X_ASSIGN_OR_RETURN(double value, ctx.Double(v));
  auto tt = like->type()->cast<c10::TensorType>();
  const at::ScalarType type = tt && tt->scalarType() ? *tt->scalarType() : at::kFloat;
  if (type == at::kFloat) return ctx.AddFloats("scalar", {static_cast<float>(value)}, true);
  if (type == at::kLong) return ctx.AddInt64s("scalar", {static_cast<int64_t>(value)}, true);
  return absl::UnimplementedError(
      absl::StrCat("scalar operand for a tensor of dtype ", c10::toString(type)));
}

absl::Status Unary(const tj::Node& node, LoweringContext& ctx, const std::string& op) {
  D2X_ASSIGN_OR_RETURN(std::string x, ctx.Name(node.input(0)));
  const std::string y = ctx.Fresh(op);
  ctx.AddNode(op, {x}, {y});
  ctx.SetName(node.output(), y);
  return absl::OkStatus();
}

// add/sub(self, other, alpha=1), mul/div(self, other).
absl::Status Binary(const tj::Node& node, LoweringContext& ctx, const std::string& op) {
  const auto in = node.inputs();
  if (in.size() >= 3 && (op == "Add" || op == "Sub")) {
    D2X_ASSIGN_OR_RETURN(double alpha, ctx.Double(in[2]));
    if (alpha != 1.0) return absl::UnimplementedError("alpha != 1");
  } else if (in.size() != 2) {
    return absl::UnimplementedError(absl::StrCat("overload with ", in.size(), " inputs"));
  }
  D2X_ASSIGN_OR_RETURN(std::string a, Operand(in[0], in[1], ctx));
  D2X_ASSIGN_OR_RETURN(std::string b, Operand(in[1], in[0], ctx));
  const std::string y = ctx.Fresh(op);
  ctx.AddNode(op, {a, b}, {y});
  ctx.SetName(node.output(), y);
  return absl::OkStatus();
}

}  // namespace

void RegisterElementwiseLowerings(LoweringTable& table) {
  for (const char* kind : {"aten::relu", "aten::relu_"}) {
    table[kind] = [](const tj::Node& n, LoweringContext& c) { return Unary(n, c, "Relu"); };
  }
  for (const char* kind : {"aten::sigmoid", "aten::sigmoid_"}) {
    table[kind] = [](const tj::Node& n, LoweringContext& c) -> absl::Status {
      D2X_ASSIGN_OR_RETURN(std::string x, c.Name(n.input(0)));
      OnnxBuilder b(c);
      c.SetName(n.output(), b.TorchSigmoid(x));
      return absl::OkStatus();
    };
  }
  for (const auto& [kinds, op] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"aten::add", "aten::add_"}, "Add"},
           {{"aten::sub", "aten::sub_"}, "Sub"},
           {{"aten::mul", "aten::mul_"}, "Mul"},
           {{"aten::div", "aten::div_"}, "Div"}}) {
    for (const std::string& kind : kinds) {
      const std::string o = op;
      table[kind] = [o](const tj::Node& n, LoweringContext& c) { return Binary(n, c, o); };
    }
  }
}

}  // namespace d2x::onnx_format
