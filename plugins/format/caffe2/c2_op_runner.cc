#include "plugins/format/caffe2/c2_op_runner.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/caffe2_ops/c2_ops.h"
#include "plugins/format/caffe2/c2_op_mapping.h"

namespace d2x::caffe2_format {
namespace {

using d2x::caffe2::Argument;
using d2x::caffe2::OperatorDef;

// The IValue of argument `a` for a schema argument of type `type`.
absl::StatusOr<c10::IValue> ArgValue(const Argument& a, const c10::TypePtr& type) {
  switch (type->kind()) {
    case c10::TypeKind::BoolType:
      return c10::IValue(a.i() != 0);
    case c10::TypeKind::IntType:
      return c10::IValue(static_cast<int64_t>(a.i()));
    case c10::TypeKind::FloatType:
      return c10::IValue(static_cast<double>(a.f()));
    case c10::TypeKind::StringType:
      return c10::IValue(a.s());
    case c10::TypeKind::ListType: {
      const c10::TypeKind element = type->containedType(0)->kind();
      if (element == c10::TypeKind::IntType) {
        return c10::IValue(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
      }
      if (element == c10::TypeKind::FloatType) {
        return c10::IValue(std::vector<double>(a.floats().begin(), a.floats().end()));
      }
      break;
    }
    default:
      break;
  }
  return absl::UnimplementedError(
      absl::StrCat("argument ", a.name(), " has a schema type (", type->str(),
                   ") that Caffe2 arguments cannot hold"));
}

absl::StatusOr<std::vector<at::Tensor>> RunC2Op(const OperatorDef& op, const std::string& name,
                                                const std::vector<at::Tensor>& inputs) {
  const c10::OperatorHandle handle = c10::Dispatcher::singleton().findSchemaOrThrow(name.c_str(), "");
  const c10::FunctionSchema& schema = handle.schema();
  // Tensor inputs in schema order; a Tensor[] argument takes what the plain tensors leave.
  size_t plain = 0;
  for (const c10::Argument& arg : schema.arguments()) {
    if (arg.type()->kind() == c10::TypeKind::TensorType) ++plain;
  }
  if (inputs.size() < plain) {
    return absl::InvalidArgumentError(absl::StrCat(op.type(), " needs at least ", plain,
                                                   " inputs, got ", inputs.size()));
  }
  const size_t list_size = inputs.size() - plain;
  torch::jit::Stack stack;
  size_t next = 0;
  bool had_list = false;
  for (const c10::Argument& arg : schema.arguments()) {
    const c10::TypePtr& type = arg.type();
    if (type->kind() == c10::TypeKind::TensorType) {
      stack.emplace_back(inputs[next++]);
    } else if (type->kind() == c10::TypeKind::ListType &&
               type->containedType(0)->kind() == c10::TypeKind::TensorType) {
      std::vector<at::Tensor> list(inputs.begin() + next, inputs.begin() + next + list_size);
      next += list_size;
      had_list = true;
      stack.emplace_back(list);
    } else {
      const Argument* a = FindArg(op, arg.name());
      if (a == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("missing argument ", arg.name()));
      }
      auto value = ArgValue(*a, type);
      if (!value.ok()) return value.status();
      stack.push_back(*std::move(value));
    }
  }
  if (!had_list && list_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat(op.type(), " takes ", plain, " inputs, got ",
                                                   inputs.size()));
  }
  if (static_cast<size_t>(op.output_size()) != schema.returns().size()) {
    return absl::InvalidArgumentError(absl::StrCat(op.type(), " has ", schema.returns().size(),
                                                   " outputs, the op lists ", op.output_size()));
  }
  handle.callBoxed(&stack);
  std::vector<at::Tensor> outputs;
  for (const c10::IValue& v : stack) outputs.push_back(v.toTensor());
  return outputs;
}

}  // namespace

absl::StatusOr<std::vector<at::Tensor>> RunCaffe2FlavorOp(const OperatorDef& op,
                                                          const std::vector<at::Tensor>& inputs,
                                                          bool* handled) {
  *handled = true;
  const std::string& type = op.type();
  if (const std::string name = c2ops::D2xOpOf(type); !name.empty()) {
    return RunC2Op(op, name, inputs);
  }
  auto one = [&](size_t n) -> absl::Status {
    if (inputs.size() != n || op.output_size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(type, " takes ", n, " input(s) and 1 output"));
    }
    return absl::OkStatus();
  };
  if (type == "Copy" || type == "AliasWithName") {
    if (auto s = one(1); !s.ok()) return s;
    return std::vector<at::Tensor>{inputs[0].clone()};
  }
  if (type == "SpatialBN") {
    if (inputs.size() != 5 || op.output_size() != 1) {
      return absl::InvalidArgumentError("SpatialBN (is_test) takes 5 inputs and 1 output");
    }
    const Argument* is_test = FindArg(op, "is_test");
    if (is_test == nullptr || is_test->i() == 0) {
      return absl::UnimplementedError("SpatialBN: only is_test=1 is supported");
    }
    const Argument* order = FindArg(op, "order");
    if (order != nullptr && order->s() != "NCHW") {
      return absl::UnimplementedError("SpatialBN: only order NCHW is supported");
    }
    const Argument* eps = FindArg(op, "epsilon");
    const double epsilon = eps != nullptr && eps->has_f() ? eps->f() : 1e-5;
    return std::vector<at::Tensor>{at::batch_norm(inputs[0], inputs[1], inputs[2], inputs[3],
                                                  inputs[4], /*training=*/false, 0.1, epsilon,
                                                  /*cudnn_enabled=*/true)};
  }
  if (type == "GroupNorm") {
    if (inputs.size() != 3 || op.output_size() < 1) {
      return absl::InvalidArgumentError("GroupNorm takes 3 inputs (X, gamma, beta)");
    }
    const Argument* group = FindArg(op, "group");
    const Argument* eps = FindArg(op, "epsilon");
    const Argument* order = FindArg(op, "order");
    if (group == nullptr || (order != nullptr && order->s() != "NCHW")) {
      return absl::InvalidArgumentError("GroupNorm: needs argument group (order NCHW)");
    }
    const at::Tensor y = at::group_norm(inputs[0], group->i(), inputs[1], inputs[2],
                                        eps != nullptr && eps->has_f() ? eps->f() : 1e-5, true);
    std::vector<at::Tensor> outs = {y};
    // mean and inv_std outputs, per (N, group).
    if (op.output_size() == 3) {
      const at::Tensor grouped =
          inputs[0].reshape({inputs[0].size(0), group->i(), -1});
      const at::Tensor mean = grouped.mean(-1);
      const at::Tensor var = grouped.var(-1, /*unbiased=*/false);
      outs.push_back(mean);
      outs.push_back(at::rsqrt(var + (eps != nullptr && eps->has_f() ? eps->f() : 1e-5)));
    }
    return outs;
  }
  if (type == "PadImage") {
    if (auto s = one(1); !s.ok()) return s;
    const Argument* mode = FindArg(op, "mode");
    const Argument* order = FindArg(op, "order");
    const Argument* pads = FindArg(op, "pads");
    if ((order != nullptr && order->s() != "NCHW") || pads == nullptr || pads->ints_size() != 4) {
      return absl::UnimplementedError("PadImage: only order NCHW with pads [t, l, b, r]");
    }
    const std::vector<int64_t> p = {pads->ints(1), pads->ints(3), pads->ints(0), pads->ints(2)};
    const std::string m = mode == nullptr ? "constant" : mode->s();
    if (m == "edge") return std::vector<at::Tensor>{at::replication_pad2d(inputs[0], p)};
    if (m == "reflect") return std::vector<at::Tensor>{at::reflection_pad2d(inputs[0], p)};
    if (m == "constant") {
      const Argument* value = FindArg(op, "value");
      return std::vector<at::Tensor>{
          at::constant_pad_nd(inputs[0], p, value != nullptr ? value->f() : 0.0)};
    }
    return absl::UnimplementedError(absl::StrCat("PadImage: unknown mode ", m));
  }
  if (type == "Cast") {
    if (auto s = one(1); !s.ok()) return s;
    const Argument* to = FindArg(op, "to");
    if (to == nullptr) return absl::InvalidArgumentError("Cast: missing argument to");
    auto dtype = TorchDataType(to->i());
    if (!dtype.ok()) return dtype.status();
    return std::vector<at::Tensor>{inputs[0].to(*dtype)};
  }
  if (type == "ExpandDims") {
    if (auto s = one(1); !s.ok()) return s;
    const Argument* dims = FindArg(op, "dims");
    if (dims == nullptr) return absl::InvalidArgumentError("ExpandDims: missing argument dims");
    std::vector<int64_t> d(dims->ints().begin(), dims->ints().end());
    std::sort(d.begin(), d.end());
    at::Tensor x = inputs[0];
    for (int64_t dim : d) {
      if (dim < 0 || dim > x.dim()) {
        return absl::InvalidArgumentError(absl::StrCat("ExpandDims: dim ", dim, " out of range"));
      }
      x = x.unsqueeze(dim);
    }
    return std::vector<at::Tensor>{x};
  }
  *handled = false;
  return std::vector<at::Tensor>{};
}

}  // namespace d2x::caffe2_format
