// Internal to graph_converter: the mappings of the Caffe2-flavor nodes (d2x::c2_* ops, whose
// schemas are Caffe2's, plus aten::to -> Cast and aten::unsqueeze -> ExpandDims), and the
// TensorProto data types of Cast, and the constant values of node inputs.
#ifndef D2X_PLUGINS_FORMAT_CAFFE2_C2_OP_MAPPING_H_
#define D2X_PLUGINS_FORMAT_CAFFE2_C2_OP_MAPPING_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "plugins/format/caffe2/net_io.h"

namespace c10 {
class IValue;
enum class ScalarType : int8_t;
}  // namespace c10

namespace torch::jit {
struct Node;
struct Value;
}  // namespace torch::jit

namespace d2x::caffe2_format {

// What a mapping needs from the converter.
struct MappingContext {
  std::function<absl::StatusOr<std::string>(torch::jit::Value*)> blob;  // input blob of a value
  // Output blob name of a value (`preferred` names it unless the value is named already or
  // the name is taken).
  std::function<std::string(torch::jit::Value*, const std::string& preferred)> out_name;
  std::function<std::string(const std::string& preferred)> fresh_name;  // an unused blob name
  std::function<int64_t(torch::jit::Value*)> rank;  // -1 when unknown
  d2x::caffe2::NetDef* net = nullptr;
  // Adds a constant blob (init_net fill op + external input) and returns its name.
  std::function<absl::StatusOr<std::string>(const std::string& hint, const at::Tensor&)> constant;
};

// Converts `node` when it is one of the nodes above (*handled = true); otherwise leaves the net
// alone (*handled = false).
absl::Status ConvertCaffe2FlavorNode(torch::jit::Node* node, MappingContext& context,
                                     bool* handled);

// Caffe2 TensorProto.DataType of a torch dtype (Cast's "to"), and back; errors for others.
// The constant value of a node input: a prim::Constant, or a prim::ListConstruct of int / float
// constants (an int list when all are ints, else a float list). The error says why not (a value
// computed by the graph, a non-numeric list element).
absl::StatusOr<c10::IValue> ConstantValue(torch::jit::Value* v);

absl::StatusOr<int64_t> Caffe2DataType(c10::ScalarType type);
absl::StatusOr<c10::ScalarType> TorchDataType(int64_t caffe2_type);

// Writes the constant arguments of a node as predict_net args / init_net blobs (see
// ConvertOptions::record_ops).
absl::Status RecordNodeArguments(torch::jit::Node* node, Caffe2Nets* nets);

}  // namespace d2x::caffe2_format

#endif  // D2X_PLUGINS_FORMAT_CAFFE2_C2_OP_MAPPING_H_
