// Lowering of a traced torch::jit::Graph (aten:: and d2x:: nodes) to a standard-op ONNX model.
//
// There is no ATen->ONNX converter in C++ (torch.onnx is Python), so this is ours. The graph is
// walked in order; every node is dispatched through a table of lowering functions keyed by the
// node's kind ("aten::_convolution", "d2x::roi_align", ...), one source file per op family
// (lower_*.cc). prim::Constant tensors become initializers, scalar/list constants are read by the
// lowerings as attributes. A node with no lowering fails the whole export with
//   "op aten::foo has no ONNX lowering (from <source location>; node: <node text>)".
// The result is checked with onnx::shape_inference (strict) and onnx::checker (full check).
#ifndef D2X_PLUGINS_FORMAT_ONNX_LOWERING_H_
#define D2X_PLUGINS_FORMAT_ONNX_LOWERING_H_

#include <c10/core/ScalarType.h>
#include <onnx/onnx_pb.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace torch::jit {
struct Graph;
struct Node;
struct Value;
}  // namespace torch::jit

namespace d2x::onnx_format {

inline constexpr int kDefaultOpset = 17;
inline constexpr int kMinOpset = 16;  // RoiAlign-16 (coordinate_transformation_mode)
inline constexpr int kMaxOpset = 17;  // libonnx 1.12's checker: IR <= 8, opset <= 17

// One graph input: its ONNX name and which dimensions are dynamic (symbolic name, "" = static).
struct InputSpec {
  std::string name;
  int32_t elem_type = onnx::TensorProto::FLOAT;
  std::vector<int64_t> shape;          // the traced (sample) shape
  std::vector<std::string> dim_names;  // per dim: symbolic name ("N", "H"), "" = static
};

struct LoweringOptions {
  int opset = kDefaultOpset;
  std::vector<InputSpec> inputs;           // by position; defaults to input_<i>, dims static
  std::vector<std::string> output_names;   // by position; defaults to output_<i>
  std::string graph_name = "d2x";
};

// State shared by the lowering functions while one graph is lowered.
class LoweringContext {
 public:
  explicit LoweringContext(onnx::GraphProto* graph, int opset) : graph_(graph), opset_(opset) {}

  int opset() const { return opset_; }

  // The ONNX name of a JIT value that carries a tensor (a graph input, an initializer or the
  // output of an already lowered node). Fails when the value is not a tensor known to ONNX.
  absl::StatusOr<std::string> Name(const torch::jit::Value* value) const;
  void SetName(const torch::jit::Value* value, const std::string& name) { names_[value] = name; }
  bool Has(const torch::jit::Value* value) const { return names_.count(value) > 0; }

  // Constant inputs (prim::Constant / prim::ListConstruct of constants), for attributes.
  absl::StatusOr<int64_t> Int(const torch::jit::Value* value) const;
  absl::StatusOr<double> Double(const torch::jit::Value* value) const;
  absl::StatusOr<bool> Bool(const torch::jit::Value* value) const;
  absl::StatusOr<std::vector<int64_t>> Ints(const torch::jit::Value* value) const;
  bool IsNone(const torch::jit::Value* value) const;

  // A fresh, unique tensor name.
  std::string Fresh(const std::string& hint);
  // Adds a node; outputs are fresh names unless given. Returns the node for attributes.
  onnx::NodeProto* AddNode(const std::string& op_type, const std::vector<std::string>& inputs,
                           const std::vector<std::string>& outputs);
  // Adds an int64 / float initializer (constant tensor) and returns its name.
  std::string AddInt64s(const std::string& hint, const std::vector<int64_t>& values,
                        bool as_scalar = false);
  std::string AddFloats(const std::string& hint, const std::vector<float>& values,
                        bool as_scalar = false);
  onnx::TensorProto* AddInitializer(const std::string& hint);

 private:
  onnx::GraphProto* graph_;
  int opset_;
  std::map<const torch::jit::Value*, std::string> names_;
  std::map<std::string, int> counters_;
};

// Lowers one node: reads its inputs through the context, adds ONNX nodes, and names its outputs
// with ctx.SetName.
using LoweringFn = std::function<absl::Status(const torch::jit::Node& node, LoweringContext& ctx)>;
using LoweringTable = std::map<std::string, LoweringFn>;

// Every lowering, by node kind (lower_*.cc register into it).
const LoweringTable& Lowerings();
void RegisterConvLowerings(LoweringTable& table);         // lower_conv.cc
void RegisterElementwiseLowerings(LoweringTable& table);  // lower_elementwise.cc
void RegisterShapeLowerings(LoweringTable& table);        // lower_shape.cc
void RegisterDetectionLowerings(LoweringTable& table);    // lower_detection.cc
void RegisterPreprocessLowerings(LoweringTable& table);   // lower_preprocess.cc

// Lowers the graph (its first input may be the module's `self`, which is skipped) and checks the
// model: strict shape inference, then the full checker.
absl::StatusOr<onnx::ModelProto> LowerGraph(torch::jit::Graph& graph,
                                            const LoweringOptions& options);

// The ONNX TensorProto element type of a LibTorch dtype (float, double, int64, int32, bool,
// uint8); other dtypes are an error naming the dtype.
absl::StatusOr<int32_t> OnnxType(at::ScalarType type);

// Strict shape inference + full checker on a model (what LowerGraph runs at the end).
absl::Status CheckModel(onnx::ModelProto& model);

// Where a node comes from, for error messages: its source range, else its scope, plus its text.
std::string DescribeNode(const torch::jit::Node& node);

}  // namespace d2x::onnx_format

#endif  // D2X_PLUGINS_FORMAT_ONNX_LOWERING_H_
