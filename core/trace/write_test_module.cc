// Writes the modules and data of //core/trace:python_interop_test into <out_dir>:
//   traced.pt       a small conv net (+ a data-dependent op) traced at [1,3,32,32], input "image"
//   nms.pt          a function calling d2x::nms, traced with 20 boxes (inputs "boxes", "scores")
//   scripted.pt     a module tree compiled from TorchScript source (Parent/Child/Leaf)
//   data.pt         inputs and eager outputs (torch::jit::pickle_save: Python's torch.load reads it)
//   ir_traced/, ir_scripted/   DumpTorchScriptIR of traced.pt / scripted.pt as loaded back
#include <ATen/ATen.h>
#include <torch/script.h>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "core/ops/ops.h"
#include "core/trace/ir_dump.h"
#include "core/trace/module_io.h"
#include "core/trace/trace.h"

namespace {

using d2x::trace::TraceFunction;

int Fail(const std::string& what) {
  std::cerr << "write_test_module: " << what << "\n";
  return 1;
}

torch::jit::Module Scripted(const std::string& name) {
  torch::jit::Module m(c10::QualifiedName("__torch__." + name));
  m.register_attribute("training", c10::BoolType::get(), false);
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return Fail("usage: write_test_module <out_dir>");
  const std::string out = argv[1];
  at::manual_seed(0);
  c10::Dict<std::string, at::Tensor> data;

  // ---- a conv net with a data-dependent output -------------------------------------------
  const at::Tensor w1 = at::randn({8, 3, 3, 3}) * 0.2, b1 = at::randn({8}) * 0.1;
  const at::Tensor w2 = at::randn({4, 8, 3, 3}) * 0.2, b2 = at::randn({4}) * 0.1;
  const at::Tensor fc_w = at::randn({5, 4}), fc_b = at::randn({5});
  TraceFunction net = [&](const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
    at::Tensor x = at::relu(at::conv2d(in[0], w1, b1, /*stride=*/1, /*padding=*/1));
    at::Tensor features = at::relu(at::conv2d(x, w2, b2, /*stride=*/2));
    at::Tensor pooled = at::adaptive_avg_pool2d(features, {1, 1}).flatten(1);
    return {features, at::linear(pooled, fc_w, fc_b).softmax(1), at::nonzero(features > 0.3)};
  };
  const at::Tensor x1 = at::rand({1, 3, 32, 32});
  const at::Tensor x2 = at::rand({2, 3, 40, 48});
  d2x::trace::TraceOptions options;
  options.input_names = {"image"};
  options.output_names = {"features", "probs", "active"};
  options.module_name = "d2x.InteropNet";
  options.check_inputs = {{x2}};
  options.check_atol = 0;
  auto traced = d2x::trace::TraceToModule(net, {x1}, options);
  if (!traced.ok()) return Fail(traced.status().ToString());
  auto status = d2x::trace::SaveModule(*traced, out + "/traced.pt");
  if (!status.ok()) return Fail(status.ToString());
  data.insert("x1", x1);
  data.insert("x2", x2);
  for (const auto& [name, x] : {std::pair<std::string, at::Tensor>{"y1", x1}, {"y2", x2}}) {
    std::vector<at::Tensor> y = net({x});
    for (size_t i = 0; i < y.size(); ++i) data.insert(name + "_" + std::to_string(i), y[i]);
  }

  // ---- d2x::nms ---------------------------------------------------------------------------
  auto make_boxes = [](int64_t n) {
    at::Tensor xy = at::rand({n, 2}) * 50;
    return at::cat({xy, xy + at::rand({n, 2}) * 30 + 1}, 1);
  };
  TraceFunction nms = [](const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
    at::Tensor keep = d2x::ops::Nms(in[0], in[1], 0.5);
    return {keep, in[0].index_select(0, keep)};
  };
  const at::Tensor boxes = make_boxes(33), scores = at::rand({33});
  d2x::trace::TraceOptions nms_options;
  nms_options.input_names = {"boxes", "scores"};
  nms_options.module_name = "d2x.InteropNms";
  nms_options.check_inputs = {{boxes, scores}};
  nms_options.check_atol = 0;
  auto nms_module = d2x::trace::TraceToModule(nms, {make_boxes(20), at::rand({20})}, nms_options);
  if (!nms_module.ok()) return Fail(nms_module.status().ToString());
  status = d2x::trace::SaveModule(*nms_module, out + "/nms.pt");
  if (!status.ok()) return Fail(status.ToString());
  std::vector<at::Tensor> kept = nms({boxes, scores});
  data.insert("nms_boxes", boxes);
  data.insert("nms_scores", scores);
  data.insert("nms_keep", kept[0]);
  data.insert("nms_kept_boxes", kept[1]);

  // ---- a scripted module tree -------------------------------------------------------------
  try {
    torch::jit::Module leaf = Scripted("Leaf");
    leaf.register_buffer("offset", at::ones({1}));
    leaf.define("def forward(self, x):\n    return x + self.offset\n");
    torch::jit::Module child = Scripted("Child");
    child.register_module("leaf", leaf);
    child.define("def forward(self, x):\n    return self.leaf.forward(x) * 2\n");
    torch::jit::Module other = Scripted("Other");
    other.define("def forward(self, x):\n    return torch.relu(x - 3)\n");
    torch::jit::Module parent = Scripted("Parent");
    parent.register_module("child", child);
    parent.register_module("other", other);
    parent.define("def forward(self, x):\n    return self.other.forward(self.child.forward(x))\n");
    status = d2x::trace::SaveModule(parent, out + "/scripted.pt");
    if (!status.ok()) return Fail(status.ToString());
  } catch (const c10::Error& e) {
    return Fail(e.what_without_backtrace());
  }

  // ---- IR dumps of the modules as loaded back ---------------------------------------------
  for (const std::string name : {"traced", "scripted"}) {
    auto loaded = d2x::trace::LoadModule(out + "/" + name + ".pt");
    if (!loaded.ok()) return Fail(loaded.status().ToString());
    status = d2x::trace::DumpTorchScriptIR(*loaded, out + "/ir_" + name);
    if (!status.ok()) return Fail(status.ToString());
  }

  const std::vector<char> bytes = torch::jit::pickle_save(c10::IValue(data));
  std::ofstream(out + "/data.pt", std::ios::binary).write(bytes.data(), bytes.size());
  std::cout << "wrote " << out << "\n";
  return 0;
}
