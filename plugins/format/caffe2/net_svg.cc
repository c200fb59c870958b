#include "plugins/format/caffe2/net_svg.h"

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include <fstream>
#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace d2x::caffe2_format {
namespace {

// cgraph's API takes char*; attribute names/values are copied.
char* C(const std::string& s) { return const_cast<char*>(s.c_str()); }

std::mutex& GraphvizMutex() {  // graphviz keeps global state
  static std::mutex mu;
  return mu;
}

}  // namespace

absl::StatusOr<std::string> RenderNetSvg(const d2x::caffe2::NetDef& net,
                                         const std::map<std::string, at::Tensor>* blobs) {
  std::lock_guard<std::mutex> lock(GraphvizMutex());
  GVC_t* gvc = gvContext();
  if (gvc == nullptr) return absl::InternalError("graphviz: gvContext failed");
  Agraph_t* g = agopen(C(net.name().empty() ? std::string("net") : net.name()), Agdirected,
                       nullptr);
  agattr(g, AGRAPH, C("rankdir"), C("TB"));
  // Bounded crossing minimization / network simplex: nets have hundreds of ops.
  agattr(g, AGRAPH, C("mclimit"), C("0.1"));
  agattr(g, AGRAPH, C("nslimit"), C("2"));
  agattr(g, AGRAPH, C("nslimit1"), C("2"));
  agattr(g, AGNODE, C("shape"), C("ellipse"));
  agattr(g, AGNODE, C("label"), C(""));
  agattr(g, AGNODE, C("style"), C(""));
  agattr(g, AGNODE, C("fillcolor"), C(""));

  std::map<std::string, Agnode_t*> blob_nodes;
  auto blob_node = [&](const std::string& name) {
    auto it = blob_nodes.find(name);
    if (it != blob_nodes.end()) return it->second;
    Agnode_t* n = agnode(g, C(absl::StrCat("blob:", name)), 1);
    std::string label = name;
    if (blobs != nullptr) {
      auto b = blobs->find(name);
      if (b != blobs->end() && b->second.defined()) {
        label = absl::StrCat(name, "\n[", absl::StrJoin(b->second.sizes(), ","), "]");
      }
    }
    agset(n, C("label"), C(label));
    blob_nodes[name] = n;
    return n;
  };
  // Constant blobs (converter parameters, `_d2x_const_<n>`) no op produces are left out: they
  // double the graph and make dot's layout slow; the ops keep their names and types.
  std::set<std::string> produced;
  for (const auto& op : net.op()) produced.insert(op.output().begin(), op.output().end());
  auto hidden = [&](const std::string& name) {
    return produced.count(name) == 0 && name.rfind("_d2x_const_", 0) == 0;
  };
  for (int i = 0; i < net.op_size(); ++i) {
    const auto& op = net.op(i);
    Agnode_t* o = agnode(g, C(absl::StrCat("op:", i)), 1);
    agset(o, C("shape"), C("box"));
    agset(o, C("style"), C("filled"));
    agset(o, C("fillcolor"), C("#ddeeff"));
    agset(o, C("label"),
          C(op.name().empty() ? absl::StrCat(op.type(), " #", i)
                              : absl::StrCat(op.type(), " #", i, "\n", op.name())));
    for (const std::string& in : op.input()) {
      if (!hidden(in)) agedge(g, blob_node(in), o, nullptr, 1);
    }
    for (const std::string& out : op.output()) agedge(g, o, blob_node(out), nullptr, 1);
  }
  std::string svg;
  if (gvLayout(gvc, g, "dot") != 0) {
    agclose(g);
    gvFreeContext(gvc);
    return absl::InternalError("graphviz: dot layout failed (is the dot plugin installed?)");
  }
  char* data = nullptr;
  unsigned int length = 0;
  const int rc = gvRenderData(gvc, g, "svg", &data, &length);
  if (rc == 0 && data != nullptr) svg.assign(data, length);
  if (data != nullptr) gvFreeRenderData(data);
  gvFreeLayout(gvc, g);
  agclose(g);
  gvFreeContext(gvc);
  if (rc != 0 || svg.empty()) return absl::InternalError("graphviz: SVG rendering failed");
  return svg;
}

absl::Status SaveGraph(const d2x::caffe2::NetDef& net, const std::string& svg_path,
                       const std::map<std::string, at::Tensor>* blobs) {
  auto svg = RenderNetSvg(net, blobs);
  if (!svg.ok()) return svg.status();
  std::ofstream out(svg_path, std::ios::trunc);
  out << *svg;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", svg_path));
  return absl::OkStatus();
}

}  // namespace d2x::caffe2_format
