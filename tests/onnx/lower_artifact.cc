// Lowers the traced graph of a TorchScript artifact (d2x export --format torchscript --method
// tracing) to ONNX and reports the result.
//   lower_artifact MODEL.ts [OUT.onnx] [OPSET] [ORT_RUN_JS]
// A development tool for the ONNX format (issue 7); inputs follow the detector I/O contract
// (images [N, 3, H, W] float32, image_sizes / output_sizes [N, 2] int64, N/H/W dynamic).
// A graph loaded from disk has no tensor types (a graph traced in-process has them), and the
// lowerings need the dtypes (graph outputs, scalar operands) and some static sizes: the module is
// first run once in LibTorch on one 64x64 image and every tensor value gets the type of the
// tensor it held.
// When some op has no lowering, it lists every unlowered op kind, then lowers the *prefix* of the
// graph that ends at the first unlowered node (its tensor inputs become the outputs), writes it
// to OUT.onnx and, given ORT_RUN_JS, runs it in ONNX Runtime on a batch of 2 images of another
// size than the trace and compares it with LibTorch running the same prefix.
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/script.h>

#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "plugins/format/onnx/lowering.h"
#include "plugins/format/onnx/ort_node_runner.h"

namespace of = d2x::onnx_format;
namespace tj = torch::jit;

namespace {

// The tensor values of a graph's top-level block: its inputs, then every node's outputs in order.
std::vector<tj::Value*> TensorValues(tj::Graph& graph) {
  std::vector<tj::Value*> values;
  auto add = [&](tj::Value* v) {
    if (v->type()->kind() == c10::TypeKind::TensorType) values.push_back(v);
  };
  for (tj::Value* v : graph.inputs()) add(v);
  for (tj::Node* node : graph.nodes()) {
    for (tj::Value* v : node->outputs()) add(v);
  }
  return values;
}

// Runs `graph` (a method of `module`) on `inputs` with every tensor value as an extra output
// and sets each value's type to the complete type (dtype, sizes, strides) of the tensor it held.
// Returns "" or the error.
std::string TypeValuesFromRun(const tj::Module& module, const std::shared_ptr<tj::Graph>& graph,
                              const std::vector<at::Tensor>& inputs) {
  std::shared_ptr<tj::Graph> probe = graph->copy();
  const std::vector<tj::Value*> values = TensorValues(*graph);
  const std::vector<tj::Value*> probe_values = TensorValues(*probe);
  if (values.size() != probe_values.size()) return "the graph's copy differs from the graph";
  while (!probe->outputs().empty()) probe->eraseOutput(0);
  {
    tj::WithInsertPoint guard(probe->return_node());
    tj::Node* tuple = probe->insertNode(probe->createTuple(probe_values));
    probe->registerOutput(tuple->output());
  }
  std::vector<at::Tensor> held;
  try {
    c10::NoGradGuard no_grad;
    tj::GraphFunction fn("probe", probe, nullptr);
    std::vector<c10::IValue> stack = {module._ivalue()};
    stack.insert(stack.end(), inputs.begin(), inputs.end());
    fn.run(stack);
    for (const c10::IValue& v : stack.at(0).toTupleRef().elements()) held.push_back(v.toTensor());
  } catch (const std::exception& e) {
    return e.what();
  }
  if (held.size() != values.size()) return "the run returned another number of values";
  for (size_t i = 0; i < values.size(); ++i) {
    values[i]->setType(c10::TensorType::create(held[i]));
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: lower_artifact MODEL.ts [OUT.onnx] [OPSET] [ORT_RUN_JS]\n";
    return 2;
  }
  tj::Module module;
  try {
    module = tj::load(argv[1]);
  } catch (const std::exception& e) {
    std::cerr << "loading " << argv[1] << ": " << e.what() << "\n";
    return 1;
  }
  module.eval();
  of::LoweringOptions options;
  if (argc > 3) options.opset = std::atoi(argv[3]);
  options.inputs = {{"images", onnx::TensorProto::FLOAT, {1, 3, 64, 64}, {"N", "", "H", "W"}},
                    {"image_sizes", onnx::TensorProto::INT64, {1, 2}, {"N", ""}},
                    {"output_sizes", onnx::TensorProto::INT64, {1, 2}, {"N", ""}}};
  std::shared_ptr<tj::Graph> graph = module.get_method("forward").graph();
  // inputs(): self, then the contract's three tensors (a scripting artifact takes List[Tensor]).
  bool contract = graph->inputs().size() == 4;
  for (size_t i = 1; contract && i < graph->inputs().size(); ++i) {
    contract = graph->inputs()[i]->type()->cast<c10::TensorType>() != nullptr;
  }
  if (!contract) {
    std::cerr << argv[1] << ": " << module.get_method("forward").function().getSchema()
              << " is not the traced detector contract (images, image_sizes, output_sizes "
                 "tensors); lower a `d2x export --format torchscript --method tracing` artifact\n";
    return 1;
  }
  {
    torch::manual_seed(0);
    const at::Tensor sizes = at::tensor({64, 64}, at::kLong).view({1, 2});
    const std::string error =
        TypeValuesFromRun(module, graph, {at::rand({1, 3, 64, 64}) * 255, sizes, sizes.clone()});
    if (!error.empty()) {
      std::cerr << "running " << argv[1] << " in LibTorch on a 64x64 image for the value types: "
                << error << "\n";
      return 1;
    }
  }
  absl::StatusOr<onnx::ModelProto> model = of::LowerGraph(*graph, options);
  if (model.ok()) {
    if (argc > 2) std::ofstream(argv[2], std::ios::binary) << model->SerializeAsString();
    std::cout << "lowered and checked: " << model->graph().node_size() << " nodes\n";
    return 0;
  }
  std::cerr << model.status() << "\n";
  std::map<std::string, int> missing;  // every op kind of the graph with no lowering
  tj::Node* first = nullptr;
  for (tj::Node* node : graph->nodes()) {
    const std::string kind = node->kind().toQualString();
    if (kind.rfind("prim::", 0) != 0 && of::Lowerings().count(kind) == 0) {
      ++missing[kind];
      if (first == nullptr) first = node;
    }
  }
  std::cerr << "ops with no ONNX lowering:";
  for (const auto& [kind, count] : missing) std::cerr << " " << kind << " (x" << count << ")";
  std::cerr << "\n";
  if (first == nullptr) return 1;

  // The prefix up to the first unlowered node: its tensor inputs become the graph's outputs.
  std::shared_ptr<tj::Graph> prefix = graph->copy();
  tj::Node* cut = nullptr;
  {
    auto it = graph->nodes().begin(), pit = prefix->nodes().begin();
    for (; *it != first; ++it, ++pit) {}
    cut = *pit;
  }
  std::vector<tj::Value*> outs;
  for (tj::Value* v : cut->inputs()) {
    if (v->node()->kind() == c10::prim::ListConstruct) {
      for (tj::Value* t : v->node()->inputs()) {
        if (t->type()->kind() == c10::TypeKind::TensorType) outs.push_back(t);
      }
    } else if (v->type()->kind() == c10::TypeKind::TensorType &&
               v->node()->kind() != c10::prim::Param && v->node()->kind() != c10::prim::Constant) {
      outs.push_back(v);
    }
  }
  while (!prefix->outputs().empty()) prefix->eraseOutput(0);
  {
    tj::WithInsertPoint guard(prefix->return_node());
    tj::Node* tuple = prefix->insertNode(prefix->createTuple(outs));
    prefix->registerOutput(tuple->output());  // one output: GraphFunction needs it
  }
  tj::EliminateDeadCode(prefix);

  // Run the prefix in LibTorch on a batch of 2 (sizes other than the trace's) for the dtypes and
  // the reference.
  torch::manual_seed(0);
  const std::vector<at::Tensor> inputs = {
      at::rand({2, 3, 224, 288}) * 255,
      at::tensor({224, 288, 200, 250}, at::kLong).view({2, 2}),
      at::tensor({224, 288, 200, 250}, at::kLong).view({2, 2})};
  std::vector<at::Tensor> expected;
  try {
    c10::NoGradGuard no_grad;
    tj::GraphFunction fn("prefix", prefix, nullptr);
    std::vector<c10::IValue> stack = {module._ivalue(), inputs[0], inputs[1], inputs[2]};
    fn.run(stack);
    for (const c10::IValue& v : stack.at(0).toTupleRef().elements()) {
      expected.push_back(v.toTensor());
    }
  } catch (const std::exception& e) {
    std::cerr << "running the prefix in LibTorch: " << e.what() << "\n";
    return 1;
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    outs[i]->setType(c10::TensorType::create(expected[i]));
  }
  absl::StatusOr<onnx::ModelProto> partial = of::LowerGraph(*prefix, options);
  if (!partial.ok()) {
    std::cerr << "prefix: " << partial.status() << "\n";
    return 1;
  }
  std::cout << "prefix up to " << first->kind().toQualString() << ": " << outs.size()
            << " outputs, " << partial->graph().node_size() << " ONNX nodes, checked\n";
  if (argc < 5 || argc < 3) return 1;
  std::ofstream(argv[2], std::ios::binary) << partial->SerializeAsString();
  of::OrtNodeConfig config;
  config.script = argv[4];
  absl::StatusOr<std::string> dir = of::FindOnnxRuntimeNode(argv[4]);
  if (!dir.ok()) {
    std::cerr << dir.status() << "\n";
    return 1;
  }
  config.onnxruntime_node_dir = *dir;
  absl::StatusOr<std::vector<at::Tensor>> got = of::RunInOnnxRuntime(
      config, argv[2],
      {{"images", inputs[0]}, {"image_sizes", inputs[1]}, {"output_sizes", inputs[2]}});
  if (!got.ok()) {
    std::cerr << got.status() << "\n";
    return 1;
  }
  double worst = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if ((*got)[i].sizes() != expected[i].sizes()) {
      std::cerr << "output " << i << ": ORT shape " << (*got)[i].sizes() << " vs torch "
                << expected[i].sizes() << "\n";
      return 1;
    }
    const double diff = ((*got)[i] - expected[i]).abs().max().item<double>();
    const double scale = expected[i].abs().max().item<double>();
    std::cout << "output " << i << " " << expected[i].sizes() << ": max |ORT - torch| " << diff
              << " (max |torch| " << scale << ")\n";
    worst = std::max(worst, diff / std::max(scale, 1.0));
  }
  std::cout << "worst relative difference (max |diff| / max(1, max |torch|)) " << worst << "\n"
            << "exit 1: only a prefix of the graph lowers\n";
  return 1;
}
