// d2x: export detectron2 models to TorchScript, ONNX and Caffe2 — and verify them.
//
//   d2x <command> [flags] [--opts KEY VALUE ...]
//   d2x <command> --help
#include <ATen/Parallel.h>

#include <cstdio>
#include <thread>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/commandlineflag.h"
#include "glog/logging.h"
#include "tools/d2x/command.h"

ABSL_FLAG(int, threads, 0,
          "Intra-op threads for LibTorch (0 = one per CPU core the process may use).");

namespace d2x::tool {
namespace {

void PrintTopLevelHelp() {
  std::printf("d2x: export detectron2 models to deployment formats and verify them.\n\n");
  std::printf("usage: d2x <command> [flags]\n\ncommands:\n");
  for (const Command& c : Commands()) std::printf("  %-10s %s\n", c.name, c.summary);
  std::printf("\n`d2x <command> --help` describes a command and its flags.\n");
}

void PrintCommandHelp(const Command& command) {
  std::printf("usage: d2x %s %s\n\n%s\n", command.name, command.usage, command.summary);
  std::vector<const char*> flags = command.flags;
  flags.push_back("plugin_path");
  flags.push_back("plugin");
  flags.push_back("threads");
  std::printf("\nflags:\n");
  for (const char* name : flags) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) continue;
    std::printf("  --%s (default: \"%s\")\n      %s\n", name, flag->DefaultValue().c_str(),
                flag->Help().c_str());
  }
}

const Command* FindCommand(const std::string& name) {
  for (const Command& c : Commands()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

int Main(int argc, char** argv) {
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  absl::SetProgramUsageMessage("d2x <command> [flags]; `d2x --help` lists the commands");

  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    if (argc >= 3 && std::strcmp(argv[1], "help") == 0) {
      if (const Command* c = FindCommand(argv[2])) {
        PrintCommandHelp(*c);
        return 0;
      }
    }
    PrintTopLevelHelp();
    return argc < 2 ? 2 : 0;
  }
  const Command* command = FindCommand(argv[1]);
  if (command == nullptr) {
    std::fprintf(stderr, "d2x: unknown command '%s'; `d2x --help` lists the commands\n", argv[1]);
    return 2;
  }

  // Split off `--opts KEY VALUE ...` (config overrides, as detectron2's merge_from_list): it runs
  // to the end of the command line or the next `--flag`.
  CommandContext context;
  context.argv0 = argv[0];
  std::vector<char*> flag_args = {argv[0]};
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      PrintCommandHelp(*command);
      return 0;
    }
    // --input may be repeated (absl flags would keep only the last one).
    if (std::strcmp(argv[i], "--input") == 0 && i + 1 < argc) {
      context.inputs.push_back(argv[++i]);
      continue;
    }
    if (std::strncmp(argv[i], "--input=", 8) == 0) {
      context.inputs.push_back(argv[i] + 8);
      continue;
    }
    if (std::strcmp(argv[i], "--opts") == 0) {
      for (++i; i < argc && std::strncmp(argv[i], "--", 2) != 0; ++i) {
        context.opts.push_back(argv[i]);
      }
      --i;
      continue;
    }
    flag_args.push_back(argv[i]);
  }
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(flag_args.size()), flag_args.data());
  for (size_t i = 1; i < positional.size(); ++i) context.positional.push_back(positional[i]);

  const int threads = absl::GetFlag(FLAGS_threads) > 0
                          ? absl::GetFlag(FLAGS_threads)
                          : static_cast<int>(std::thread::hardware_concurrency());
  at::set_num_threads(threads > 0 ? threads : 1);

  plugin::Registry& registry = plugin::Registry::Global();
  plugin::PluginLoader loader(registry);
  context.registry = &registry;
  context.loader = &loader;
  context.plugin_report = LoadAllPlugins(context.argv0, loader);
  if (std::strcmp(command->name, "doctor") != 0) {
    for (const PluginProblem& p : context.plugin_report.problems) {
      std::fprintf(stderr, "%s: %s\n", p.named_explicitly ? "error" : "warning",
                   std::string(p.status.message()).c_str());
    }
    if (context.plugin_report.HasExplicitFailure()) return 1;
  }
  return command->run(context);
}

}  // namespace
}  // namespace d2x::tool

int main(int argc, char** argv) { return d2x::tool::Main(argc, argv); }
