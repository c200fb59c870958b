#include "tools/d2x/command.h"

namespace d2x::tool {

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"plugins", "List the loaded plugins and what each registers.", "", {}, &RunPlugins},
      {"doctor",
       "Load every plugin, check ABI and build fingerprints; exit 1 if anything is wrong.",
       "",
       {},
       &RunDoctor},
  };
  return *commands;
}

}  // namespace d2x::tool
