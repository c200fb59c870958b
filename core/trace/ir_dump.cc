#include "core/trace/ir_dump.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/serialization/python_print.h>
#include <torch/script.h>

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/util/status_macros.h"

namespace d2x::trace {

namespace {

namespace fs = std::filesystem;

// Python `ClassType.name()`: the unqualified class name (`RecursiveScriptModule.original_name`).
std::string OriginalName(const torch::jit::Module& module) {
  return module.type()->name() ? module.type()->name()->name() : "";
}

// Python `mod._c.code`: the whole class (attributes and every method).
std::string ClassCode(const torch::jit::Module& module) {
  std::vector<c10::IValue> constants;
  torch::jit::PrintDepsTable deps;
  torch::jit::PythonPrint printer(constants, deps);
  printer.printNamedType(module.type());
  return printer.str();
}

void AppendCode(const std::string& prefix, const torch::jit::Module& module, std::string* out) {
  const std::string name = prefix.empty() ? "root model" : prefix;
  absl::StrAppend(out, "\nCode for ", name, ", type=", OriginalName(module), ":\n",
                  ClassCode(module), "\n", std::string(80, '-'));
  for (const torch::jit::NameModule& child : module.named_children()) {
    AppendCode(absl::StrCat(prefix, ".", child.name), child.value, out);
  }
}

// Python's nn.modules.module._addindent.
std::string AddIndent(const std::string& s, int spaces) {
  std::vector<std::string> lines = absl::StrSplit(s, '\n');
  if (lines.size() == 1) return s;
  const std::string pad(spaces, ' ');
  std::string out = lines[0];
  for (size_t i = 1; i < lines.size(); ++i) absl::StrAppend(&out, "\n", pad, lines[i]);
  return out;
}

// Python's nn.Module.__repr__ for a RecursiveScriptModule (extra_repr = "original_name=...").
std::string Repr(const torch::jit::Module& module) {
  const std::string extra = "original_name=" + OriginalName(module);
  std::vector<std::string> child_lines;
  for (const torch::jit::NameModule& child : module.named_children()) {
    child_lines.push_back(absl::StrCat("(", child.name, "): ", AddIndent(Repr(child.value), 2)));
  }
  std::string out = "RecursiveScriptModule(";
  if (child_lines.empty()) {
    out += extra;
  } else {
    absl::StrAppend(&out, "\n  ", extra, "\n  ", absl::StrJoin(child_lines, "\n  "), "\n");
  }
  out += ")";
  return out;
}

std::string InlinedGraph(const torch::jit::Function& function) {
  std::shared_ptr<torch::jit::Graph> graph = torch::jit::toGraphFunction(function).graph()->copy();
  torch::jit::Inline(*graph);
  std::ostringstream ss;
  ss << *graph;
  return ss.str();
}

std::string ExpandUser(const std::string& dir) {
  if (dir == "~" || dir.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    if (home != nullptr) return std::string(home) + dir.substr(1);
  }
  return dir;
}

absl::Status WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return absl::PermissionDeniedError(absl::StrCat("cannot open ", path.string(), " for writing"));
  f << text;
  f.close();
  if (!f) return absl::DataLossError(absl::StrCat("writing ", path.string(), " failed"));
  return absl::OkStatus();
}

absl::StatusOr<fs::path> MakeDir(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("DumpTorchScriptIR: empty directory name");
  fs::path path(ExpandUser(dir));
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("DumpTorchScriptIR: cannot create directory ", path.string(), ": ", ec.message()));
  }
  return path;
}

}  // namespace

absl::StatusOr<TorchScriptIR> GetTorchScriptIR(const torch::jit::Module& module) {
  try {
    TorchScriptIR ir;
    AppendCode("", module, &ir.code);
    ir.ir = module.dump_to_str(/*print_method_bodies=*/true, /*print_attr_values=*/false,
                               /*print_param_values=*/false);
    ir.inlined_ir = InlinedGraph(module.get_method("forward").function());
    ir.model = Repr(module);
    return ir;
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("DumpTorchScriptIR: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("DumpTorchScriptIR: ", e.what()));
  }
}

absl::Status DumpTorchScriptIR(const torch::jit::Module& module, const std::string& dir) {
  D2X_ASSIGN_OR_RETURN(TorchScriptIR ir, GetTorchScriptIR(module));
  D2X_ASSIGN_OR_RETURN(fs::path path, MakeDir(dir));
  D2X_RETURN_IF_ERROR(WriteFile(path / kCodeFile, ir.code));
  D2X_RETURN_IF_ERROR(WriteFile(path / kIrFile, ir.ir));
  D2X_RETURN_IF_ERROR(WriteFile(path / kInlinedIrFile, ir.inlined_ir));
  return WriteFile(path / kModelFile, ir.model);
}

absl::Status DumpTorchScriptFunctionIR(const torch::jit::Function& function,
                                       const std::string& dir) {
  TorchScriptIR ir;
  try {
    const torch::jit::GraphFunction& graph_function = torch::jit::toGraphFunction(function);
    std::vector<c10::IValue> constants;
    torch::jit::PrintDepsTable deps;
    torch::jit::PythonPrint printer(constants, deps);
    printer.printFunction(graph_function);
    ir.code = printer.str();
    ir.ir = graph_function.graph()->toString();
    ir.inlined_ir = InlinedGraph(graph_function);
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("DumpTorchScriptFunctionIR: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("DumpTorchScriptFunctionIR: ", e.what()));
  }
  D2X_ASSIGN_OR_RETURN(fs::path path, MakeDir(dir));
  D2X_RETURN_IF_ERROR(WriteFile(path / kCodeFile, ir.code));
  D2X_RETURN_IF_ERROR(WriteFile(path / kIrFile, ir.ir));
  return WriteFile(path / kInlinedIrFile, ir.inlined_ir);
}

}  // namespace d2x::trace
