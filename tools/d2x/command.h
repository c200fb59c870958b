// Subcommands of the d2x tool.
#ifndef D2X_TOOLS_D2X_COMMAND_H_
#define D2X_TOOLS_D2X_COMMAND_H_

#include <string>
#include <vector>

#include "core/plugin/loader.h"
#include "tools/d2x/plugin_setup.h"

namespace d2x::tool {

struct CommandContext {
  std::string argv0;
  std::vector<std::string> positional;  // non-flag arguments after the command name
  std::vector<std::string> opts;        // KEY VALUE ... given after --opts
  std::vector<std::string> inputs;      // every --input value, in order
  plugin::Registry* registry = nullptr;
  plugin::PluginLoader* loader = nullptr;
  PluginLoadReport plugin_report;
};

struct Command {
  const char* name;
  const char* summary;
  const char* usage;                // one line: arguments after `d2x <name>`
  std::vector<const char*> flags;   // flags this command reads (for --help)
  int (*run)(CommandContext& context);
};

// All commands, in the order `d2x --help` lists them.
const std::vector<Command>& Commands();

// Command entry points (one file each).
int RunPlugins(CommandContext& context);
int RunDoctor(CommandContext& context);
int RunInspect(CommandContext& context);
int RunRun(CommandContext& context);
int RunBench(CommandContext& context);
int RunExport(CommandContext& context);
int RunVerify(CommandContext& context);

}  // namespace d2x::tool

#endif  // D2X_TOOLS_D2X_COMMAND_H_
