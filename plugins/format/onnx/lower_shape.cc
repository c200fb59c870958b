// Shape and layout ops: cat, flatten, upsample_nearest2d (Resize or Gathers), view/reshape with
// constant sizes.
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

// The source index of every output position along one spatial axis of upsample_nearest2d, as
// LibTorch's nearest_idx computes it: the output index itself when out == in, index >> 1 when
// out == 2 * in, else min(floor(float(dst) * scale), in - 1) in float32, where scale is
// float(1.0 / scale_factor) when a scale factor is given and float(in) / out otherwise. ONNX
// Resize maps dst / (out / in) instead, which floors differently for some sizes (e.g. 14 -> 16:
// dst 8 gives 7 in LibTorch, 6 in ORT), so it is used only where both are exact (factors 1 and
// 2). `in_dim` and `out_dim` are int64 scalars.
std::string NearestSourceIndex(OnnxBuilder& b, const std::string& in_dim,
                               const std::string& out_dim, const std::string& scale) {
  const std::string dst = b.Arange(out_dim);
  std::string general = b.ToI64(b.Op("Floor", {b.Op("Mul", {b.ToF32(dst), scale})}));
  general = b.Op("Min", {general, b.Op("Sub", {in_dim, b.I64(1)})});
  const std::string halved = b.Op("Div", {dst, b.I64(2)});  // dst >= 0: truncation = shift
  return b.Where(b.Op("Equal", {out_dim, in_dim}), dst,
                 b.Where(b.Op("Equal", {out_dim, b.Op("Mul", {in_dim, b.I64(2)})}), halved,
                         general));
}

// upsample_nearest2d(input, int[]? output_size, float[]? scale_factors), LibTorch's 'nearest'.
// Scale factors 1 and 2 (the FPN's): Resize nearest / asymmetric / floor, which is exact there.
// Otherwise two Gathers with LibTorch's source indices (NearestSourceIndex); the output size is
// output_size, or floor(double(in) * factor) as LibTorch's compute_output_size.
absl::Status LowerUpsampleNearest(const tj::Node& node, LoweringContext& ctx) {
  D2X_ASSIGN_OR_RETURN(std::string x, ctx.Name(node.input(0)));
  if (node.inputs().size() != 3) {
    return absl::UnimplementedError("upsample_nearest2d overload other than (input, "
                                    "output_size?, scale_factors?)");
  }
  OnnxBuilder b(ctx);
  std::vector<double> factors;
  std::vector<int64_t> size;
  if (!ctx.IsNone(node.input(2))) {
    D2X_ASSIGN_OR_RETURN(factors, ConstantDoubles(node.input(2), ctx));
    if (factors.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("upsample_nearest2d: expected 2 scale factors, got ", factors.size()));
    }
  } else {
    D2X_ASSIGN_OR_RETURN(size, ctx.Ints(node.input(1)));
    if (size.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("upsample_nearest2d: expected an output size of 2, got ", size.size()));
    }
  }
  auto exact_for_resize = [](double f) { return f == 1.0 || f == 2.0; };
  if (!factors.empty() && exact_for_resize(factors[0]) && exact_for_resize(factors[1])) {
    const std::string y = ctx.Fresh("resize");
    onnx::NodeProto* n = ctx.AddNode(
        "Resize",
        {x, "", b.F32s({1.f, 1.f, static_cast<float>(factors[0]), static_cast<float>(factors[1])})},
        {y});
    SetString(n, "mode", "nearest");
    SetString(n, "coordinate_transformation_mode", "asymmetric");
    SetString(n, "nearest_mode", "floor");
    ctx.SetName(node.output(), y);
    return absl::OkStatus();
  }
  std::string y = x;
  for (int k = 0; k < 2; ++k) {
    const std::string in_dim = b.Dim(x, 2 + k);
    std::string out_dim, scale;
    if (factors.empty()) {
      out_dim = b.I64(size[k]);
      scale = b.Op("Div", {b.ToF32(in_dim), b.F32(static_cast<float>(size[k]))});
    } else {
      onnx::TensorProto* t = ctx.AddInitializer("factor");
      t->set_data_type(onnx::TensorProto::DOUBLE);
      t->add_double_data(factors[k]);
      out_dim = b.ToI64(b.Op(
          "Floor", {b.Op("Mul", {b.Cast(in_dim, onnx::TensorProto::DOUBLE), t->name()})}));
      scale = b.F32(static_cast<float>(1.0 / factors[k]));
    }
    y = b.Gather(y, NearestSourceIndex(b, in_dim, out_dim, scale), 2 + k);
  }
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
