#include "core/trace/trace.h"

#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/passes/constant_pooling.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/script.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <exception>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/util/status_macros.h"
#include "core/util/tensor_diff.h"

namespace d2x::trace {

namespace {

bool IsIdentifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

std::string Shape(const at::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]");
}

std::string Shapes(const std::vector<at::Tensor>& ts) {
  return absl::StrJoin(ts, ", ", [](std::string* out, const at::Tensor& t) {
    out->append(t.defined() ? Shape(t) : "undefined");
  });
}

absl::Status CheckNames(const std::vector<std::string>& names, size_t count, const char* what) {
  if (names.empty()) return absl::OkStatus();
  if (names.size() != count) {
    return absl::InvalidArgumentError(absl::StrCat("TraceToModule: ", names.size(), " ", what,
                                                   " names for ", count, " ", what, "s"));
  }
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (!IsIdentifier(name) || name == "self") {
      return absl::InvalidArgumentError(absl::StrCat(
          "TraceToModule: ", what, " name \"", name,
          "\" is not a valid Python identifier (letters, digits, '_'; not \"self\")"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("TraceToModule: duplicate ", what, " name \"", name, "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<c10::QualifiedName> ModuleName(const std::string& name) {
  std::string qualified = absl::StartsWith(name, "__torch__.") ? name : "__torch__." + name;
  const std::vector<std::string> atoms = absl::StrSplit(qualified, '.');
  for (const std::string& atom : atoms) {
    if (!IsIdentifier(atom)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "TraceToModule: module name \"", name,
          "\" must be dot-separated Python identifiers, e.g. \"__torch__.d2x.TracedModel\""));
    }
  }
  return c10::QualifiedName(qualified);
}

std::string ErrorText(const c10::Error& e) { return e.what_without_backtrace(); }

// The tracer's refusal of a parameter that requires grad, explained.
std::string ExplainTraceError(const std::string& message) {
  if (absl::StrContains(message, "Cannot insert a Tensor that requires grad as a constant")) {
    return absl::StrCat(message,
                        "\n[d2x] The traced function reads a tensor that requires grad and is not "
                        "an input (a parameter or buffer). Tracing bakes such tensors into the "
                        "graph as constants: call set_requires_grad(false) on every parameter of "
                        "the model before tracing.");
  }
  return message;
}

// Unpacks a module's output into tensors.
absl::StatusOr<std::vector<at::Tensor>> OutputTensors(const c10::IValue& out) {
  std::vector<at::Tensor> tensors;
  auto add = [&tensors](const c10::IValue& v, size_t i) -> absl::Status {
    if (!v.isTensor()) {
      return absl::InvalidArgumentError(absl::StrCat("module output ", i, " is a ",
                                                     v.tagKind(), ", not a tensor"));
    }
    tensors.push_back(v.toTensor());
    return absl::OkStatus();
  };
  if (out.isTuple()) {
    const auto& elements = out.toTupleRef().elements();
    for (size_t i = 0; i < elements.size(); ++i) D2X_RETURN_IF_ERROR(add(elements[i], i));
  } else if (out.isList()) {
    auto list = out.toListRef();
    for (size_t i = 0; i < list.size(); ++i) D2X_RETURN_IF_ERROR(add(list[i], i));
  } else {
    D2X_RETURN_IF_ERROR(add(out, 0));
  }
  return tensors;
}

}  // namespace

absl::StatusOr<std::vector<at::Tensor>> RunModule(const torch::jit::Module& module,
                                                  const std::vector<at::Tensor>& inputs) {
  c10::NoGradGuard no_grad;
  try {
    std::vector<c10::IValue> stack(inputs.begin(), inputs.end());
    c10::IValue out = module.get_method("forward")(std::move(stack));
    return OutputTensors(out);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("running the traced module on inputs of shapes ",
                                            Shapes(inputs), " failed: ", ErrorText(e)));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("running the traced module on inputs of shapes ",
                                            Shapes(inputs), " failed: ", e.what()));
  }
}

absl::StatusOr<TraceCheckResult> CompareWithFunction(const torch::jit::Module& module,
                                                     const TraceFunction& fn,
                                                     const std::vector<at::Tensor>& inputs) {
  D2X_ASSIGN_OR_RETURN(std::vector<at::Tensor> traced, RunModule(module, inputs));
  std::vector<at::Tensor> expected;
  {
    c10::NoGradGuard no_grad;
    try {
      expected = fn(inputs);
    } catch (const c10::Error& e) {
      return absl::InternalError(absl::StrCat("the traced function failed on inputs of shapes ",
                                              Shapes(inputs), ": ", ErrorText(e)));
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("the traced function failed on inputs of shapes ",
                                              Shapes(inputs), ": ", e.what()));
    }
  }
  const std::string where = absl::StrCat("on inputs of shapes ", Shapes(inputs));
  if (traced.size() != expected.size()) {
    return absl::FailedPreconditionError(absl::StrCat("the traced module returns ", traced.size(),
                                                      " outputs but the function ",
                                                      expected.size(), " ", where));
  }
  TraceCheckResult result;
  try {
    for (size_t i = 0; i < traced.size(); ++i) {
      const at::Tensor& t = traced[i];
      const at::Tensor& e = expected[i];
      if (!e.defined()) {
        return absl::FailedPreconditionError(
            absl::StrCat("the function's output ", i, " is undefined ", where));
      }
      if (t.scalar_type() != e.scalar_type()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "output ", i, " is ", c10::toString(t.scalar_type()), " in the traced module but ",
            c10::toString(e.scalar_type()), " from the function ", where));
      }
      if (t.sizes() != e.sizes()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "output ", i, " has shape ", Shape(t), " in the traced module but ", Shape(e),
            " from the function ", where,
            " (a size was recorded as a constant: the trace does not generalize)"));
      }
      const double d = util::MaxAbsDiff(t, e, /*nan_equal=*/true);
      result.max_abs_diff.push_back(d);
      result.overall_max_abs_diff = std::max(result.overall_max_abs_diff, d);
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("comparing outputs failed: ", ErrorText(e)));
  }
  return result;
}

absl::StatusOr<torch::jit::Module> TraceToModule(const TraceFunction& fn,
                                                 const std::vector<at::Tensor>& example_inputs,
                                                 const TraceOptions& options) {
  D2X_RETURN_IF_ERROR(CheckNames(options.input_names, example_inputs.size(), "input"));
  D2X_ASSIGN_OR_RETURN(c10::QualifiedName qualified_name, ModuleName(options.module_name));
  for (size_t i = 0; i < example_inputs.size(); ++i) {
    if (!example_inputs[i].defined()) {
      return absl::InvalidArgumentError(
          absl::StrCat("TraceToModule: example input ", i, " is an undefined tensor"));
    }
  }

  std::shared_ptr<torch::jit::Graph> graph;
  std::vector<at::Tensor> traced_outputs;
  try {
    c10::NoGradGuard no_grad;
    torch::jit::Stack inputs(example_inputs.begin(), example_inputs.end());
    auto traced = torch::jit::tracer::trace(
        std::move(inputs),
        [&fn, &traced_outputs](torch::jit::Stack in) -> torch::jit::Stack {
          std::vector<at::Tensor> args;
          args.reserve(in.size());
          for (const c10::IValue& v : in) args.push_back(v.toTensor());
          std::vector<at::Tensor> outs = fn(args);
          if (outs.empty()) throw std::runtime_error("the traced function returned no tensors");
          torch::jit::Stack out;
          for (size_t i = 0; i < outs.size(); ++i) {
            if (!outs[i].defined()) {
              throw std::runtime_error(
                  absl::StrCat("the traced function returned an undefined tensor at output ", i));
            }
            out.emplace_back(outs[i]);
          }
          traced_outputs = std::move(outs);
          return out;
        },
        [](const at::Tensor&) { return std::string(); }, /*strict=*/false,
        /*force_outplace=*/false);
    graph = traced.first->graph;
    if (options.outputs != nullptr) *options.outputs = std::move(traced_outputs);
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("TraceToModule: tracing failed: ", ExplainTraceError(ErrorText(e))));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("TraceToModule: tracing failed: ", ExplainTraceError(e.what())));
  }

  try {
    // Input names.
    for (size_t i = 0; i < options.input_names.size(); ++i) {
      graph->inputs()[i]->setDebugName(options.input_names[i]);
    }
    // Outputs: named (where safe), then packed into one flat tuple.
    std::vector<torch::jit::Value*> outputs(graph->outputs().begin(), graph->outputs().end());
    D2X_RETURN_IF_ERROR(CheckNames(options.output_names, outputs.size(), "output"));
    for (size_t i = 0; i < options.output_names.size(); ++i) {
      torch::jit::Value* v = outputs[i];
      const bool is_input = v->node()->kind() == c10::prim::Param;
      const bool repeated = std::count(outputs.begin(), outputs.end(), v) > 1;
      if (!is_input && !repeated) v->setDebugName(options.output_names[i]);
    }
    while (!graph->outputs().empty()) graph->eraseOutput(graph->outputs().size() - 1);
    torch::jit::Node* tuple = graph->insertNode(graph->createTuple(outputs));
    graph->registerOutput(tuple->output());

    torch::jit::EliminateDeadCode(graph);
    torch::jit::ConstantPooling(graph);

    torch::jit::Module module(qualified_name);
    module.register_attribute("training", c10::BoolType::get(), false);
    graph->insertInput(0, "self")->setType(module._ivalue()->type());
    torch::jit::Function* forward = module._ivalue()->compilation_unit()->create_function(
        c10::QualifiedName(*module.type()->name(), "forward"), graph);
    module.type()->addMethod(forward);

    for (size_t k = 0; k < options.check_inputs.size(); ++k) {
      auto check = CompareWithFunction(module, fn, options.check_inputs[k]);
      if (!check.ok()) {
        return absl::Status(check.status().code(),
                            absl::StrCat("TraceToModule: generalization check ", k, ": ",
                                         check.status().message()));
      }
      if (options.check_result != nullptr) *options.check_result = *check;
      for (size_t i = 0; i < check->max_abs_diff.size(); ++i) {
        if (!(check->max_abs_diff[i] <= options.check_atol)) {
          const std::string name =
              options.output_names.empty() ? "" : absl::StrCat(" (", options.output_names[i], ")");
          return absl::FailedPreconditionError(absl::StrCat(
              "TraceToModule: generalization check ", k, ": output ", i, name,
              " differs from the function by max abs diff ", check->max_abs_diff[i], " > ",
              options.check_atol, " on inputs of shapes ", Shapes(options.check_inputs[k]),
              " (traced with ", Shapes(example_inputs),
              "): a size or value was recorded as a constant"));
        }
      }
    }
    return module;
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("TraceToModule: building the module failed: ", ErrorText(e)));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("TraceToModule: building the module failed: ", e.what()));
  }
}

absl::StatusOr<torch::jit::Module> TraceToModule(const TraceFunction& fn,
                                                 const std::vector<at::Tensor>& example_inputs,
                                                 const std::vector<std::string>& input_names,
                                                 const std::string& module_name) {
  TraceOptions options;
  options.input_names = input_names;
  options.module_name = module_name;
  return TraceToModule(fn, example_inputs, options);
}

}  // namespace d2x::trace
