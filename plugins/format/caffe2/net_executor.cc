#include "plugins/format/caffe2/net_executor.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "core/ops/ops.h"
#include "plugins/format/caffe2/c2_op_runner.h"

namespace d2x::caffe2_format {
namespace {

using d2x::caffe2::Argument;
using d2x::caffe2::OperatorDef;

std::string OpLabel(const OperatorDef& op, int index) {
  return absl::StrCat("op #", index, " (", op.type(),
                      op.output_size() ? absl::StrCat(" -> ", op.output(0)) : std::string(), ")");
}

absl::StatusOr<std::vector<int64_t>> IntsArg(const OperatorDef& op, const std::string& name,
                                             std::vector<int64_t> fallback, bool required) {
  const Argument* a = FindArg(op, name);
  if (a == nullptr) {
    if (required) return absl::InvalidArgumentError(absl::StrCat("missing argument ", name));
    return fallback;
  }
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

int64_t IntArg(const OperatorDef& op, const std::string& name, int64_t fallback) {
  const Argument* a = FindArg(op, name);
  return a != nullptr && a->has_i() ? a->i() : fallback;
}

float FloatArg(const OperatorDef& op, const std::string& name, float fallback) {
  const Argument* a = FindArg(op, name);
  return a != nullptr && a->has_f() ? a->f() : fallback;
}

absl::Status CheckOrder(const OperatorDef& op) {
  const Argument* a = FindArg(op, "order");
  if (a != nullptr && a->s() != "NCHW") {
    return absl::UnimplementedError(absl::StrCat("order ", a->s(), " (only NCHW)"));
  }
  return absl::OkStatus();
}

// Caffe2 pads [t, l, b, r] -> symmetric torch padding, or an error.
absl::StatusOr<std::vector<int64_t>> SymmetricPads(const OperatorDef& op) {
  auto pads = IntsArg(op, "pads", {0, 0, 0, 0}, false);
  if (!pads.ok()) return pads.status();
  if (pads->size() != 4 || (*pads)[0] != (*pads)[2] || (*pads)[1] != (*pads)[3]) {
    return absl::UnimplementedError("pads must be 4 symmetric values [t, l, b, r]");
  }
  return std::vector<int64_t>{(*pads)[0], (*pads)[1]};
}

}  // namespace

absl::StatusOr<NetExecutor> NetExecutor::Create(Caffe2Nets nets) {
  NetExecutor ex;
  ex.nets_ = std::move(nets);
  try {
    for (int i = 0; i < ex.nets_.init_net.op_size(); ++i) {
      const OperatorDef& op = ex.nets_.init_net.op(i);
      auto t = RunFillOp(op);
      if (!t.ok()) {
        return absl::Status(t.status().code(),
                            absl::StrCat("init_net ", OpLabel(op, i), ": ", t.status().message()));
      }
      ex.params_[op.output(0)] = *std::move(t);
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("init_net: ", e.what()));
  }
  for (const std::string& name : ex.nets_.predict_net.external_input()) {
    if (!ex.params_.count(name)) ex.input_names_.push_back(name);
  }
  return ex;
}

absl::StatusOr<NetExecutor> NetExecutor::Load(const std::string& dir) {
  auto nets = LoadProtobuf(dir);
  if (!nets.ok()) return nets.status();
  return Create(*std::move(nets));
}

absl::StatusOr<std::vector<at::Tensor>> NetExecutor::Run(const std::vector<at::Tensor>& inputs) {
  if (inputs.size() != input_names_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("net ", nets_.predict_net.name(), " takes ",
                                                   input_names_.size(), " inputs, got ",
                                                   inputs.size()));
  }
  blobs_ = params_;
  for (size_t i = 0; i < inputs.size(); ++i) blobs_[input_names_[i]] = inputs[i];
  at::NoGradGuard no_grad;
  for (int i = 0; i < nets_.predict_net.op_size(); ++i) {
    const OperatorDef& op = nets_.predict_net.op(i);
    absl::Status status;
    try {
      status = RunOp(op, i);
    } catch (const std::exception& e) {
      status = absl::InternalError(e.what());
    }
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat("Caffe2 net ", nets_.predict_net.name(), " ",
                                                      OpLabel(op, i), ": ", status.message()));
    }
  }
  std::vector<at::Tensor> outputs;
  for (const std::string& name : nets_.predict_net.external_output()) {
    auto it = blobs_.find(name);
    if (it == blobs_.end()) {
      return absl::NotFoundError(absl::StrCat("external output blob ", name, " was not produced"));
    }
    outputs.push_back(it->second);
  }
  return outputs;
}

absl::Status NetExecutor::RunOp(const OperatorDef& op, int index) {
  (void)index;
  std::vector<at::Tensor> in;
  for (const std::string& name : op.input()) {
    auto it = blobs_.find(name);
    if (it == blobs_.end()) return absl::NotFoundError(absl::StrCat("input blob ", name, " missing"));
    in.push_back(it->second);
  }
  const std::string& type = op.type();
  auto need = [&](size_t lo, size_t hi, size_t outs) -> absl::Status {
    if (in.size() < lo || in.size() > hi || static_cast<size_t>(op.output_size()) != outs) {
      return absl::InvalidArgumentError(absl::StrCat("expected ", lo, "..", hi, " inputs and ",
                                                     outs, " outputs, got ", in.size(), " and ",
                                                     op.output_size()));
    }
    return absl::OkStatus();
  };
  auto set = [&](int i, at::Tensor t) { blobs_[op.output(i)] = std::move(t); };

  if (type == "Conv" || type == "ConvTranspose") {
    if (auto s = need(2, 3, 1); !s.ok()) return s;
    if (auto s = CheckOrder(op); !s.ok()) return s;
    auto strides = IntsArg(op, "strides", {1, 1}, false);
    auto pads = SymmetricPads(op);
    if (!strides.ok()) return strides.status();
    if (!pads.ok()) return pads.status();
    const int64_t group = IntArg(op, "group", 1);
    c10::optional<at::Tensor> bias;
    if (in.size() == 3) bias = in[2];
    if (type == "Conv") {
      auto dil = IntsArg(op, "dilations", {1, 1}, false);
      if (!dil.ok()) return dil.status();
      set(0, at::conv2d(in[0], in[1], bias, *strides, *pads, *dil, group));
    } else {
      auto adjs = IntsArg(op, "adjs", {0, 0}, false);
      if (!adjs.ok()) return adjs.status();
      set(0, at::conv_transpose2d(in[0], in[1], bias, *strides, *pads, *adjs, group));
    }
    return absl::OkStatus();
  }
  if (type == "Relu" || type == "Sigmoid") {
    if (auto s = need(1, 1, 1); !s.ok()) return s;
    set(0, type == "Relu" ? at::relu(in[0]) : at::sigmoid(in[0]));
    return absl::OkStatus();
  }
  if (type == "Add" || type == "Sub" || type == "Mul" || type == "Div") {
    if (auto s = need(2, 2, 1); !s.ok()) return s;
    if (FindArg(op, "broadcast") != nullptr && IntArg(op, "broadcast", 0) != 0) {
      return absl::UnimplementedError("legacy broadcast=1 semantics are not implemented");
    }
    at::Tensor out = type == "Add"   ? at::add(in[0], in[1])
                     : type == "Sub" ? at::sub(in[0], in[1])
                     : type == "Mul" ? at::mul(in[0], in[1])
                                     : at::div(in[0], in[1]);
    set(0, out);
    return absl::OkStatus();
  }
  if (type == "MaxPool") {
    if (auto s = need(1, 1, 1); !s.ok()) return s;
    if (auto s = CheckOrder(op); !s.ok()) return s;
    auto kernels = IntsArg(op, "kernels", {}, true);
    if (!kernels.ok()) return kernels.status();
    auto strides = IntsArg(op, "strides", {1, 1}, false);
    if (!strides.ok()) return strides.status();
    auto pads = SymmetricPads(op);
    if (!pads.ok()) return pads.status();
    set(0, at::max_pool2d(in[0], *kernels, *strides, *pads));
    return absl::OkStatus();
  }
  if (type == "ResizeNearest") {
    if (auto s = need(1, 1, 1); !s.ok()) return s;
    if (auto s = CheckOrder(op); !s.ok()) return s;
    const double hs = FloatArg(op, "height_scale", 1.f), ws = FloatArg(op, "width_scale", 1.f);
    if (in[0].dim() != 4) return absl::InvalidArgumentError("input must be NCHW");
    if (hs != std::floor(hs) || ws != std::floor(ws)) {
      return absl::UnimplementedError("non-integer scales are not implemented");
    }
    const int64_t oh = static_cast<int64_t>(in[0].size(2) * hs);
    const int64_t ow = static_cast<int64_t>(in[0].size(3) * ws);
    set(0, at::upsample_nearest2d(in[0], {oh, ow}, hs, ws));
    return absl::OkStatus();
  }
  if (type == "Concat") {
    if (in.empty() || op.output_size() < 1 || op.output_size() > 2) {
      return absl::InvalidArgumentError("Concat needs inputs and 1 or 2 outputs");
    }
    if (IntArg(op, "add_axis", 0) != 0) return absl::UnimplementedError("add_axis");
    const int64_t axis = IntArg(op, "axis", 1);
    set(0, at::cat(in, axis));
    if (op.output_size() == 2) {
      std::vector<int32_t> sizes;
      for (const at::Tensor& t : in) sizes.push_back(static_cast<int32_t>(t.size(axis)));
      set(1, at::tensor(sizes, at::kInt));
    }
    return absl::OkStatus();
  }
  if (type == "FC") {
    if (auto s = need(3, 3, 1); !s.ok()) return s;
    const int64_t axis = IntArg(op, "axis", 1);
    at::Tensor x = in[0].flatten(axis).flatten(0, axis - 1);
    set(0, at::linear(x, in[1], in[2]));
    return absl::OkStatus();
  }
  if (type == "Flatten") {
    if (auto s = need(1, 1, 1); !s.ok()) return s;
    const int64_t axis = IntArg(op, "axis", 1);
    const at::Tensor& x = in[0];
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x.size(d);
    set(0, x.reshape({outer, outer == 0 ? 0 : x.numel() / std::max<int64_t>(outer, 1)}));
    return absl::OkStatus();
  }
  if (type == "Softmax") {
    if (auto s = need(1, 1, 1); !s.ok()) return s;
    const int64_t axis = IntArg(op, "axis", 1);
    const at::Tensor& x = in[0];
    // Caffe2 coerces to 2-D at `axis` and normalizes each row.
    at::Tensor flat = x.reshape({x.numel() == 0 ? 0 : -1, [&] {
                                   int64_t inner = 1;
                                   for (int64_t d = axis; d < x.dim(); ++d) inner *= x.size(d);
                                   return inner;
                                 }()});
    set(0, at::softmax(flat, 1).reshape(x.sizes()));
    return absl::OkStatus();
  }
  if (type == "RoIAlign") {
    if (auto s = need(2, 2, 1); !s.ok()) return s;
    if (auto s = CheckOrder(op); !s.ok()) return s;
    if (in[1].dim() != 2 || in[1].size(1) != 5) {
      return absl::InvalidArgumentError("rois must be [R, 5] (batch, x1, y1, x2, y2)");
    }
    set(0, d2x::ops::RoiAlign(in[0], in[1], FloatArg(op, "spatial_scale", 1.f),
                              IntArg(op, "pooled_h", 1), IntArg(op, "pooled_w", 1),
                              IntArg(op, "sampling_ratio", -1), IntArg(op, "aligned", 0) != 0));
    return absl::OkStatus();
  }
  bool handled = false;
  absl::StatusOr<std::vector<at::Tensor>> outputs = RunCaffe2FlavorOp(op, in, &handled);
  if (handled) {
    if (!outputs.ok()) return outputs.status();
    for (size_t i = 0; i < outputs->size(); ++i) set(static_cast<int>(i), (*outputs)[i]);
    return absl::OkStatus();
  }
  return absl::UnimplementedError(absl::StrCat("op type ", type, " is not supported by the d2x ",
                                               "Caffe2 executor"));
}

}  // namespace d2x::caffe2_format
