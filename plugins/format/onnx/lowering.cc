#include "plugins/format/onnx/lowering.h"

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/script.h>

#include <sstream>

#include "absl/strings/str_cat.h"
#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace tj = torch::jit;

absl::StatusOr<int32_t> OnnxType(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return onnx::TensorProto::FLOAT;
    case at::kDouble: return onnx::TensorProto::DOUBLE;
    case at::kLong: return onnx::TensorProto::INT64;
    case at::kInt: return onnx::TensorProto::INT32;
    case at::kBool: return onnx::TensorProto::BOOL;
    case at::kByte: return onnx::TensorProto::UINT8;
    default:
      return absl::UnimplementedError(
          absl::StrCat("onnx: tensor dtype ", c10::toString(type), " has no ONNX lowering"));
  }
}

namespace {

absl::Status TensorToProto(const at::Tensor& tensor, onnx::TensorProto* proto) {
  absl::StatusOr<int32_t> type = OnnxType(tensor.scalar_type());
  if (!type.ok()) return type.status();
  proto->set_data_type(*type);
  for (int64_t d : tensor.sizes()) proto->add_dims(d);
  const at::Tensor c = tensor.contiguous().cpu();
  proto->set_raw_data(std::string(static_cast<const char*>(c.data_ptr()), c.nbytes()));
  return absl::OkStatus();
}

std::string SanitizedHint(std::string hint) {
  for (char& c : hint) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) c = '_';
  }
  return hint.empty() ? "t" : hint;
}

}  // namespace

std::string DescribeNode(const tj::Node& const_node) {
  tj::Node& node = const_cast<tj::Node&>(const_node);
  std::ostringstream where;
  const c10::optional<std::tuple<std::string, size_t, size_t>> loc =
      node.sourceRange().file_line_col();
  if (loc.has_value() && !std::get<0>(*loc).empty()) {
    where << std::get<0>(*loc) << ":" << std::get<1>(*loc) << ":" << std::get<2>(*loc);
  } else if (node.scope() != nullptr && !node.scope()->isBlank()) {
    where << "scope " << node.scope()->namesFromRoot();
  } else {
    where << "no source location recorded";
  }
  std::ostringstream text;
  text << node;
  std::string t = text.str();
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return absl::StrCat(where.str(), "; node: ", t);
}

absl::StatusOr<std::string> LoweringContext::Name(const tj::Value* value) const {
  auto it = names_.find(value);
  if (it == names_.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "onnx: value %", value->debugName(), " (from ", value->node()->kind().toQualString(),
        ") is not an ONNX tensor (a non-tensor constant or an unlowered value)"));
  }
  return it->second;
}

namespace {
absl::StatusOr<c10::IValue> ConstantOf(const tj::Value* value) {
  c10::optional<c10::IValue> iv = tj::toIValue(value);
  if (!iv.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "onnx: value %", value->debugName(), " (from ", value->node()->kind().toQualString(),
        ") must be a constant for the ONNX lowering"));
  }
  return *iv;
}
}  // namespace

absl::StatusOr<int64_t> LoweringContext::Int(const tj::Value* value) const {
  absl::StatusOr<c10::IValue> iv = ConstantOf(value);
  if (!iv.ok()) return iv.status();
  if (!iv->isInt()) return absl::InvalidArgumentError("onnx: expected a constant int");
  return iv->toInt();
}
absl::StatusOr<double> LoweringContext::Double(const tj::Value* value) const {
  absl::StatusOr<c10::IValue> iv = ConstantOf(value);
  if (!iv.ok()) return iv.status();
  if (iv->isDouble()) return iv->toDouble();
  if (iv->isInt()) return static_cast<double>(iv->toInt());
  return absl::InvalidArgumentError("onnx: expected a constant float");
}
absl::StatusOr<bool> LoweringContext::Bool(const tj::Value* value) const {
  absl::StatusOr<c10::IValue> iv = ConstantOf(value);
  if (!iv.ok()) return iv.status();
  if (!iv->isBool()) return absl::InvalidArgumentError("onnx: expected a constant bool");
  return iv->toBool();
}
bool LoweringContext::IsNone(const tj::Value* value) const {
  return value->type()->kind() == c10::TypeKind::NoneType;
}
absl::StatusOr<std::vector<int64_t>> LoweringContext::Ints(const tj::Value* value) const {
  if (value->node()->kind() == c10::prim::ListConstruct) {
    std::vector<int64_t> out;
    for (const tj::Value* in : value->node()->inputs()) {
      absl::StatusOr<int64_t> v = Int(in);
      if (!v.ok()) return v.status();
      out.push_back(*v);
    }
    return out;
  }
  absl::StatusOr<c10::IValue> iv = ConstantOf(value);
  if (!iv.ok()) return iv.status();
  if (iv->isIntList()) return iv->toIntVector();
  if (iv->isInt()) return std::vector<int64_t>{iv->toInt()};
  return absl::InvalidArgumentError("onnx: expected a constant int list");
}

std::string LoweringContext::Fresh(const std::string& hint) {
  const std::string h = SanitizedHint(hint);
  return absl::StrCat(h, "_", counters_[h]++);
}

onnx::NodeProto* LoweringContext::AddNode(const std::string& op_type,
                                          const std::vector<std::string>& inputs,
                                          const std::vector<std::string>& outputs) {
  onnx::NodeProto* node = graph_->add_node();
  node->set_op_type(op_type);
  node->set_name(Fresh(op_type));
  for (const std::string& in : inputs) node->add_input(in);
  for (const std::string& out : outputs) node->add_output(out);
  return node;
}

onnx::TensorProto* LoweringContext::AddInitializer(const std::string& hint) {
  onnx::TensorProto* t = graph_->add_initializer();
  t->set_name(Fresh(hint));
  return t;
}

std::string LoweringContext::AddInt64s(const std::string& hint, const std::vector<int64_t>& v,
                                       bool as_scalar) {
  onnx::TensorProto* t = AddInitializer(hint);
  t->set_data_type(onnx::TensorProto::INT64);
  if (!as_scalar) t->add_dims(static_cast<int64_t>(v.size()));
  for (int64_t x : v) t->add_int64_data(x);
  return t->name();
}

std::string LoweringContext::AddFloats(const std::string& hint, const std::vector<float>& v,
                                       bool as_scalar) {
  onnx::TensorProto* t = AddInitializer(hint);
  t->set_data_type(onnx::TensorProto::FLOAT);
  if (!as_scalar) t->add_dims(static_cast<int64_t>(v.size()));
  for (float x : v) t->add_float_data(x);
  return t->name();
}

// The lowerings of RetinaNet's, Keypoint R-CNN's and PanopticFPN's ops (one lower_<op>.cc each).
void RegisterDenseDetectionsLowering(LoweringTable& table);  // lower_dense_detections.cc
void RegisterSemSegLowering(LoweringTable& table);           // lower_sem_seg.cc
void RegisterKeypointsLowering(LoweringTable& table);        // lower_keypoints.cc
void RegisterPanopticLowering(LoweringTable& table);         // lower_panoptic.cc

const LoweringTable& Lowerings() {
  static const LoweringTable* table = [] {
    auto* t = new LoweringTable();
    RegisterConvLowerings(*t);
    RegisterElementwiseLowerings(*t);
    RegisterShapeLowerings(*t);
    RegisterDetectionLowerings(*t);
    RegisterPreprocessLowerings(*t);
    RegisterRpnProposalsLowering(*t);
    RegisterMultilevelRoiAlignLowering(*t);
    RegisterBoxPostprocessLowering(*t);
    RegisterDetectorPostprocessLowering(*t);
    RegisterPasteMasksLowering(*t);
    RegisterIndexingLowerings(*t);
    RegisterBatchedNmsLowering(*t);
    RegisterDenseDetectionsLowering(*t);
    RegisterSemSegLowering(*t);
    RegisterKeypointsLowering(*t);
    RegisterPanopticLowering(*t);
    return t;
  }();
  return *table;
}

absl::Status CheckModel(onnx::ModelProto& model) {
  try {
    onnx::ShapeInferenceOptions options{/*check_type=*/true, /*error_mode=*/1,
                                        /*enable_data_propagation=*/false};
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("onnx: strict shape inference failed: ", e.what()));
  }
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("onnx: the checker rejected the model: ", e.what()));
  }
  return absl::OkStatus();
}

absl::StatusOr<onnx::ModelProto> LowerGraph(tj::Graph& graph, const LoweringOptions& options) {
  if (options.opset < kMinOpset || options.opset > kMaxOpset) {
    return absl::InvalidArgumentError(absl::StrCat("onnx: opset ", options.opset,
                                                   " is not supported (", kMinOpset, "..",
                                                   kMaxOpset, ")"));
  }
  onnx::ModelProto model;
  model.set_ir_version(8);  // opset 16/17; libonnx 1.12's checker accepts IR <= 8
  model.set_producer_name("d2x");
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(options.opset);
  onnx::GraphProto* g = model.mutable_graph();
  g->set_name(options.graph_name);
  LoweringContext ctx(g, options.opset);

  // Inputs (the module's `self` is not one).
  size_t index = 0;
  for (const tj::Value* in : graph.inputs()) {
    if (in->type()->kind() == c10::TypeKind::ClassType) continue;
    InputSpec spec;
    if (index < options.inputs.size()) spec = options.inputs[index];
    if (spec.name.empty()) spec.name = absl::StrCat("input_", index);
    if (spec.shape.empty()) {
      auto tt = in->type()->cast<c10::TensorType>();
      c10::optional<std::vector<int64_t>> sizes =
          tt ? tt->sizes().concrete_sizes() : c10::nullopt;
      if (!sizes.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "onnx: graph input ", index, " (", spec.name, ") has no known shape; pass it"));
      }
      spec.shape = *sizes;
      if (tt->scalarType().has_value()) {
        absl::StatusOr<int32_t> t = OnnxType(*tt->scalarType());
        if (!t.ok()) return t.status();
        spec.elem_type = *t;
      }
    }
    onnx::ValueInfoProto* vi = g->add_input();
    vi->set_name(spec.name);
    auto* tensor_type = vi->mutable_type()->mutable_tensor_type();
    tensor_type->set_elem_type(spec.elem_type);
    auto* shape = tensor_type->mutable_shape();
    for (size_t d = 0; d < spec.shape.size(); ++d) {
      auto* dim = shape->add_dim();
      if (d < spec.dim_names.size() && !spec.dim_names[d].empty()) {
        dim->set_dim_param(spec.dim_names[d]);
      } else {
        dim->set_dim_value(spec.shape[d]);
      }
    }
    ctx.SetName(in, spec.name);
    ++index;
  }

  const LoweringTable& table = Lowerings();
  for (const tj::Node* node : graph.nodes()) {
    const c10::Symbol kind = node->kind();
    if (kind == c10::prim::Constant) {
      if (node->output()->type()->kind() == c10::TypeKind::TensorType) {
        onnx::TensorProto* t = ctx.AddInitializer("const");
        const at::Tensor value = node->t(c10::attr::value);
        if (absl::Status s = TensorToProto(value, t); !s.ok()) {
          return absl::Status(s.code(), absl::StrCat(s.message(), " (from ", DescribeNode(*node),
                                                     ")"));
        }
        ctx.SetName(node->output(), t->name());
      }
      continue;  // scalar / list constants are read by the lowerings
    }
    if (kind == c10::prim::ListConstruct || kind == c10::prim::TupleConstruct) continue;
    auto it = table.find(kind.toQualString());
    if (it == table.end()) {
      return absl::UnimplementedError(absl::StrCat("onnx: op ", kind.toQualString(),
                                                   " has no ONNX lowering (from ",
                                                   DescribeNode(*node), ")"));
    }
    if (absl::Status s = it->second(*node, ctx); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("onnx: lowering ", kind.toQualString(), ": ",
                                                 s.message(), " (from ", DescribeNode(*node),
                                                 ")"));
    }
  }

  // Outputs: a tuple is flattened.
  std::vector<const tj::Value*> outputs;
  for (const tj::Value* out : graph.outputs()) {
    if (out->node()->kind() == c10::prim::TupleConstruct) {
      for (const tj::Value* v : out->node()->inputs()) outputs.push_back(v);
    } else {
      outputs.push_back(out);
    }
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    absl::StatusOr<std::string> name = ctx.Name(outputs[i]);
    if (!name.ok()) return name.status();
    const std::string wanted =
        i < options.output_names.size() ? options.output_names[i] : absl::StrCat("output_", i);
    // Rename with an Identity so that output names are exactly the manifest's.
    ctx.AddNode("Identity", {*name}, {wanted});
    onnx::ValueInfoProto* vi = g->add_output();
    vi->set_name(wanted);
    auto tt = outputs[i]->type()->cast<c10::TensorType>();
    if (!tt || !tt->scalarType().has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("onnx: output ", i, " (", wanted, ") has no known dtype in the graph"));
    }
    absl::StatusOr<int32_t> type = OnnxType(*tt->scalarType());
    if (!type.ok()) return type.status();
    vi->mutable_type()->mutable_tensor_type()->set_elem_type(*type);
  }
  if (absl::Status s = CheckModel(model); !s.ok()) return s;
  return model;
}

}  // namespace d2x::onnx_format
