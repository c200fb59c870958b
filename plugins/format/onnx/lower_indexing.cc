// Indexing and dtype ops of the traced R-CNN graphs after the box head: index_select (Gather),
// select with a constant index (Gather with a scalar index: the dim is removed), gather
// (GatherElements), expand (Expand; -1 keeps a dim, i.e. broadcast size 1), unsqueeze
// (Unsqueeze) and to(dtype) (Cast).
#include <torch/csrc/jit/ir/ir.h>

#include "absl/strings/str_cat.h"
#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace {
namespace tj = torch::jit;

// index_select(self, dim, index)
absl::Status LowerIndexSelect(const tj::Node& node, LoweringContext& ctx) {
  D2X_ASSIGN_OR_RETURN(std::string x, ctx.Name(node.input(0)));
  D2X_ASSIGN_OR_RETURN(int64_t dim, ctx.Int(node.input(1)));
  D2X_ASSIGN_OR_RETURN(std::string index, ctx.Name(node.input(2)));
  OnnxBuilder b(ctx);
  ctx.SetName(node.output(), b.Gather(x, index, dim));
  return absl::OkStatus();
}

// select(self, dim, index) with a constant index.
absl::Status LowerSelect(const tj::Node& node, LoweringContext& ctx) {
  D2X_ASSIGN_OR_RETURN(std::string x, ctx.Name(node.input(0)));
  D2X_ASSIGN_OR_RETURN(int64_t dim, ctx.Int(node.input(1)));
  D2X_ASSIGN_OR_RETURN(int64_t index, ctx.Int(node.input(2)));
  OnnxBuilder b(ctx);
  ctx.SetName(node.output(), b.Select(x, dim, index));
  return absl::OkStatus();
}

// gather(self, dim, index, sparse_grad=False)
absl::Status LowerGatherElements(const tj::Node& node, LoweringContext& ctx) {
  D2X_ASSIGN_OR_RETURN(std::string x, ctx.Name(node.input(0)));
  D2X_ASSIGN_OR_RETURN(int64_t dim, ctx.Int(node.input(1)));
  D2X_ASSIGN_OR_RETURN(std::string index, ctx.Name(node.input(2)));
  if (node.inputs().size() > 3) {
    D2X_ASSIGN_OR_RETURN(bool sparse, ctx.Bool(node.input(3)));
    if (sparse) return absl::UnimplementedError("gather with sparse_grad=True");
  }
  OnnxBuilder b(ctx);
  ctx.SetName(node.output(), b.OpInt("GatherElements", {x, index}, "axis", dim));
  return absl::OkStatus();
}

// expand(self, size, implicit=False) with a constant size: -1 keeps the dim, which is ONNX
// Expand's broadcast with 1 (Expand never shrinks a dim, and torch's expand only grows 1s).
absl::Status LowerExpand(const tj::Node& node, LoweringContext& ctx) {
  D2X_ASSIGN_OR_RETURN(std::string x, ctx.Name(node.input(0)));
  D2X_ASSIGN_OR_RETURN(std::vector<int64_t> size, ctx.Ints(node.input(1)));
  for (int64_t& s : size) {
    if (s == -1) s = 1;
  }
  OnnxBuilder b(ctx);
  ctx.SetName(node.output(), b.Op("Expand", {x, b.I64s(size)}));
  return absl::OkStatus();
}

// unsqueeze(self, dim)
absl::Status LowerUnsqueeze(const tj::Node& node, LoweringContext& ctx) {
  D2X_ASSIGN_OR_RETURN(std::string x, ctx.Name(node.input(0)));
  D2X_ASSIGN_OR_RETURN(int64_t dim, ctx.Int(node.input(1)));
  OnnxBuilder b(ctx);
  ctx.SetName(node.output(), b.Unsqueeze(x, {dim}));
  return absl::OkStatus();
}

// to(self, dtype, non_blocking, copy, memory_format) and the overloads whose second input is the
// dtype (the device overloads are rejected: everything runs on one device).
absl::Status LowerTo(const tj::Node& node, LoweringContext& ctx) {
  D2X_ASSIGN_OR_RETURN(std::string x, ctx.Name(node.input(0)));
  absl::StatusOr<int64_t> dtype = ctx.Int(node.input(1));
  if (!dtype.ok()) {
    return absl::UnimplementedError("aten::to overload without a constant dtype second input");
  }
  D2X_ASSIGN_OR_RETURN(int32_t to, OnnxType(static_cast<at::ScalarType>(*dtype)));
  OnnxBuilder b(ctx);
  ctx.SetName(node.output(), b.Cast(x, to));
  return absl::OkStatus();
}

}  // namespace

void RegisterIndexingLowerings(LoweringTable& table) {
  table["aten::index_select"] = LowerIndexSelect;
  table["aten::select"] = LowerSelect;
  table["aten::gather"] = LowerGatherElements;
  table["aten::expand"] = LowerExpand;
  table["aten::unsqueeze"] = LowerUnsqueeze;
  table["aten::to"] = LowerTo;
}

}  // namespace d2x::onnx_format
