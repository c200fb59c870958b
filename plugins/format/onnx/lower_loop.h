// ONNX Loop bodies for the per-image / per-roi lowerings (lower_sem_seg.cc, lower_keypoints.cc,
// lower_panoptic.cc): a subgraph built with its own LoweringContext / OnnxBuilder, whose locally
// defined names are prefixed when it is attached so they never shadow the outer graph's names
// (the checker rejects that). Outer-scope tensors are referenced by name.
#ifndef D2X_PLUGINS_FORMAT_ONNX_LOWER_LOOP_H_
#define D2X_PLUGINS_FORMAT_ONNX_LOWER_LOOP_H_

#include <map>
#include <string>
#include <vector>

#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {

// A body output: name, elem type and rank (the checker wants a shape); `dims` gives static sizes
// (-1 = unknown) when known, which also shapes the Loop's output after zero iterations.
struct BodyOutput {
  std::string name;
  int32_t type;
  int rank;
  std::vector<int64_t> dims = {};
};

class LoopBody {
 public:
  // A body with inputs (iteration int64 scalar, condition bool scalar) and `carried` loop-carried
  // tensors (hint, elem type, rank; their sizes may change between iterations).
  LoopBody(LoweringContext& outer, const std::string& prefix,
           const std::vector<BodyOutput>& carried = {})
      : outer_(outer), prefix_(outer.Fresh(prefix)), ctx_(&graph_, outer.opset()), b_(ctx_) {
    AddInput("iter", onnx::TensorProto::INT64, 0);
    AddInput("cond_in", onnx::TensorProto::BOOL, 0);
    for (const BodyOutput& c : carried) AddInput(c.name, c.type, c.rank);
  }

  OnnxBuilder& b() { return b_; }
  LoweringContext& ctx() { return ctx_; }
  const std::string& iter() const { return graph_.input(0).name(); }
  const std::string& cond_in() const { return graph_.input(1).name(); }
  // An outer-scope tensor, for use in the body (every outer reference must go through this, so
  // that it is not mistaken for a body-local name of the same spelling).
  static std::string Outer(const std::string& name) { return kOuterMark + name; }
  // The i-th loop-carried input of the body.
  const std::string& carried(int i) const { return graph_.input(2 + i).name(); }

  // Adds the Loop node to the outer graph: trip count `trip` (int64 scalar), initial values of
  // the carried tensors, body outputs = cond, carried..., scans... (with their elem types).
  // Returns the Loop's outputs (final carried values, then the stacked scans).
  std::vector<std::string> Attach(const std::string& trip, const std::vector<std::string>& init,
                                  const std::vector<BodyOutput>& outputs) {
    const std::string cond = b_.Op("Identity", {cond_in()});
    AddOutput({cond, onnx::TensorProto::BOOL, 0});
    for (const BodyOutput& o : outputs) AddOutput(o);
    Prefix();
    graph_.set_name(prefix_);
    std::vector<std::string> inputs = {trip, ""};
    inputs.insert(inputs.end(), init.begin(), init.end());
    std::vector<std::string> results;
    for (size_t i = 0; i < outputs.size(); ++i) results.push_back(outer_.Fresh(prefix_ + "_out"));
    onnx::NodeProto* loop = outer_.AddNode("Loop", inputs, results);
    onnx::AttributeProto* a = loop->add_attribute();
    a->set_name("body");
    a->set_type(onnx::AttributeProto::GRAPH);
    *a->mutable_g() = graph_;
    return results;
  }

 private:
  void AddInput(const std::string& hint, int32_t type, int rank) {
    onnx::ValueInfoProto* vi = graph_.add_input();
    vi->set_name(ctx_.Fresh(hint));
    auto* t = vi->mutable_type()->mutable_tensor_type();
    t->set_elem_type(type);
    auto* shape = t->mutable_shape();
    for (int d = 0; d < rank; ++d) shape->add_dim();
  }
  void AddOutput(const BodyOutput& o) {
    onnx::ValueInfoProto* vi = graph_.add_output();
    vi->set_name(o.name);
    auto* t = vi->mutable_type()->mutable_tensor_type();
    t->set_elem_type(o.type);
    auto* shape = t->mutable_shape();
    for (int d = 0; d < o.rank; ++d) {
      auto* dim = shape->add_dim();
      if (d < static_cast<int>(o.dims.size()) && o.dims[d] >= 0) dim->set_dim_value(o.dims[d]);
    }
  }
  // Prefixes every name defined in the body (inputs, initializers, node outputs).
  void Prefix() {
    std::map<std::string, std::string> local;
    auto def = [&](std::string* name) {
      const std::string p = absl::StrCat(prefix_, "/", *name);
      local[*name] = p;
      *name = p;
    };
    for (auto& vi : *graph_.mutable_input()) def(vi.mutable_name());
    for (auto& t : *graph_.mutable_initializer()) def(t.mutable_name());
    for (auto& n : *graph_.mutable_node()) {
      for (auto& o : *n.mutable_output()) def(&o);
      n.set_name(absl::StrCat(prefix_, "/", n.name()));
    }
    auto use = [&](std::string* name) {
      if (name->rfind(kOuterMark, 0) == 0) {
        *name = name->substr(sizeof(kOuterMark) - 1);
        return;
      }
      auto it = local.find(*name);
      if (it != local.end()) *name = it->second;
    };
    for (auto& n : *graph_.mutable_node()) {
      for (auto& i : *n.mutable_input()) use(&i);
    }
    for (auto& vi : *graph_.mutable_output()) use(vi.mutable_name());
  }

  static constexpr char kOuterMark[] = "@outer@";

  LoweringContext& outer_;
  std::string prefix_;
  onnx::GraphProto graph_;
  LoweringContext ctx_;
  OnnxBuilder b_;
};

}  // namespace d2x::onnx_format

#endif  // D2X_PLUGINS_FORMAT_ONNX_LOWER_LOOP_H_
