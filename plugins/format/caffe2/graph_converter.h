// Traced torch::jit graph -> Caffe2 predict_net + init_net.
//
// Tensor constants (the traced parameters) become init_net blobs (GivenTensor*Fill); scalar and
// list constants become op arguments. Supported nodes (with Caffe2's op names and arguments):
//   aten::_convolution / conv2d       -> Conv (kernels, strides, pads[t,l,b,r], dilations, group)
//   aten::_convolution (transposed), conv_transpose2d -> ConvTranspose (kernels, strides, pads, adjs, group)
//   aten::relu / relu_, sigmoid       -> Relu, Sigmoid
//   aten::add / sub (alpha 1), mul, div -> Add, Sub, Mul, Div (no "broadcast" arg: Caffe2
//                                        then broadcasts numpy-style, like torch)
//   aten::max_pool2d                  -> MaxPool (no dilation, no ceil_mode)
//   aten::upsample_nearest2d          -> ResizeNearest (width_scale, height_scale; integer scale)
//   aten::cat                         -> Concat (axis; second output "<out>_split_info")
//   aten::linear                      -> FC (2-D input)
//   aten::flatten(x, 1, -1)           -> Flatten (axis=1)
//   aten::softmax (last dim)          -> Softmax (axis)
//   d2x::roi_align                    -> RoIAlign (order NCHW, spatial_scale, pooled_h, pooled_w,
//                                        sampling_ratio, aligned) — detectron2's ROIAlignV2 args
//   aten::to (dtype)                  -> Cast (to = TensorProto.DataType)
//   aten::unsqueeze                   -> ExpandDims (dims)
//   aten::batch_norm (inference)      -> SpatialBN (is_test, epsilon): FrozenBN, bit-exact
//   aten::upsample_bilinear2d (even integer scale, align_corners=False) -> PadImage (edge) +
//                                        depthwise ConvTranspose with the bilinear kernel (exact)
//   aten::group_norm                  -> GroupNorm (group, epsilon; outputs Y, mean, inv_std)
//   d2x::c2_* (core/caffe2_ops)       -> the Caffe2 op of the same schema (GenerateProposals,
//                                        CollectRpnProposals, DistributeFpnProposals,
//                                        BatchPermutation, BBoxTransform, BoxWithNMSLimit,
//                                        LengthsToSegmentIds), arguments by schema name
// Any other node is an error naming its kind (e.g. the coarse d2x::rpn_proposals, whose Caffe2
// equivalent is a different multi-op decomposition: GenerateProposals + CollectRpnProposals).
#ifndef D2X_PLUGINS_FORMAT_CAFFE2_GRAPH_CONVERTER_H_
#define D2X_PLUGINS_FORMAT_CAFFE2_GRAPH_CONVERTER_H_

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "plugins/format/caffe2/net_io.h"

namespace torch::jit {
struct Graph;
struct Module;
}  // namespace torch::jit

namespace d2x::caffe2_format {

struct ConvertOptions {
  std::string net_name = "d2x";
  // Blob names of the graph inputs / outputs (external_input / external_output); empty: the
  // graph's debug names (or generated ones).
  std::vector<std::string> input_names;
  std::vector<std::string> output_names;
  // Example inputs (one per graph input). When given, the graph's input types are set from them
  // and shapes are propagated (torch::jit::PropagateInputShapes), which the mappings that depend
  // on ranks or sizes need (FC, Softmax, negative Concat axes, ResizeNearest from output_size).
  std::vector<at::Tensor> sample_inputs;
  // Cut mode (graphs of the "caffe2" rewrite flavor, whose traced function wraps the net in
  // detector-contract pre- and post-processing): the net is the part of the graph between
  // AliasWithName nodes (d2x::c2_alias_with_name). Aliases named in `net_inputs` become the
  // external inputs (in that order); every other alias is an external output, in graph order.
  // Only what the outputs need is converted; the aliases are fused away (their name renames the
  // blob, as detectron2's fuse_alias_placeholder). input_names / output_names are then unused.
  std::vector<std::string> net_inputs;
  // Nodes outside the net whose constant arguments are kept (cut mode), e.g. the post-processing
  // ops a runner repeats: predict_net args "<op>.<argument>" (op without namespace; numbers,
  // lists and strings as i / f / ints / floats / s) and init_net blobs "<op>.<argument>" for
  // tensors ("<op>.<argument>.<k>" for the k-th tensor of a list, with an int arg
  // "<op>.<argument>.size").
  std::vector<std::string> record_ops;
};

// `graph` is a traced graph (inputs: tensors, optionally a leading module `self` that is unused;
// parameters as tensor constants). Its output is a tensor or a tuple of tensors.
absl::StatusOr<Caffe2Nets> ConvertGraph(const std::shared_ptr<torch::jit::Graph>& graph,
                                        const ConvertOptions& options);

// The traced module's forward graph, inlined and frozen (attributes become constants).
absl::StatusOr<Caffe2Nets> ConvertModule(const torch::jit::Module& module,
                                         const ConvertOptions& options);

}  // namespace d2x::caffe2_format

#endif  // D2X_PLUGINS_FORMAT_CAFFE2_GRAPH_CONVERTER_H_
