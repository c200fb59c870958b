// Writing files so that a failure leaves nothing half-written.
#ifndef D2X_CORE_IO_FILES_H_
#define D2X_CORE_IO_FILES_H_

#include <string>

#include "absl/status/status.h"

namespace d2x::io {

// Writes `contents` to a temporary file next to `path`, then renames it over `path`.
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents);

}  // namespace d2x::io

#endif  // D2X_CORE_IO_FILES_H_
