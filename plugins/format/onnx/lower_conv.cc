// Convolution family: aten::_convolution / conv2d (Conv, ConvTranspose), batch_norm,
// max_pool2d, linear.
#include <torch/csrc/jit/ir/ir.h>

#include "absl/strings/str_cat.h"
#include "plugins/format/onnx/lower_util.h"

namespace d2x::onnx_format {
namespace {
namespace tj = torch::jit;

std::vector<int64_t> Pads2(const std::vector<int64_t>& p) {
  std::vector<int64_t> pads = p;
  pads.insert(pads.end(), p.begin(), p.end());  // begins then ends
  return pads;
}

// (input, weight, bias?, stride, padding, dilation, transposed, output_padding, groups)
absl::Status LowerConv(const tj::Node& node, LoweringContext& ctx, bool transposed_known,
                       bool transposed, size_t groups_index) {
  const auto in = node.inputs();
  D2X_ASSIGN_OR_RETURN(std::string x, ctx.Name(in[0]));
  D2X_ASSIGN_OR_RETURN(std::string w, ctx.Name(in[1]));
  std::vector<std::string> inputs = {x, w};
  if (!ctx.IsNone(in[2])) {
    D2X_ASSIGN_OR_RETURN(std::string b, ctx.Name(in[2]));
    inputs.push_back(b);
  }
  D2X_ASSIGN_OR_RETURN(std::vector<int64_t> stride, ctx.Ints(in[3]));
  D2X_ASSIGN_OR_RETURN(std::vector<int64_t> padding, ctx.Ints(in[4]));
  D2X_ASSIGN_OR_RETURN(std::vector<int64_t> dilation, ctx.Ints(in[5]));
  std::vector<int64_t> output_padding;
  if (!transposed_known) {
    D2X_ASSIGN_OR_RETURN(transposed, ctx.Bool(in[6]));
    D2X_ASSIGN_OR_RETURN(output_padding, ctx.Ints(in[7]));
  }
  D2X_ASSIGN_OR_RETURN(int64_t groups, ctx.Int(in[groups_index]));
  // conv2d's defaults are one-element lists ({1}, {0}): one value for both spatial dims.
  for (std::vector<int64_t>* v : {&stride, &padding, &dilation, &output_padding}) {
    if (v->size() == 1) v->push_back(v->front());
  }
  const std::string y = ctx.Fresh("conv");
  onnx::NodeProto* n = ctx.AddNode(transposed ? "ConvTranspose" : "Conv", inputs, {y});
  SetInts(n, "strides", stride);
  SetInts(n, "pads", Pads2(padding));
  SetInts(n, "dilations", dilation);
  SetInt(n, "group", groups);
  if (transposed) {
    bool any = false;
    for (int64_t p : output_padding) any |= p != 0;
    if (any) SetInts(n, "output_padding", output_padding);
  }
  ctx.SetName(node.output(), y);
  return absl::OkStatus();
}

// batch_norm(input, weight?, bias?, running_mean?, running_var?, training, momentum, eps, cudnn)
absl::Status LowerBatchNorm(const tj::Node& node, LoweringContext& ctx) {
  const auto in = node.inputs();
  D2X_ASSIGN_OR_RETURN(bool training, ctx.Bool(in[5]));
  if (training) return absl::InvalidArgumentError("batch_norm in training mode");
  std::vector<std::string> inputs;
  for (int i : {0, 1, 2, 3, 4}) {
    if (ctx.IsNone(in[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("batch_norm input ", i, " is None (weight, bias and running stats are "
                       "required for the ONNX lowering)"));
    }
    D2X_ASSIGN_OR_RETURN(std::string name, ctx.Name(in[i]));
    inputs.push_back(name);
  }
  D2X_ASSIGN_OR_RETURN(double eps, ctx.Double(in[7]));
  const std::string y = ctx.Fresh("bn");
  onnx::NodeProto* n = ctx.AddNode("BatchNormalization", inputs, {y});
  SetFloat(n, "epsilon", static_cast<float>(eps));
  ctx.SetName(node.output(), y);
  return absl::OkStatus();
}

// max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode)
absl::Status LowerMaxPool(const tj::Node& node, LoweringContext& ctx) {
  const auto in = node.inputs();
  D2X_ASSIGN_OR_RETURN(std::string x, ctx.Name(in[0]));
  D2X_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, ctx.Ints(in[1]));
  D2X_ASSIGN_OR_RETURN(std::vector<int64_t> stride, ctx.Ints(in[2]));
  D2X_ASSIGN_OR_RETURN(std::vector<int64_t> padding, ctx.Ints(in[3]));
  D2X_ASSIGN_OR_RETURN(std::vector<int64_t> dilation, ctx.Ints(in[4]));
  D2X_ASSIGN_OR_RETURN(bool ceil_mode, ctx.Bool(in[5]));
  if (kernel.size() == 1) kernel = {kernel[0], kernel[0]};
  if (stride.empty()) stride = kernel;
  if (stride.size() == 1) stride = {stride[0], stride[0]};
  if (padding.size() == 1) padding = {padding[0], padding[0]};
  if (dilation.size() == 1) dilation = {dilation[0], dilation[0]};
  const std::string y = ctx.Fresh("maxpool");
  onnx::NodeProto* n = ctx.AddNode("MaxPool", {x}, {y});
  SetInts(n, "kernel_shape", kernel);
  SetInts(n, "strides", stride);
  SetInts(n, "pads", Pads2(padding));
  SetInts(n, "dilations", dilation);
  SetInt(n, "ceil_mode", ceil_mode ? 1 : 0);
  ctx.SetName(node.output(), y);
  return absl::OkStatus();
}

// linear(input [K, C], weight [O, C], bias? [O]) -> Gemm(transB=1). 2-D inputs only (the R-CNN
// box head flattens first); Gemm's shape inference rejects other ranks.
absl::Status LowerLinear(const tj::Node& node, LoweringContext& ctx) {
  const auto in = node.inputs();
  D2X_ASSIGN_OR_RETURN(std::string x, ctx.Name(in[0]));
  D2X_ASSIGN_OR_RETURN(std::string w, ctx.Name(in[1]));
  std::vector<std::string> inputs = {x, w};
  if (!ctx.IsNone(in[2])) {
    D2X_ASSIGN_OR_RETURN(std::string b, ctx.Name(in[2]));
    inputs.push_back(b);
  }
  const std::string y = ctx.Fresh("linear");
  onnx::NodeProto* n = ctx.AddNode("Gemm", inputs, {y});
  SetInt(n, "transB", 1);
  ctx.SetName(node.output(), y);
  return absl::OkStatus();
}

}  // namespace

void RegisterConvLowerings(LoweringTable& table) {
  table["aten::_convolution"] = [](const tj::Node& n, LoweringContext& c) {
    return LowerConv(n, c, /*transposed_known=*/false, false, /*groups_index=*/8);
  };
  table["aten::conv2d"] = [](const tj::Node& n, LoweringContext& c) {
    return LowerConv(n, c, /*transposed_known=*/true, false, /*groups_index=*/6);
  };
  table["aten::batch_norm"] = LowerBatchNorm;
  table["aten::max_pool2d"] = LowerMaxPool;
  table["aten::linear"] = LowerLinear;
}

}  // namespace d2x::onnx_format
