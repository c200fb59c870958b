// Dumping a TorchScript module's IR for debugging: detectron2's `dump_torchscript_IR(model, dir)`.
//
// Writes into `dir` (created if needed; a leading "~/" is expanded):
//   model_ts_code.txt        for the module and every submodule, recursively (depth first):
//                              "\nCode for <root model|.child.name>, type=<class name>:\n"
//                              + the class's code (Python `mod._c.code`) + "\n" + 80 dashes
//   model_ts_IR.txt          Python `mod._c.dump_to_str(True, False, False)`: the module tree
//                            with every method's graph
//   model_ts_IR_inlined.txt  forward's graph with every call inlined (`str(mod.inlined_graph)`)
//   model.txt                the module structure as Python prints a loaded module:
//                              RecursiveScriptModule(
//                                original_name=Parent
//                                (child): RecursiveScriptModule(original_name=Child)
//                              )
// The texts equal what detectron2 writes for the same module loaded in Python (torch.jit.load;
// checked by //core/trace:python_interop_test), except the submodule object addresses that
// model_ts_IR.txt prints ("<__torch__.Child object at 0x...>"), which differ between any two
// processes. A freshly traced Python module (TracedModule) prints its class name instead of
// "RecursiveScriptModule" in model.txt.
//
// DumpTorchScriptFunctionIR is the ScriptFunction case: model_ts_code.txt (the function's code),
// model_ts_IR.txt (its graph) and model_ts_IR_inlined.txt; no model.txt.
#ifndef D2X_CORE_TRACE_IR_DUMP_H_
#define D2X_CORE_TRACE_IR_DUMP_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace torch::jit {
struct Module;
struct Function;
}  // namespace torch::jit

namespace d2x::trace {

// File names, as detectron2 writes them.
inline constexpr char kCodeFile[] = "model_ts_code.txt";
inline constexpr char kIrFile[] = "model_ts_IR.txt";
inline constexpr char kInlinedIrFile[] = "model_ts_IR_inlined.txt";
inline constexpr char kModelFile[] = "model.txt";

absl::Status DumpTorchScriptIR(const torch::jit::Module& module, const std::string& dir);

// `function` must be a graph function (a TorchScript function, not a builtin).
absl::Status DumpTorchScriptFunctionIR(const torch::jit::Function& function,
                                       const std::string& dir);

// The four texts, without writing files (what DumpTorchScriptIR writes).
struct TorchScriptIR {
  std::string code;
  std::string ir;
  std::string inlined_ir;
  std::string model;  // empty for functions
};
absl::StatusOr<TorchScriptIR> GetTorchScriptIR(const torch::jit::Module& module);

}  // namespace d2x::trace

#endif  // D2X_CORE_TRACE_IR_DUMP_H_
