// d2x::normalize_images(images, image_sizes, float[] pixel_mean, float[] pixel_std):
// (images - mean) / std with float32 mean/std [C, 1, 1] (as core/ops/normalize_images.cc), then
// zero outside each image's (height, width): Where(row < h && col < w, y, 0), the row/col grids
// from Range over the padded batch's dynamic H, W.
#include <torch/csrc/jit/ir/ir.h>
#include <torch/script.h>

#include "absl/strings/str_cat.h"
#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace {
namespace tj = torch::jit;

absl::StatusOr<std::vector<float>> Floats(const tj::Value* v, LoweringContext& ctx) {
  std::vector<float> out;
  if (v->node()->kind() == c10::prim::ListConstruct) {
    for (const tj::Value* in : v->node()->inputs()) {
      D2X_ASSIGN_OR_RETURN(double d, ctx.Double(in));
      out.push_back(static_cast<float>(d));
    }
    return out;
  }
  c10::optional<c10::IValue> iv = tj::toIValue(v);
  if (!iv || !iv->isDoubleList()) return absl::InvalidArgumentError("expected a constant float[]");
  for (double d : iv->toDoubleVector()) out.push_back(static_cast<float>(d));
  return out;
}

absl::Status LowerNormalizeImages(const tj::Node& node, LoweringContext& ctx) {
  const auto in = node.inputs();
  D2X_ASSIGN_OR_RETURN(std::string images, ctx.Name(in[0]));
  D2X_ASSIGN_OR_RETURN(std::string sizes, ctx.Name(in[1]));
  D2X_ASSIGN_OR_RETURN(std::vector<float> mean, Floats(in[2], ctx));
  D2X_ASSIGN_OR_RETURN(std::vector<float> std, Floats(in[3], ctx));
  if (mean.empty() || mean.size() != std.size()) {
    return absl::InvalidArgumentError("pixel_mean / pixel_std sizes differ or are empty");
  }
  auto per_channel = [&](const std::string& hint, const std::vector<float>& v) {
    onnx::TensorProto* t = ctx.AddInitializer(hint);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(static_cast<int64_t>(v.size()));
    t->add_dims(1);
    t->add_dims(1);
    for (float x : v) t->add_float_data(x);
    return t->name();
  };
  const std::string centered = ctx.Fresh("centered");
  ctx.AddNode("Sub", {images, per_channel("pixel_mean", mean)}, {centered});
  const std::string normalized = ctx.Fresh("normalized");
  ctx.AddNode("Div", {centered, per_channel("pixel_std", std)}, {normalized});

  const std::string shape = ctx.Fresh("images_shape");
  ctx.AddNode("Shape", {images}, {shape});
  const std::string zero = ctx.AddInt64s("zero", {0}, true);
  const std::string one = ctx.AddInt64s("one", {1}, true);
  // grid(axis): Range(0, shape[axis]) as [1, L]; bound(col): image_sizes[:, col:col+1] [N, 1].
  auto inside = [&](int64_t axis, int64_t col) {
    const std::string len = ctx.Fresh("len");
    SetInt(ctx.AddNode("Gather", {shape, ctx.AddInt64s("axis", {axis}, true)}, {len}), "axis",
           0);
    const std::string range = ctx.Fresh("range");
    ctx.AddNode("Range", {zero, len, one}, {range});
    const std::string row = ctx.Fresh("grid");
    ctx.AddNode("Unsqueeze", {range, ctx.AddInt64s("axes", {0})}, {row});
    const std::string bound = ctx.Fresh("bound");
    ctx.AddNode("Slice",
                {sizes, ctx.AddInt64s("starts", {col}), ctx.AddInt64s("ends", {col + 1}),
                 ctx.AddInt64s("axes", {1})},
                {bound});
    const std::string less = ctx.Fresh("inside");
    ctx.AddNode("Less", {row, bound}, {less});
    return less;  // [N, L]
  };
  const std::string rows = inside(2, 0), cols = inside(3, 1);
  const std::string rows3 = ctx.Fresh("rows"), cols3 = ctx.Fresh("cols");
  ctx.AddNode("Unsqueeze", {rows, ctx.AddInt64s("axes", {1, 3})}, {rows3});  // [N, 1, H, 1]
  ctx.AddNode("Unsqueeze", {cols, ctx.AddInt64s("axes", {1, 2})}, {cols3});  // [N, 1, 1, W]
  const std::string mask = ctx.Fresh("mask");
  ctx.AddNode("And", {rows3, cols3}, {mask});  // [N, 1, H, W]
  const std::string y = ctx.Fresh("normalize_images");
  ctx.AddNode("Where", {mask, normalized, ctx.AddFloats("zero_f", {0.f}, true)}, {y});
  ctx.SetName(node.output(), y);
  return absl::OkStatus();
}

}  // namespace

void RegisterPreprocessLowerings(LoweringTable& table) {
  table["d2x::normalize_images"] = LowerNormalizeImages;
}

}  // namespace d2x::onnx_format
