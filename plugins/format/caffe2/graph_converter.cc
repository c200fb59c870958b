#include "plugins/format/caffe2/graph_converter.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/passes/shape_analysis.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "plugins/format/caffe2/c2_op_mapping.h"
#include "plugins/format/caffe2/graph_converter_impl.h"

namespace d2x::caffe2_format {
namespace internal {

absl::StatusOr<Caffe2Nets> Converter::Run(const std::shared_ptr<torch::jit::Graph>& graph_in) {
  std::shared_ptr<torch::jit::Graph> graph = graph_in->copy();
  torch::jit::EliminateDeadCode(graph);
  nets_.predict_net.set_name(options_.net_name);
  nets_.init_net.set_name(options_.net_name + "_init");

  // Inputs.
  std::vector<Value*> inputs;
  for (Value* v : graph->inputs()) {
    if (v->type()->cast<c10::ClassType>()) {
      if (!v->uses().empty()) {
        return absl::InvalidArgumentError(
            "graph uses module attributes (prim::GetAttr); convert a frozen module "
            "(ConvertModule freezes it)");
      }
      continue;
    }
    inputs.push_back(v);
  }
  if (!options_.input_names.empty() && options_.input_names.size() != inputs.size()) {
    return absl::InvalidArgumentError(absl::StrCat("graph has ", inputs.size(), " inputs but ",
                                                   options_.input_names.size(), " input names"));
  }
  if (!options_.sample_inputs.empty()) {
    if (options_.sample_inputs.size() != inputs.size()) {
      return absl::InvalidArgumentError(absl::StrCat("graph has ", inputs.size(), " inputs but ",
                                                     options_.sample_inputs.size(),
                                                     " sample inputs"));
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      inputs[i]->setType(c10::TensorType::create(options_.sample_inputs[i]));
      ranks_[inputs[i]] = options_.sample_inputs[i].dim();
    }
    torch::jit::PropagateInputShapes(graph);
  }
  if (!options_.net_inputs.empty()) return RunCut(graph);
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string name = options_.input_names.empty() ? Sanitize(inputs[i]) : options_.input_names[i];
    names_[inputs[i]] = name;
    nets_.predict_net.add_external_input(name);
  }

  // Outputs: a tensor, or a tuple of tensors.
  std::vector<Value*> outputs;
  for (Value* v : graph->outputs()) {
    if (v->node()->kind() == c10::prim::TupleConstruct) {
      for (Value* e : v->node()->inputs()) outputs.push_back(e);
    } else {
      outputs.push_back(v);
    }
  }
  if (!options_.output_names.empty() && options_.output_names.size() != outputs.size()) {
    return absl::InvalidArgumentError(absl::StrCat("graph has ", outputs.size(),
                                                   " outputs but ", options_.output_names.size(),
                                                   " output names"));
  }
  std::set<Value*> seen;
  for (size_t i = 0; i < outputs.size(); ++i) {
    Value* v = outputs[i];
    if (!options_.output_names.empty()) {
      if (names_.count(v) || seen.count(v) || v->node()->kind() == c10::prim::Constant) {
        return absl::UnimplementedError(absl::StrCat(
            "output ", i, " (", options_.output_names[i],
            ") is a graph input, a constant or a repeated output; not supported yet"));
      }
      names_[v] = options_.output_names[i];
    }
    seen.insert(v);
  }

  for (Node* node : graph->nodes()) {
    absl::Status status = ConvertNode(node);
    if (!status.ok()) return status;
    InferRank(node);
  }
  for (Value* v : outputs) {
    auto blob = Blob(v);
    if (!blob.ok()) return blob.status();
    nets_.predict_net.add_external_output(*blob);
  }
  return std::move(nets_);
}

absl::Status Converter::ConvertNode(Node* node) {
  const c10::Symbol kind = node->kind();
  const std::string k = kind.toQualString();
  if (kind == c10::prim::Constant || kind == c10::prim::ListConstruct ||
      kind == c10::prim::TupleConstruct) {
    return absl::OkStatus();  // consumed as arguments / outputs
  }
#define D2X_ASSIGN(lhs, expr)               \
auto lhs##_or = (expr);                   \
if (!lhs##_or.ok()) return lhs##_or.status(); \
auto lhs = *std::move(lhs##_or)

  if (k == "aten::_convolution" || k == "aten::conv2d") {
    const bool full = k == "aten::_convolution";
    bool transposed = false;
    std::vector<int64_t> output_padding = {0, 0};
    if (full) {
      D2X_ASSIGN(tr, Number(node->input(6), node));
      transposed = tr != 0.0;
      D2X_ASSIGN(op_pad, Ints(node->input(7), node));
      output_padding = Pair(op_pad);
    }
    D2X_ASSIGN(x, Blob(node->input(0)));
    D2X_ASSIGN(w, Blob(node->input(1)));
    D2X_ASSIGN(stride, Ints(node->input(3), node));
    D2X_ASSIGN(padding, Ints(node->input(4), node));
    D2X_ASSIGN(dilation, Ints(node->input(5), node));
    D2X_ASSIGN(groups, Number(node->input(full ? 8 : 6), node));
    auto wsizes = ConcreteSizes(node->input(1));
    if (!wsizes || wsizes->size() != 4) {
      return absl::UnimplementedError(absl::StrCat(k, ": only 2-D convolutions with a known ",
                                                   "weight shape are supported"));
    }
    stride = Pair(stride);
    padding = Pair(padding);
    dilation = Pair(dilation);
    OperatorDef* op = NewOp(transposed ? "ConvTranspose" : "Conv");
    op->add_input(x);
    op->add_input(w);
    if (!IsNone(node->input(2))) {
      D2X_ASSIGN(b, Blob(node->input(2)));
      op->add_input(b);
    }
    op->add_output(OutName(node->output()));
    Ints(op, "kernels", {(*wsizes)[2], (*wsizes)[3]});
    Ints(op, "strides", stride);
    Ints(op, "pads", {padding[0], padding[1], padding[0], padding[1]});
    if (transposed) {
      if (dilation != std::vector<int64_t>{1, 1}) {
        return absl::UnimplementedError(k + ": transposed convolution with dilation != 1 has no "
                                            "Caffe2 ConvTranspose equivalent");
      }
      Ints(op, "adjs", output_padding);
    } else {
      Ints(op, "dilations", dilation);
    }
    AddArg(op, "group")->set_i(static_cast<int64_t>(groups));
    AddArg(op, "order")->set_s("NCHW");
    return absl::OkStatus();
  }
  if (k == "aten::conv_transpose2d") {
    // (input, weight, bias, stride, padding, output_padding, groups, dilation)
    D2X_ASSIGN(x, Blob(node->input(0)));
    D2X_ASSIGN(w, Blob(node->input(1)));
    D2X_ASSIGN(stride, Ints(node->input(3), node));
    D2X_ASSIGN(padding, Ints(node->input(4), node));
    D2X_ASSIGN(output_padding, Ints(node->input(5), node));
    D2X_ASSIGN(groups, Number(node->input(6), node));
    D2X_ASSIGN(dilation, Ints(node->input(7), node));
    auto wsizes = ConcreteSizes(node->input(1));
    if (!wsizes || wsizes->size() != 4 || Pair(dilation) != std::vector<int64_t>{1, 1}) {
      return absl::UnimplementedError(k + ": only 2-D, dilation 1, known weight shape");
    }
    padding = Pair(padding);
    OperatorDef* op = NewOp("ConvTranspose");
    op->add_input(x);
    op->add_input(w);
    if (!IsNone(node->input(2))) {
      D2X_ASSIGN(b, Blob(node->input(2)));
      op->add_input(b);
    }
    op->add_output(OutName(node->output()));
    Ints(op, "kernels", {(*wsizes)[2], (*wsizes)[3]});
    Ints(op, "strides", Pair(stride));
    Ints(op, "pads", {padding[0], padding[1], padding[0], padding[1]});
    Ints(op, "adjs", Pair(output_padding));
    AddArg(op, "group")->set_i(static_cast<int64_t>(groups));
    AddArg(op, "order")->set_s("NCHW");
    return absl::OkStatus();
  }
  if (k == "aten::relu" || k == "aten::relu_" || k == "aten::sigmoid" || k == "aten::sigmoid_") {
    D2X_ASSIGN(x, Blob(node->input(0)));
    OperatorDef* op = NewOp(k.rfind("aten::relu", 0) == 0 ? "Relu" : "Sigmoid");
    op->add_input(x);
    op->add_output(OutName(node->output()));
    return absl::OkStatus();
  }
  if (k == "aten::add" || k == "aten::add_" || k == "aten::sub" || k == "aten::sub_" ||
      k == "aten::mul" || k == "aten::mul_" || k == "aten::div" || k == "aten::div_") {
    std::string type = k.substr(6, 3);
    if (type.size() == 3) type[0] = static_cast<char>(std::toupper(type[0]));
    if (node->inputs().size() == 3 && (type == "Add" || type == "Sub")) {
      D2X_ASSIGN(alpha, Number(node->input(2), node));
      if (alpha != 1.0) return absl::UnimplementedError(k + " with alpha != 1");
    } else if (node->inputs().size() != 2) {
      return absl::UnimplementedError(absl::StrCat(k, " with ", node->inputs().size(),
                                                   " inputs (e.g. rounding_mode)"));
    }
    D2X_ASSIGN(a, Blob(node->input(0)));
    D2X_ASSIGN(b, Blob(node->input(1)));
    OperatorDef* op = NewOp(type);
    op->add_input(a);
    op->add_input(b);
    op->add_output(OutName(node->output()));
    return absl::OkStatus();
  }
  if (k == "aten::max_pool2d") {
    D2X_ASSIGN(x, Blob(node->input(0)));
    D2X_ASSIGN(kernel, Ints(node->input(1), node));
    D2X_ASSIGN(stride, Ints(node->input(2), node));
    D2X_ASSIGN(padding, Ints(node->input(3), node));
    D2X_ASSIGN(dilation, Ints(node->input(4), node));
    D2X_ASSIGN(ceil, Number(node->input(5), node));
    kernel = Pair(kernel);
    stride = stride.empty() ? kernel : Pair(stride);
    padding = Pair(padding);
    if (Pair(dilation) != std::vector<int64_t>{1, 1} || ceil != 0.0) {
      return absl::UnimplementedError(k + " with dilation or ceil_mode has no Caffe2 MaxPool "
                                          "equivalent");
    }
    OperatorDef* op = NewOp("MaxPool");
    op->add_input(x);
    op->add_output(OutName(node->output()));
    Ints(op, "kernels", kernel);
    Ints(op, "strides", stride);
    Ints(op, "pads", {padding[0], padding[1], padding[0], padding[1]});
    AddArg(op, "order")->set_s("NCHW");
    return absl::OkStatus();
  }
  if (k == "aten::upsample_nearest2d") {
    D2X_ASSIGN(x, Blob(node->input(0)));
    double sh = 0, sw = 0;
    if (node->inputs().size() == 3 && !IsNone(node->input(2))) {
      auto iv = Const(node->input(2), node);
      if (!iv.ok()) return iv.status();
      std::vector<double> s;
      if (iv->isDoubleList()) s = iv->toDoubleVector();
      if (s.size() != 2) return absl::UnimplementedError(k + ": expected 2 scale factors");
      sh = s[0];
      sw = s[1];
    } else {
      auto in_t = node->input(0)->type()->cast<c10::TensorType>();
      auto out_t = node->output()->type()->cast<c10::TensorType>();
      auto in_s = in_t ? in_t->sizes().concrete_sizes() : c10::nullopt;
      auto out_s = out_t ? out_t->sizes().concrete_sizes() : c10::nullopt;
      if (!in_s || !out_s || in_s->size() != 4 || out_s->size() != 4) {
        return absl::UnimplementedError(k + ": output_size without known shapes");
      }
      sh = static_cast<double>((*out_s)[2]) / (*in_s)[2];
      sw = static_cast<double>((*out_s)[3]) / (*in_s)[3];
    }
    if (sh != std::floor(sh) || sw != std::floor(sw) || sh < 1 || sw < 1) {
      return absl::UnimplementedError(absl::StrCat(
          k, ": non-integer scale ", sh, "x", sw,
          " (Caffe2 ResizeNearest and torch round differently there)"));
    }
    OperatorDef* op = NewOp("ResizeNearest");
    op->add_input(x);
    op->add_output(OutName(node->output()));
    AddArg(op, "height_scale")->set_f(static_cast<float>(sh));
    AddArg(op, "width_scale")->set_f(static_cast<float>(sw));
    AddArg(op, "order")->set_s("NCHW");
    return absl::OkStatus();
  }
  if (k == "aten::cat") {
    Value* list = node->input(0);
    if (list->node()->kind() != c10::prim::ListConstruct) {
      return absl::UnimplementedError(k + ": tensor list is not a prim::ListConstruct");
    }
    D2X_ASSIGN(axis, Number(node->input(1), node));
    int64_t ax = static_cast<int64_t>(axis);
    if (ax < 0) {
      auto rank = Rank(node->output());
      if (!rank) return absl::UnimplementedError(k + ": negative dim with unknown rank");
      ax += *rank;
    }
    OperatorDef* op = NewOp("Concat");
    for (Value* e : list->node()->inputs()) {
      D2X_ASSIGN(b, Blob(e));
      op->add_input(b);
    }
    std::string out = OutName(node->output());
    op->add_output(out);
    op->add_output(out + "_split_info");
    AddArg(op, "axis")->set_i(ax);
    return absl::OkStatus();
  }
  if (k == "aten::linear") {
    if (Rank(node->input(0)) != c10::optional<int64_t>(2)) {
      return absl::UnimplementedError(k + ": only 2-D inputs map to Caffe2 FC");
    }
    D2X_ASSIGN(x, Blob(node->input(0)));
    D2X_ASSIGN(w, Blob(node->input(1)));
    if (IsNone(node->input(2))) return absl::UnimplementedError(k + " without bias");
    D2X_ASSIGN(b, Blob(node->input(2)));
    OperatorDef* op = NewOp("FC");
    op->add_input(x);
    op->add_input(w);
    op->add_input(b);
    op->add_output(OutName(node->output()));
    return absl::OkStatus();
  }
  if (k == "aten::flatten") {
    D2X_ASSIGN(start, Number(node->input(1), node));
    D2X_ASSIGN(end, Number(node->input(2), node));
    auto rank = Rank(node->input(0));
    if (start != 1 || !(end == -1 || (rank && end == *rank - 1))) {
      return absl::UnimplementedError(k + ": only flatten(x, 1, -1) maps to Caffe2 Flatten");
    }
    D2X_ASSIGN(x, Blob(node->input(0)));
    OperatorDef* op = NewOp("Flatten");
    op->add_input(x);
    op->add_output(OutName(node->output()));
    AddArg(op, "axis")->set_i(1);
    return absl::OkStatus();
  }
  if (k == "aten::softmax") {
    D2X_ASSIGN(dim, Number(node->input(1), node));
    auto rank = Rank(node->input(0));
    if (!rank || !(dim == -1 || dim == *rank - 1)) {
      return absl::UnimplementedError(k + ": only softmax over the last dim of a known-rank "
                                          "tensor maps to Caffe2 Softmax");
    }
    if (node->inputs().size() > 2 && !IsNone(node->input(2))) {
      return absl::UnimplementedError(k + " with dtype");
    }
    D2X_ASSIGN(x, Blob(node->input(0)));
    OperatorDef* op = NewOp("Softmax");
    op->add_input(x);
    op->add_output(OutName(node->output()));
    AddArg(op, "axis")->set_i(*rank - 1);
    return absl::OkStatus();
  }
  if (k == "d2x::roi_align") {
    D2X_ASSIGN(x, Blob(node->input(0)));
    D2X_ASSIGN(rois, Blob(node->input(1)));
    D2X_ASSIGN(scale, Number(node->input(2), node));
    D2X_ASSIGN(ph, Number(node->input(3), node));
    D2X_ASSIGN(pw, Number(node->input(4), node));
    D2X_ASSIGN(sr, Number(node->input(5), node));
    D2X_ASSIGN(aligned, Number(node->input(6), node));
    OperatorDef* op = NewOp("RoIAlign");
    op->add_input(x);
    op->add_input(rois);
    op->add_output(OutName(node->output()));
    AddArg(op, "order")->set_s("NCHW");
    AddArg(op, "spatial_scale")->set_f(static_cast<float>(scale));
    AddArg(op, "pooled_h")->set_i(static_cast<int64_t>(ph));
    AddArg(op, "pooled_w")->set_i(static_cast<int64_t>(pw));
    AddArg(op, "sampling_ratio")->set_i(static_cast<int64_t>(sr));
    AddArg(op, "aligned")->set_i(aligned != 0.0 ? 1 : 0);
    return absl::OkStatus();
  }
#undef D2X_ASSIGN
  MappingContext context;
  context.blob = [this](Value* v) { return Blob(v); };
  context.out_name = [this](Value* v, const std::string& preferred) {
    return OutName(v, preferred);
  };
  context.rank = [this](Value* v) -> int64_t {
    auto r = Rank(v);
    return r ? *r : -1;
  };
  context.fresh_name = [this](const std::string& preferred) {
    std::string name = preferred;
    for (int k = 1; used_.count(name); ++k) name = absl::StrCat(preferred, "_", k);
    used_.insert(name);
    return name;
  };
  context.constant = [this](const std::string& hint,
                            const at::Tensor& t) -> absl::StatusOr<std::string> {
    (void)hint;
    std::string name = absl::StrCat("_d2x_const_", const_count_++);
    auto fill = MakeFillOp(name, t);
    if (!fill.ok()) return fill.status();
    *nets_.init_net.add_op() = *std::move(fill);
    nets_.predict_net.add_external_input(name);
    return name;
  };
  context.net = &nets_.predict_net;
  bool handled = false;
  absl::Status mapped = ConvertCaffe2FlavorNode(node, context, &handled);
  if (handled) return mapped;
  return absl::UnimplementedError(absl::StrCat("no Caffe2 mapping for graph node ", k,
                                               " (output %", node->outputs().empty() ? "" :
                                               node->output(0)->debugName(), ")"));
}

}  // namespace internal


absl::StatusOr<Caffe2Nets> ConvertGraph(const std::shared_ptr<torch::jit::Graph>& graph,
                                        const ConvertOptions& options) {
  try {
    internal::Converter converter(options);
    return converter.Run(graph);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("Caffe2 conversion failed: ", e.what()));
  }
}

absl::StatusOr<Caffe2Nets> ConvertModule(const torch::jit::Module& module,
                                         const ConvertOptions& options) {
  try {
    torch::jit::Module frozen = torch::jit::freeze_module(module);
    std::shared_ptr<torch::jit::Graph> graph = frozen.get_method("forward").graph()->copy();
    torch::jit::Inline(*graph);
    return ConvertGraph(graph, options);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("Caffe2 conversion failed: ", e.what()));
  }
}

}  // namespace d2x::caffe2_format
