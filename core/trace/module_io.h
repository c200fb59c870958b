// Saving and loading TorchScript modules (.pt archives, readable by Python's torch.jit.load).
//
// SaveModule writes to a temporary file in the target's directory, flushes it to disk and renames
// it over the target, so readers never see a partial file. LoadModule turns LibTorch's failures
// into statuses that say what to do:
//   * missing file                        → NotFound
//   * not a TorchScript archive / corrupt → DataLoss
//   * a custom op that is not registered  → FailedPrecondition. For `d2x::` ops the message says
//     to load libd2x_ops.so first (dlopen with RTLD_GLOBAL in C++, torch.ops.load_library in
//     Python); for other namespaces, to load the library that registers them.
#ifndef D2X_CORE_TRACE_MODULE_IO_H_
#define D2X_CORE_TRACE_MODULE_IO_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace torch::jit {
struct Module;
}  // namespace torch::jit

namespace d2x::trace {

// `extra_files` are stored in the archive's extra/ directory (e.g. "d2x/output_schema.json"),
// as torch.jit.save(_extra_files=...) does.
absl::Status SaveModule(const torch::jit::Module& module, const std::string& path,
                        const std::map<std::string, std::string>& extra_files = {});

// Loads on CPU. If `extra_files` is given, each of its keys is looked up in the archive and its
// value replaced with the file's contents (keys not in the archive are left unchanged).
absl::StatusOr<torch::jit::Module> LoadModule(
    const std::string& path, std::map<std::string, std::string>* extra_files = nullptr);

}  // namespace d2x::trace

#endif  // D2X_CORE_TRACE_MODULE_IO_H_
