// Tracing a flat-tensor function (TraceableModel::Forward) into a torch::jit::Module.
//
// TraceToModule runs the function once under LibTorch's C++ tracer and turns the recorded graph
// into a module whose `forward(self, <input names>...)` returns a flat tuple of tensors: the one
// IR that every exporter reads. What the tracer does, and what that implies:
//   * Every tensor the function reads that is not an input (parameters, buffers, anchors, ...) is
//     baked into the graph as a constant. The tracer refuses tensors that require grad, so the
//     model's parameters must have requires_grad == false before tracing (the error says so).
//     The function runs under NoGradGuard, so intermediate results never require grad.
//   * Sizes read as C++ integers (x.size(0)) are recorded as constants. A trace generalizes to
//     other image/batch sizes only if shape-dependent work happens in tensor ops (see
//     docs/DESIGN.md, "shape-generic traces"). TraceOptions::check_inputs verifies it: the traced
//     module and the function are run on other inputs and compared.
//   * Cleanup passes: dead code elimination and constant pooling (both semantics-preserving).
//
// No exception escapes: c10::Error / std::exception become absl::Status with LibTorch's message.
#ifndef D2X_CORE_TRACE_TRACE_H_
#define D2X_CORE_TRACE_TRACE_H_

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace torch::jit {
struct Module;
}  // namespace torch::jit

namespace d2x::trace {

// Flat tensors in, flat tensors out (TraceableModel::Forward). It may throw; the exception's
// message becomes the status message.
using TraceFunction = std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>&)>;

// How the traced module compares with the function on one set of inputs.
struct TraceCheckResult {
  std::vector<double> max_abs_diff;  // per output; integer/bool outputs compared as doubles
  double overall_max_abs_diff = 0.0;
};

struct TraceOptions {
  // Names of the graph inputs (graph debug names, and the argument names of forward). Each must
  // be a Python identifier, unique, not "self". Empty: keep the tracer's names.
  std::vector<std::string> input_names;
  // Debug names of the output values in the graph (cosmetic; used by dumps and exporters that
  // read value names). Empty: none. An output that is also an input or repeats keeps its name.
  std::vector<std::string> output_names;
  // Qualified class name of the module; "__torch__." is prepended when missing.
  std::string module_name = "__torch__.d2x.TracedModel";

  // Generalization check: each entry is another set of inputs (other image size, batch 2, ...).
  // The traced module and the function run on it; TraceToModule fails when the outputs differ in
  // count, dtype or shape, or by more than check_atol (max abs difference; integer and bool
  // outputs must match exactly).
  std::vector<std::vector<at::Tensor>> check_inputs;
  double check_atol = 1e-5;
  // If set, receives the result of the last check (also filled when the check fails on values).
  TraceCheckResult* check_result = nullptr;

  // If set, receives the function's outputs of the tracing run (the results at example_inputs),
  // so callers need not run the module again to learn output dtypes and shapes.
  std::vector<at::Tensor>* outputs = nullptr;
};

absl::StatusOr<torch::jit::Module> TraceToModule(const TraceFunction& fn,
                                                 const std::vector<at::Tensor>& example_inputs,
                                                 const TraceOptions& options);

// Convenience: options with input names and module name only (no check).
absl::StatusOr<torch::jit::Module> TraceToModule(const TraceFunction& fn,
                                                 const std::vector<at::Tensor>& example_inputs,
                                                 const std::vector<std::string>& input_names,
                                                 const std::string& module_name);

// Runs `module.forward(inputs...)` under NoGradGuard and returns the tensors of its output (a
// tuple/list of tensors, or one tensor).
absl::StatusOr<std::vector<at::Tensor>> RunModule(const torch::jit::Module& module,
                                                  const std::vector<at::Tensor>& inputs);

// Runs the module and the function on `inputs` and compares them. Fails (with the output index,
// shapes or dtypes in the message) when either one fails or outputs differ in count, dtype or
// shape; otherwise returns the differences, whatever their size: the caller decides.
absl::StatusOr<TraceCheckResult> CompareWithFunction(const torch::jit::Module& module,
                                                     const TraceFunction& fn,
                                                     const std::vector<at::Tensor>& inputs);

}  // namespace d2x::trace

#endif  // D2X_CORE_TRACE_TRACE_H_
