#include "plugins/format/caffe2/onnx_caffe2.h"

#include <ATen/ATen.h>
#include <google/protobuf/text_format.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace d2x::caffe2_format {
namespace {

using d2x::caffe2::Argument;
using d2x::caffe2::OperatorDef;

constexpr char kArgPrefix[] = "caffe2_arg:";

// A standard op: Caffe2 type, ONNX op type, argument renames (Caffe2 -> ONNX; arguments not
// listed are dropped when `drop_others`, e.g. "order").
struct StandardOp {
  const char* caffe2;
  const char* onnx;
  std::vector<std::pair<std::string, std::string>> renames;
};

const std::vector<StandardOp>& StandardOps() {
  static const std::vector<StandardOp> kOps = {
      {"Conv", "Conv",
       {{"kernels", "kernel_shape"}, {"strides", "strides"}, {"pads", "pads"},
        {"dilations", "dilations"}, {"group", "group"}}},
      {"ConvTranspose", "ConvTranspose",
       {{"kernels", "kernel_shape"}, {"strides", "strides"}, {"pads", "pads"},
        {"adjs", "output_padding"}, {"group", "group"}}},
      {"MaxPool", "MaxPool", {{"kernels", "kernel_shape"}, {"strides", "strides"}, {"pads", "pads"}}},
      {"Relu", "Relu", {}},
      {"Sigmoid", "Sigmoid", {}},
      {"Add", "Add", {}},
      {"Sub", "Sub", {}},
      {"Mul", "Mul", {}},
      {"Div", "Div", {}},
      {"Concat", "Concat", {{"axis", "axis"}}},
      {"Flatten", "Flatten", {{"axis", "axis"}}},
      {"Softmax", "Softmax", {{"axis", "axis"}}},
      {"FC", "Gemm", {}},
      {"SpatialBN", "BatchNormalization", {{"epsilon", "epsilon"}}},
      {"Cast", "Cast", {{"to", "to"}}},
      {"Copy", "Identity", {}},
  };
  return kOps;
}

// Caffe2 TensorProto.DataType <-> ONNX TensorProto.DataType.
const std::vector<std::pair<int64_t, int64_t>>& DataTypes() {
  static const std::vector<std::pair<int64_t, int64_t>> kTypes = {
      {1, 1}, {2, 6}, {3, 2}, {5, 9}, {7, 3}, {9, 5}, {10, 7}, {12, 10}, {13, 11}};
  return kTypes;
}

absl::StatusOr<int64_t> MapType(int64_t t, bool to_onnx) {
  for (const auto& [c2, ox] : DataTypes()) {
    if ((to_onnx ? c2 : ox) == t) return to_onnx ? ox : c2;
  }
  return absl::UnimplementedError(absl::StrCat("Cast: data type ", t, " has no mapping"));
}

void ArgToAttribute(const Argument& a, const std::string& name, onnx::AttributeProto* attr) {
  attr->set_name(name);
  if (a.has_i()) {
    attr->set_type(onnx::AttributeProto::INT);
    attr->set_i(a.i());
  } else if (a.has_f()) {
    attr->set_type(onnx::AttributeProto::FLOAT);
    attr->set_f(a.f());
  } else if (a.has_s()) {
    attr->set_type(onnx::AttributeProto::STRING);
    attr->set_s(a.s());
  } else if (a.floats_size() > 0) {
    attr->set_type(onnx::AttributeProto::FLOATS);
    for (float v : a.floats()) attr->add_floats(v);
  } else {
    attr->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : a.ints()) attr->add_ints(v);
  }
}

void AttributeToArg(const onnx::AttributeProto& attr, const std::string& name, Argument* a) {
  a->set_name(name);
  switch (attr.type()) {
    case onnx::AttributeProto::INT: a->set_i(attr.i()); break;
    case onnx::AttributeProto::FLOAT: a->set_f(attr.f()); break;
    case onnx::AttributeProto::STRING: a->set_s(attr.s()); break;
    case onnx::AttributeProto::FLOATS:
      for (float v : attr.floats()) a->add_floats(v);
      break;
    default:
      for (int64_t v : attr.ints()) a->add_ints(v);
      break;
  }
}

absl::Status TensorToOnnx(const std::string& name, const at::Tensor& t_in,
                          onnx::TensorProto* out) {
  const at::Tensor t = t_in.contiguous();
  out->set_name(name);
  for (int64_t d : t.sizes()) out->add_dims(d);
  int64_t type = 0;
  switch (t.scalar_type()) {
    case at::kFloat: type = onnx::TensorProto::FLOAT; break;
    case at::kInt: type = onnx::TensorProto::INT32; break;
    case at::kLong: type = onnx::TensorProto::INT64; break;
    case at::kBool: type = onnx::TensorProto::BOOL; break;
    default:
      return absl::UnimplementedError(absl::StrCat("initializer ", name, ": dtype ",
                                                   c10::toString(t.scalar_type())));
  }
  out->set_data_type(static_cast<int32_t>(type));
  out->set_raw_data(std::string(static_cast<const char*>(t.data_ptr()), t.nbytes()));
  return absl::OkStatus();
}

absl::StatusOr<at::Tensor> TensorFromOnnx(const onnx::TensorProto& p) {
  at::ScalarType dtype;
  switch (p.data_type()) {
    case onnx::TensorProto::FLOAT: dtype = at::kFloat; break;
    case onnx::TensorProto::INT32: dtype = at::kInt; break;
    case onnx::TensorProto::INT64: dtype = at::kLong; break;
    case onnx::TensorProto::BOOL: dtype = at::kBool; break;
    default:
      return absl::UnimplementedError(
          absl::StrCat("initializer ", p.name(), ": ONNX data type ", p.data_type()));
  }
  std::vector<int64_t> dims(p.dims().begin(), p.dims().end());
  at::Tensor t = at::empty(dims, dtype);
  if (static_cast<size_t>(t.nbytes()) != p.raw_data().size()) {
    return absl::DataLossError(absl::StrCat("initializer ", p.name(), ": ", p.raw_data().size(),
                                            " bytes of raw_data for ", t.nbytes(), " expected"));
  }
  if (t.nbytes() > 0) std::memcpy(t.data_ptr(), p.raw_data().data(), t.nbytes());
  return t;
}

}  // namespace

absl::StatusOr<onnx::ModelProto> NetsToOnnx(const Caffe2Nets& nets) {
  onnx::ModelProto model;
  model.set_ir_version(onnx::IR_VERSION);
  model.set_producer_name("d2x");
  model.set_domain("d2x.caffe2");
  auto* std_opset = model.add_opset_import();
  std_opset->set_domain("");
  std_opset->set_version(13);
  auto* c2_opset = model.add_opset_import();
  c2_opset->set_domain(kCaffe2OnnxDomain);
  c2_opset->set_version(1);
  onnx::GraphProto* graph = model.mutable_graph();
  graph->set_name(nets.predict_net.name());
  std::map<std::string, bool> params;
  for (const OperatorDef& fill : nets.init_net.op()) {
    absl::StatusOr<at::Tensor> t = RunFillOp(fill);
    if (!t.ok()) return t.status();
    if (absl::Status s = TensorToOnnx(fill.output(0), *t, graph->add_initializer()); !s.ok()) {
      return s;
    }
    params[fill.output(0)] = true;
  }
  for (const std::string& in : nets.predict_net.external_input()) {
    if (params.count(in)) continue;
    auto* v = graph->add_input();
    v->set_name(in);
    v->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  }
  for (const std::string& out : nets.predict_net.external_output()) {
    graph->add_output()->set_name(out);
  }
  for (const Argument& a : nets.predict_net.arg()) {
    auto* prop = model.add_metadata_props();
    prop->set_key(absl::StrCat(kArgPrefix, a.name()));
    std::string text;
    google::protobuf::TextFormat::PrintToString(a, &text);
    prop->set_value(text);
  }
  for (int i = 0; i < nets.predict_net.op_size(); ++i) {
    const OperatorDef& op = nets.predict_net.op(i);
    onnx::NodeProto* node = graph->add_node();
    node->set_name(absl::StrCat(op.type(), "_", i));
    for (const std::string& in : op.input()) node->add_input(in);
    const StandardOp* standard = nullptr;
    for (const StandardOp& s : StandardOps()) {
      if (op.type() == s.caffe2) standard = &s;
    }
    if (standard == nullptr) {
      node->set_domain(kCaffe2OnnxDomain);
      node->set_op_type(op.type());
      for (const std::string& out : op.output()) node->add_output(out);
      for (const Argument& a : op.arg()) ArgToAttribute(a, a.name(), node->add_attribute());
      continue;
    }
    node->set_op_type(standard->onnx);
    // Concat's second Caffe2 output (split_info) has no ONNX counterpart.
    const int outputs = op.type() == std::string("Concat") ? 1 : op.output_size();
    for (int k = 0; k < outputs; ++k) node->add_output(op.output(k));
    for (const Argument& a : op.arg()) {
      for (const auto& [from, to] : standard->renames) {
        if (a.name() != from) continue;
        Argument mapped = a;
        if (from == "to") {
          auto t = MapType(a.i(), /*to_onnx=*/true);
          if (!t.ok()) return t.status();
          mapped.set_i(*t);
        }
        ArgToAttribute(mapped, to, node->add_attribute());
      }
    }
    if (op.type() == std::string("FC")) {
      auto* trans_b = node->add_attribute();
      trans_b->set_name("transB");
      trans_b->set_type(onnx::AttributeProto::INT);
      trans_b->set_i(1);
    }
  }
  return model;
}

absl::StatusOr<Caffe2Nets> OnnxToNets(const onnx::ModelProto& model) {
  Caffe2Nets nets;
  const onnx::GraphProto& graph = model.graph();
  nets.predict_net.set_name(graph.name());
  nets.init_net.set_name(graph.name() + "_init");
  for (const onnx::ValueInfoProto& in : graph.input()) {
    nets.predict_net.add_external_input(in.name());
  }
  for (const onnx::TensorProto& init : graph.initializer()) {
    absl::StatusOr<at::Tensor> t = TensorFromOnnx(init);
    if (!t.ok()) return t.status();
    absl::StatusOr<OperatorDef> fill = MakeFillOp(init.name(), *t);
    if (!fill.ok()) return fill.status();
    *nets.init_net.add_op() = *std::move(fill);
    nets.predict_net.add_external_input(init.name());
  }
  for (const onnx::ValueInfoProto& out : graph.output()) {
    nets.predict_net.add_external_output(out.name());
  }
  for (const onnx::StringStringEntryProto& prop : model.metadata_props()) {
    if (prop.key().rfind(kArgPrefix, 0) != 0) continue;
    Argument a;
    if (!google::protobuf::TextFormat::ParseFromString(prop.value(), &a)) {
      return absl::DataLossError(absl::StrCat("metadata ", prop.key(), " is not an Argument"));
    }
    *nets.predict_net.add_arg() = a;
  }
  for (const onnx::NodeProto& node : graph.node()) {
    OperatorDef* op = nets.predict_net.add_op();
    for (const std::string& in : node.input()) op->add_input(in);
    for (const std::string& out : node.output()) op->add_output(out);
    if (node.domain() == kCaffe2OnnxDomain) {
      op->set_type(node.op_type());
      for (const onnx::AttributeProto& attr : node.attribute()) {
        AttributeToArg(attr, attr.name(), op->add_arg());
      }
      continue;
    }
    const StandardOp* standard = nullptr;
    for (const StandardOp& s : StandardOps()) {
      if (node.op_type() == s.onnx && node.domain().empty()) standard = &s;
    }
    if (standard == nullptr) {
      return absl::UnimplementedError(absl::StrCat("ONNX node ", node.name(), ": op ",
                                                   node.domain(), "::", node.op_type(),
                                                   " has no Caffe2 mapping"));
    }
    op->set_type(standard->caffe2);
    if (op->type() == "Concat") op->add_output(node.output(0) + "_split_info");
    for (const onnx::AttributeProto& attr : node.attribute()) {
      for (const auto& [from, to] : standard->renames) {
        if (attr.name() != to) continue;
        Argument* a = op->add_arg();
        AttributeToArg(attr, from, a);
        if (from == "to") {
          auto t = MapType(a->i(), /*to_onnx=*/false);
          if (!t.ok()) return t.status();
          a->set_i(*t);
        }
      }
    }
    if (op->type() == "SpatialBN") AddArg(op, "is_test")->set_i(1);
  }
  return nets;
}

}  // namespace d2x::caffe2_format
