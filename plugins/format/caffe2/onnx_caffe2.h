// Caffe2 nets <-> ONNX with the Caffe2 custom domain (the `onnx-caffe2` format, like detectron2's
// Caffe2Tracer.export_onnx): ops with a standard ONNX equivalent become standard nodes (opset
// 13: Conv, ConvTranspose, MaxPool, Relu, Sigmoid, Add, Sub, Mul, Div, Concat, Flatten, Softmax,
// Gemm for FC, BatchNormalization for SpatialBN, Cast, Identity for Copy); every other op
// (GenerateProposals, CollectRpnProposals, DistributeFpnProposals, RoIAlign, BatchPermutation,
// BBoxTransform, BoxWithNMSLimit, ResizeNearest, ExpandDims, PadImage, GroupNorm,
// LengthsToSegmentIds, ...) is a node of domain "org.pytorch._caffe2" with the Caffe2 type as op
// type and the Caffe2 arguments as attributes. init_net blobs are initializers; predict_net
// arguments are metadata_props "caffe2_arg:<name>" (the Argument in protobuf text format).
#ifndef D2X_PLUGINS_FORMAT_CAFFE2_ONNX_CAFFE2_H_
#define D2X_PLUGINS_FORMAT_CAFFE2_ONNX_CAFFE2_H_

#include <onnx/onnx_pb.h>

#include "absl/status/statusor.h"
#include "plugins/format/caffe2/net_io.h"

namespace d2x::caffe2_format {

inline constexpr char kCaffe2OnnxDomain[] = "org.pytorch._caffe2";

absl::StatusOr<onnx::ModelProto> NetsToOnnx(const Caffe2Nets& nets);
// The inverse; errors name the node and what is unsupported.
absl::StatusOr<Caffe2Nets> OnnxToNets(const onnx::ModelProto& model);

}  // namespace d2x::caffe2_format

#endif  // D2X_PLUGINS_FORMAT_CAFFE2_ONNX_CAFFE2_H_
