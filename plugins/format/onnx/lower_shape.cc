// Shape and layout ops: cat, flatten, upsample_nearest2d (Resize), view/reshape with constant
// sizes.
#include <torch/csrc/jit/ir/ir.h>
#include <torch/script.h>

#include "absl/strings/str_cat.h"
#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace {
namespace tj = torch::jit;

// cat(Tensor[] tensors, int dim): the list must be a prim::ListConstruct in the graph.
absl::Status LowerCat(const tj::Node& node, LoweringContext& ctx) {
  const tj::Value* list = node.input(0);
  if (list->node()->kind() != c10::prim::ListConstruct) {
    return absl::UnimplementedError("cat of a list that is not built in the graph");
  }
  std::vector<std::string> inputs;
  for (const tj::Value* v : list->node()->inputs()) {
    D2X_ASSIGN_OR_RETURN(std::string name, ctx.Name(v));
    inputs.push_back(name);
  }
  D2X_ASSIGN_OR_RETURN(int64_t dim, ctx.Int(node.input(1)));
  const std::string y = ctx.Fresh("cat");
  SetInt(ctx.AddNode("Concat", inputs, {y}), "axis", dim);
  ctx.SetName(node.output(), y);
  return absl::OkStatus();
}

// flatten(input, start_dim, end_dim): end_dim must be -1 (Flatten(axis=start) gives 2-D, which
// equals torch's result only when start_dim == 1 or the input is 2-D... so require start_dim 1
// and let shape inference check the rank).
absl::Status LowerFlatten(const tj::Node& node, LoweringContext& ctx) {
  D2X_ASSIGN_OR_RETURN(std::string x, ctx.Name(node.input(0)));
  D2X_ASSIGN_OR_RETURN(int64_t start, ctx.Int(node.input(1)));
  D2X_ASSIGN_OR_RETURN(int64_t end, ctx.Int(node.input(2)));
  if (start != 1 || end != -1) {
    return absl::UnimplementedError(
        absl::StrCat("flatten(start_dim=", start, ", end_dim=", end, "): only (1, -1)"));
  }
  const std::string y = ctx.Fresh("flatten");
  SetInt(ctx.AddNode("Flatten", {x}, {y}), "axis", 1);
  ctx.SetName(node.output(), y);
  return absl::OkStatus();
}

// upsample_nearest2d(input, int[]? output_size, float[]? scale_factors): Resize nearest,
// asymmetric coordinates, floor rounding (= torch's 'nearest').
absl::Status LowerUpsampleNearest(const tj::Node& node, LoweringContext& ctx) {
  D2X_ASSIGN_OR_RETURN(std::string x, ctx.Name(node.input(0)));
  if (node.inputs().size() != 3) {
    return absl::UnimplementedError("upsample_nearest2d overload other than (input, "
                                    "output_size?, scale_factors?)");
  }
  const std::string y = ctx.Fresh("resize");
  std::vector<std::string> inputs = {x, ""};
  if (!ctx.IsNone(node.input(2))) {
    const tj::Value* s = node.input(2);
    std::vector<float> scales = {1.f, 1.f};
    if (s->node()->kind() == c10::prim::ListConstruct) {
      for (const tj::Value* v : s->node()->inputs()) {
        D2X_ASSIGN_OR_RETURN(double d, ctx.Double(v));
        scales.push_back(static_cast<float>(d));
      }
    } else {
      c10::optional<c10::IValue> iv = tj::toIValue(s);
      if (!iv || !iv->isDoubleList()) return absl::UnimplementedError("non-constant scales");
      for (double d : iv->toDoubleVector()) scales.push_back(static_cast<float>(d));
    }
    inputs.push_back(ctx.AddFloats("scales", scales));
  } else {
    D2X_ASSIGN_OR_RETURN(std::vector<int64_t> size, ctx.Ints(node.input(1)));
    // sizes = concat(shape(x)[:2], size)
    const std::string shape = ctx.Fresh("shape");
    onnx::NodeProto* sh = ctx.AddNode("Shape", {x}, {shape});
    SetInt(sh, "end", 2);
    const std::string sizes = ctx.Fresh("sizes");
    SetInt(ctx.AddNode("Concat", {shape, ctx.AddInt64s("size", size)}, {sizes}), "axis", 0);
    inputs.push_back("");
    inputs.push_back(sizes);
  }
  onnx::NodeProto* n = ctx.AddNode("Resize", inputs, {y});
  SetString(n, "mode", "nearest");
  SetString(n, "coordinate_transformation_mode", "asymmetric");
  SetString(n, "nearest_mode", "floor");
  ctx.SetName(node.output(), y);
  return absl::OkStatus();
}

// view/reshape(input, int[] size) with a constant size.
absl::Status LowerReshape(const tj::Node& node, LoweringContext& ctx) {
  D2X_ASSIGN_OR_RETURN(std::string x, ctx.Name(node.input(0)));
  D2X_ASSIGN_OR_RETURN(std::vector<int64_t> size, ctx.Ints(node.input(1)));
  const std::string y = ctx.Fresh("reshape");
  ctx.AddNode("Reshape", {x, ctx.AddInt64s("shape", size)}, {y});
  ctx.SetName(node.output(), y);
  return absl::OkStatus();
}

}  // namespace

void RegisterShapeLowerings(LoweringTable& table) {
  table["aten::cat"] = LowerCat;
  table["aten::flatten"] = LowerFlatten;
  table["aten::upsample_nearest2d"] = LowerUpsampleNearest;
  table["aten::view"] = LowerReshape;
  table["aten::reshape"] = LowerReshape;
}

}  // namespace d2x::onnx_format
