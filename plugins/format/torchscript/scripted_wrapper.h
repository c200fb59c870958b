// The scripted wrapper of the TorchScript "scripting" method: a module compiled in C++ from
// TorchScript source around a traced detector (see torchscript_format.h for its interface).
#ifndef D2X_PLUGINS_FORMAT_TORCHSCRIPT_SCRIPTED_WRAPPER_H_
#define D2X_PLUGINS_FORMAT_TORCHSCRIPT_SCRIPTED_WRAPPER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace torch::jit {
struct Module;
}  // namespace torch::jit

namespace d2x::torchscript {

// The TorchScript source of the wrapper's methods for a traced module returning `output_names`
// (the detector contract: fields..., image_size, num_instances).
absl::StatusOr<std::string> ScriptedWrapperSource(const std::vector<std::string>& output_names);

// Builds the wrapper module: `traced` becomes its submodule "model"; size_divisibility and
// square_size are attributes used to pad the batch as MakeDetectorInputs does.
absl::StatusOr<torch::jit::Module> BuildScriptedWrapper(const torch::jit::Module& traced,
                                                        const std::vector<std::string>& output_names,
                                                        int64_t size_divisibility,
                                                        int64_t square_size);

}  // namespace d2x::torchscript

#endif  // D2X_PLUGINS_FORMAT_TORCHSCRIPT_SCRIPTED_WRAPPER_H_
