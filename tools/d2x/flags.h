// Flags shared by several d2x commands (defined in flags.cc).
#ifndef D2X_TOOLS_D2X_FLAGS_H_
#define D2X_TOOLS_D2X_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"

ABSL_DECLARE_FLAG(std::string, config);
ABSL_DECLARE_FLAG(std::string, weights);
ABSL_DECLARE_FLAG(std::string, output);
ABSL_DECLARE_FLAG(std::string, artifact);

#endif  // D2X_TOOLS_D2X_FLAGS_H_
