// The converter's cut mode (ConvertOptions::net_inputs): the net between AliasWithName marks.
#include <torch/csrc/jit/ir/constants.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "plugins/format/caffe2/c2_op_mapping.h"
#include "plugins/format/caffe2/graph_converter_impl.h"

namespace d2x::caffe2_format::internal {

absl::StatusOr<Caffe2Nets> Converter::RunCut(const std::shared_ptr<torch::jit::Graph>& graph) {
  std::map<std::string, Value*> input_aliases;
  std::vector<Node*> output_aliases;
  for (Node* node : graph->nodes()) {
    if (std::string(node->kind().toQualString()) != kAliasKind) continue;
    const std::string name = AliasName(node);
    if (std::find(options_.net_inputs.begin(), options_.net_inputs.end(), name) !=
        options_.net_inputs.end()) {
      input_aliases[name] = node->output();
    } else {
      output_aliases.push_back(node);
    }
  }
  for (const std::string& name : options_.net_inputs) {
    // A net input the net does not use (e.g. RetinaNet's im_info) is still declared.
    auto it = input_aliases.find(name);
    if (it != input_aliases.end()) names_[it->second] = name;
    used_.insert(name);
    nets_.predict_net.add_external_input(name);
  }
  if (output_aliases.empty()) {
    return absl::InvalidArgumentError("cut mode: the graph has no output AliasWithName nodes");
  }
  for (Node* node : graph->nodes()) InferRank(node);
  // What the outputs need, stopping at the input aliases.
  std::set<Node*> needed;
  std::vector<Node*> stack(output_aliases.begin(), output_aliases.end());
  std::set<Value*> cut_inputs;
  for (const auto& [name, v] : input_aliases) cut_inputs.insert(v);
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    if (!needed.insert(n).second) continue;
    for (Value* v : n->inputs()) {
      if (cut_inputs.count(v) || v->node()->kind() == c10::prim::Param) continue;
      stack.push_back(v->node());
    }
  }
  for (Node* node : graph->nodes()) {
    if (!needed.count(node)) continue;
    absl::Status status = std::string(node->kind().toQualString()) == kAliasKind
                              ? FuseAlias(node)
                              : ConvertNode(node);
    if (!status.ok()) return status;
    InferRank(node);
  }
  for (Node* node : output_aliases) {
    nets_.predict_net.add_external_output(names_.at(node->output()));
  }
  for (Node* node : graph->nodes()) {
    if (needed.count(node)) continue;
    const std::string k = node->kind().toQualString();
    if (std::find(options_.record_ops.begin(), options_.record_ops.end(), k) !=
        options_.record_ops.end()) {
      if (absl::Status s = RecordNodeArguments(node, &nets_); !s.ok()) return s;
    }
  }
  return std::move(nets_);
}

// AliasWithName: the producer's output blob takes the alias name (fuse_alias_placeholder).
absl::Status Converter::FuseAlias(Node* node) {
  const std::string name = AliasName(node);
  if (name.empty()) return absl::InvalidArgumentError("AliasWithName without a constant name");
  auto blob = Blob(node->input(0));
  if (!blob.ok()) return blob.status();
  bool produced = false;
  for (auto& op : *nets_.predict_net.mutable_op()) {
    for (auto& out : *op.mutable_output()) produced = produced || out == *blob;
  }
  if (!produced || used_.count(name)) {
    // An input, a parameter or a second alias of the same blob: copy it.
    OperatorDef* op = NewOp("Copy");
    op->add_input(*blob);
    op->add_output(name);
  } else {
    for (auto& op : *nets_.predict_net.mutable_op()) {
      for (auto& in : *op.mutable_input()) {
        if (in == *blob) in = name;
      }
      for (auto& out : *op.mutable_output()) {
        if (out == *blob) out = name;
      }
    }
    for (auto& [value, blob_name] : names_) {
      if (blob_name == *blob) blob_name = name;
    }
  }
  used_.insert(name);
  names_[node->output()] = name;
  return absl::OkStatus();
}

}  // namespace d2x::caffe2_format::internal
