// Lowers the traced graph of a TorchScript artifact (d2x export --format torchscript --method
// tracing) to ONNX and reports the result: the first op with no lowering, or the checked model.
//   lower_artifact ARTIFACT_DIR/model.ts [OUT.onnx] [OPSET]
// A development tool for the ONNX format (issue 7); inputs follow the detector I/O contract
// (images [N, 3, H, W] float32, image_sizes / output_sizes [N, 2] int64).
#include <torch/script.h>

#include <fstream>
#include <iostream>
#include <map>

#include "plugins/format/onnx/lowering.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: lower_artifact MODEL.ts [OUT.onnx] [OPSET]\n";
    return 2;
  }
  torch::jit::Module module;
  try {
    module = torch::jit::load(argv[1]);
  } catch (const std::exception& e) {
    std::cerr << "loading " << argv[1] << ": " << e.what() << "\n";
    return 1;
  }
  namespace of = d2x::onnx_format;
  of::LoweringOptions options;
  if (argc > 3) options.opset = std::atoi(argv[3]);
  options.inputs = {{"images", onnx::TensorProto::FLOAT, {1, 3, 64, 64}, {"N", "", "H", "W"}},
                    {"image_sizes", onnx::TensorProto::INT64, {1, 2}, {"N", ""}},
                    {"output_sizes", onnx::TensorProto::INT64, {1, 2}, {"N", ""}}};
  absl::StatusOr<onnx::ModelProto> model =
      of::LowerGraph(*module.get_method("forward").graph(), options);
  if (!model.ok()) {
    std::cerr << model.status() << "\n";
    std::map<std::string, int> missing;  // every op kind of the graph with no lowering
    for (const torch::jit::Node* node : module.get_method("forward").graph()->nodes()) {
      const std::string kind = node->kind().toQualString();
      if (kind.rfind("prim::", 0) != 0 && of::Lowerings().count(kind) == 0) ++missing[kind];
    }
    std::cerr << "ops with no ONNX lowering:";
    for (const auto& [kind, count] : missing) std::cerr << " " << kind << " (x" << count << ")";
    std::cerr << "\n";
    return 1;
  }
  if (argc > 2) std::ofstream(argv[2], std::ios::binary) << model->SerializeAsString();
  std::cout << "lowered and checked: " << model->graph().node_size() << " nodes\n";
  return 0;
}
