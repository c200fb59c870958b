// Internal to the Caffe2 converter (graph_converter.h): the Converter class, split over
// graph_converter.cc (graph walk, aten / d2x node mappings) and graph_converter_cut.cc (cut mode).
#ifndef D2X_PLUGINS_FORMAT_CAFFE2_GRAPH_CONVERTER_IMPL_H_
#define D2X_PLUGINS_FORMAT_CAFFE2_GRAPH_CONVERTER_IMPL_H_

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "plugins/format/caffe2/c2_op_mapping.h"
#include "plugins/format/caffe2/graph_converter.h"
#include "plugins/format/caffe2/net_io.h"

namespace d2x::caffe2_format::internal {

using d2x::caffe2::Argument;
using d2x::caffe2::NetDef;
using d2x::caffe2::OperatorDef;
using torch::jit::Node;
using torch::jit::Value;

class Converter {
 public:
  explicit Converter(const ConvertOptions& options) : options_(options) {}

  absl::StatusOr<Caffe2Nets> Run(const std::shared_ptr<torch::jit::Graph>& graph_in);

 private:
  static constexpr char kAliasKind[] = "d2x::c2_alias_with_name";

  static std::string AliasName(Node* node) {
    c10::optional<c10::IValue> iv = torch::jit::toIValue(node->input(1));
    return iv && iv->isString() ? iv->toStringRef() : std::string();
  }

  // Cut mode (ConvertOptions::net_inputs): the net between the AliasWithName nodes
  // (graph_converter_cut.cc).
  absl::StatusOr<Caffe2Nets> RunCut(const std::shared_ptr<torch::jit::Graph>& graph);
  // AliasWithName: the producer's output blob takes the alias name (fuse_alias_placeholder).
  absl::Status FuseAlias(Node* node);

  std::string Sanitize(Value* v) {
    std::string name = v->hasDebugName() ? v->debugName() : absl::StrCat("v", v->unique());
    return name;
  }

  static std::string Where(const Node* node) {
    return std::string(node->kind().toQualString());
  }

  // The blob holding tensor value `v`; tensor and number constants become init_net blobs.
  absl::StatusOr<std::string> Blob(Value* v) {
    auto it = names_.find(v);
    if (it != names_.end()) return it->second;
    if (v->node()->kind() == c10::prim::Constant) {
      c10::optional<c10::IValue> iv = torch::jit::toIValue(v);
      at::Tensor t;
      if (iv && iv->isTensor()) {
        t = iv->toTensor();
      } else if (iv && iv->isDouble()) {
        t = at::scalar_tensor(iv->toDouble(), at::kFloat);
      } else if (iv && iv->isInt()) {
        t = at::scalar_tensor(iv->toInt(), at::kLong);
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("constant ", v->debugName(), " used as a tensor is not a tensor/number"));
      }
      std::string name = absl::StrCat("_d2x_const_", const_count_++);
      auto fill = MakeFillOp(name, t);
      if (!fill.ok()) return fill.status();
      *nets_.init_net.add_op() = *std::move(fill);
      nets_.predict_net.add_external_input(name);
      names_[v] = name;
      return name;
    }
    return absl::InternalError(absl::StrCat("value %", v->debugName(), " (from ",
                                            v->node()->kind().toQualString(),
                                            ") has no Caffe2 blob"));
  }

  // Output blob name for a node output (named if it is a graph output).
  std::string OutName(Value* v, const std::string& preferred = "") {
    auto it = names_.find(v);
    if (it != names_.end()) return it->second;
    std::string base = preferred.empty() ? Sanitize(v) : preferred;
    std::string name = base;
    for (int k = 1; used_.count(name); ++k) name = absl::StrCat(base, "_", k);
    used_.insert(name);
    names_[v] = name;
    return name;
  }

  absl::StatusOr<c10::IValue> Const(Value* v, const Node* node) {
    absl::StatusOr<c10::IValue> iv = ConstantValue(v);
    if (!iv.ok()) {
      return absl::UnimplementedError(absl::StrCat(Where(node), ": ", iv.status().message()));
    }
    return iv;
  }

  absl::StatusOr<std::vector<int64_t>> Ints(Value* v, const Node* node) {
    auto iv = Const(v, node);
    if (!iv.ok()) return iv.status();
    if (iv->isIntList()) return iv->toIntVector();
    if (iv->isInt()) return std::vector<int64_t>{iv->toInt()};
    return absl::InvalidArgumentError(absl::StrCat(Where(node), ": expected an int list"));
  }
  absl::StatusOr<double> Number(Value* v, const Node* node) {
    auto iv = Const(v, node);
    if (!iv.ok()) return iv.status();
    if (iv->isDouble()) return iv->toDouble();
    if (iv->isInt()) return static_cast<double>(iv->toInt());
    if (iv->isBool()) return iv->toBool() ? 1.0 : 0.0;
    return absl::InvalidArgumentError(absl::StrCat(Where(node), ": expected a number"));
  }
  bool IsNone(Value* v) { return v->type()->kind() == c10::TypeKind::NoneType; }

  // Sizes from a constant's value or from a complete tensor type.
  static c10::optional<std::vector<int64_t>> ConcreteSizes(Value* v) {
    if (v->node()->kind() == c10::prim::Constant) {
      c10::optional<c10::IValue> iv = torch::jit::toIValue(v);
      if (iv && iv->isTensor()) return iv->toTensor().sizes().vec();
    }
    auto t = v->type()->cast<c10::TensorType>();
    return t ? t->sizes().concrete_sizes() : c10::nullopt;
  }

  // Rank from our own propagation (InferRank), a constant, or the value's tensor type.
  c10::optional<int64_t> Rank(Value* v) {
    auto r = ranks_.find(v);
    if (r != ranks_.end()) return r->second;
    if (v->node()->kind() == c10::prim::Constant) {
      c10::optional<c10::IValue> iv = torch::jit::toIValue(v);
      if (iv && iv->isTensor()) return iv->toTensor().dim();
      if (iv && (iv->isDouble() || iv->isInt())) return 0;
    }
    auto t = v->type()->cast<c10::TensorType>();
    if (!t) return c10::nullopt;
    auto dim = t->dim();
    if (!dim) return c10::nullopt;
    return static_cast<int64_t>(*dim);
  }

  // Output rank of a converted node, from its inputs' ranks (traced graphs often carry no
  // shapes): the mapped ops keep the rank of their first input, except the ones below.
  void InferRank(Node* node) {
    if (node->outputs().size() != 1) return;
    const std::string k = node->kind().toQualString();
    c10::optional<int64_t> rank;
    if (k == "aten::flatten" || k == "aten::linear") {
      rank = 2;
    } else if (k == "d2x::roi_align") {
      rank = 4;
    } else if (k == "aten::unsqueeze") {
      if (auto r = Rank(node->input(0))) rank = *r + 1;
    } else if (k == "aten::cat") {
      Node* list = node->input(0)->node();
      if (list->inputs().size() > 0) rank = Rank(list->input(0));
    } else if (!node->inputs().empty()) {
      rank = Rank(node->input(0));
      if (k.rfind("aten::add", 0) == 0 || k.rfind("aten::sub", 0) == 0 ||
          k.rfind("aten::mul", 0) == 0 || k.rfind("aten::div", 0) == 0) {
        auto other = Rank(node->input(1));
        if (!rank || !other) {
          rank = c10::nullopt;
        } else {
          rank = std::max(*rank, *other);
        }
      }
    }
    if (rank) ranks_[node->output()] = *rank;
  }

  OperatorDef* NewOp(const std::string& type) {
    OperatorDef* op = nets_.predict_net.add_op();
    op->set_type(type);
    return op;
  }

  static void Ints(OperatorDef* op, const std::string& name, const std::vector<int64_t>& v) {
    Argument* a = AddArg(op, name);
    for (int64_t x : v) a->add_ints(x);
  }

  // 2-D spatial list: a single value means both dims.
  static std::vector<int64_t> Pair(std::vector<int64_t> v) {
    if (v.size() == 1) v.push_back(v[0]);
    return v;
  }

  // The aten / d2x node mappings (graph_converter.cc).
  absl::Status ConvertNode(Node* node);

  const ConvertOptions& options_;
  Caffe2Nets nets_;
  std::map<Value*, std::string> names_;
  int const_count_ = 0;
  std::map<Value*, int64_t> ranks_;
  std::set<std::string> used_;  // blob names given to node outputs
};

}  // namespace d2x::caffe2_format::internal

#endif  // D2X_PLUGINS_FORMAT_CAFFE2_GRAPH_CONVERTER_IMPL_H_
