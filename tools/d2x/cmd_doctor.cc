// `d2x doctor`: load every plugin, check every format's runtime (Runner::CheckRuntime) and report
// problems (exit 1 if there are any). With --artifact DIR, check that exported artifact instead
// of the runtimes: it loads and runs, a TorchScript artifact outside d2x (with its own
// libd2x_ops.so), any other format through its runner, as `d2x run --artifact` will.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/export/artifact.h"
#include "core/export/manifest.h"
#include "core/exporter.h"
#include "core/plugin/loader.h"
#include "core/plugin/registry.h"
#include "core/version.h"
#include "tools/d2x/bundled_files.h"
#include "tools/d2x/command.h"
#include "tools/d2x/flags.h"
#include "torch/version.h"

namespace d2x::tool {
namespace {

// The BLAS library actually mapped into this process (LibTorch links libblas.so.3, which Debian's
// alternatives resolve to OpenBLAS or to the ~50x slower reference BLAS).
std::string LoadedBlas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (path.find("libblas.so") != std::string::npos ||
        path.find("libopenblas") != std::string::npos) {
      return path;
    }
  }
  return "";
}

}  // namespace

namespace {

// Runs `argv` (argv[0] a path) and returns its exit code (-1 if it could not run or was killed)
// and its combined stdout/stderr.
int RunChild(const std::vector<std::string>& argv, std::string* output) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof(buffer))) > 0) output->append(buffer, n);
  close(fds[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -1;
  if (WIFSIGNALED(status)) {
    output->append(absl::StrCat("killed by signal ", WTERMSIG(status), " (",
                                strsignal(WTERMSIG(status)), ")\n"));
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Loads the artifact with its format's runner in this process (formats other than TorchScript
// load no library of d2x ops, so this is safe here) and runs it on a blank image of the manifest's
// preprocessing; returns the number of problems.
int CheckWithRunner(CommandContext& context, const std::string& dir,
                    const exporting::Manifest& manifest) {
  std::printf("  loading it with the %s runner:\n", manifest.format.c_str());
  absl::StatusOr<std::unique_ptr<exporting::LoadedArtifact>> artifact =
      exporting::LoadedArtifact::Load(*context.registry, dir);
  if (!artifact.ok()) {
    std::printf("    PROBLEM  %s\n", std::string(artifact.status().message()).c_str());
    return 1;
  }
  std::printf("    ok       %s loads\n", manifest.model_file.c_str());
  constexpr int64_t kSide = 64;
  ImageInput blank;
  blank.image = at::zeros(
      {static_cast<int64_t>(manifest.preprocessing.pixel_mean.size()), kSide, kSide}, at::kFloat);
  absl::StatusOr<std::vector<ImageResult>> results = (*artifact)->Predict({blank});
  if (!results.ok()) {
    std::printf("    PROBLEM  running it on a blank %ldx%ld image: %s\n", kSide, kSide,
                std::string(results.status().message()).c_str());
    return 1;
  }
  std::printf("    ok       runs a blank %ldx%ld image (%ld detections)\n", kSide, kSide,
              results->empty() ? 0L : static_cast<long>(results->front().instances.size()));
  return 0;
}

// `d2x doctor --artifact DIR`. The artifact's libraries are loaded in a child process
// (d2x_artifact_check): dlopen'ing libd2x_ops.so here would abort, since this process already
// registers the d2x:: ops.
int CheckArtifact(CommandContext& context, const std::string& dir) {
  std::printf("\nartifact %s:\n", dir.c_str());
  int problems = 0;
  absl::StatusOr<exporting::Manifest> manifest = exporting::ReadManifest(dir);
  if (!manifest.ok()) {
    std::printf("  PROBLEM  %s\n", std::string(manifest.status().message()).c_str());
    return 1;
  }
  std::printf("  format %s%s, %s, d2x %s, torch %s (this d2x: %s, torch %s)\n",
              manifest->format.c_str(),
              manifest->method.empty() ? "" : (" (" + manifest->method + ")").c_str(),
              manifest->meta_architecture.c_str(), manifest->versions["d2x"].c_str(),
              manifest->versions["torch"].c_str(), kD2xVersion, TORCH_VERSION);
  if (manifest->versions["torch"] != TORCH_VERSION) {
    std::printf("  PROBLEM  exported with torch %s, this is torch %s\n",
                manifest->versions["torch"].c_str(), TORCH_VERSION);
    ++problems;
  }
  if (!context.registry->FindRunner(manifest->format)) {
    std::printf("  PROBLEM  no plugin provides a runner for format %s\n",
                manifest->format.c_str());
    ++problems;
  }
  for (const std::string& lib : manifest->required_libraries) {
    const std::string path = (std::filesystem::path(dir) / lib).string();
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {0, 0, 0, 0};
    if (!in) {
      std::printf("  PROBLEM  required library %s is missing\n", lib.c_str());
      ++problems;
    } else if (!in.read(magic, 4) || std::memcmp(magic, "\x7f" "ELF", 4) != 0) {
      std::printf("  PROBLEM  required library %s is not an ELF shared library\n", lib.c_str());
      ++problems;
    }
  }
  absl::StatusOr<std::string> checker = ArtifactCheckPath(context.argv0);
  if (!checker.ok()) {
    std::printf("  PROBLEM  %s\n", std::string(checker.status().message()).c_str());
    return problems + 1;
  }
  std::printf("  loading it in a clean process (%s):\n", checker->c_str());
  std::string output;
  const int code = RunChild({*checker, dir, "--run"}, &output);
  for (absl::string_view line : absl::StrSplit(output, '\n', absl::SkipEmpty())) {
    std::printf("    %s\n", std::string(line).c_str());
  }
  if (code != 0) {
    std::printf("  PROBLEM  the artifact does not load or run outside d2x (exit code %d)\n", code);
    ++problems;
  }
  if (manifest->format != "torchscript" && context.registry->FindRunner(manifest->format)) {
    problems += CheckWithRunner(context, dir, *manifest);
  }
  return problems;
}

// What every format's runner needs outside d2x (Runner::CheckRuntime); returns the number of
// problems.
int CheckRuntimes(CommandContext& context) {
  std::printf("\nruntimes:\n");
  int problems = 0;
  for (const std::string& format : context.registry->Names(plugin::EntryKind::kRunner)) {
    std::unique_ptr<Runner> runner = context.registry->FindRunner(format)->value();
    absl::StatusOr<std::string> runtime = runner->CheckRuntime();
    if (runtime.ok()) {
      std::printf("  ok       %-14s %s\n", format.c_str(), runtime->c_str());
    } else {
      std::printf("  PROBLEM  %-14s %s\n", format.c_str(),
                  std::string(runtime.status().message()).c_str());
      ++problems;
    }
  }
  return problems;
}

}  // namespace

int RunDoctor(CommandContext& context) {
  std::printf("d2x %s\n", kD2xVersion);
  std::printf("  plugin ABI         %s\n", plugin::HostAbiVersion().c_str());
  std::printf("  build fingerprint  %s\n", plugin::HostBuildFingerprint().c_str());
  std::printf("  LibTorch           %s\n", TORCH_VERSION);
  std::printf("  intra-op threads   %d\n", at::get_num_threads());
  const std::string blas = LoadedBlas();
  const bool slow_blas = blas.find("openblas") == std::string::npos;
  std::printf("  BLAS               %s%s\n", blas.empty() ? "(none mapped)" : blas.c_str(),
              slow_blas ? "  <- PROBLEM: not OpenBLAS; install libopenblas0-pthread" : "");
  std::printf("  plugin search      %s\n",
              context.plugin_report.searched.empty()
                  ? "(nothing found)"
                  : absl::StrJoin(context.plugin_report.searched, ", ").c_str());
  std::printf("\nplugins:\n");
  for (const plugin::PluginRecord& p : context.loader->loaded()) {
    std::printf("  ok       %-14s %-8s ABI %u.%u, %d entries, %s\n", p.name.c_str(),
                p.version.c_str(), p.abi_major, p.abi_minor, p.num_entries, p.path.c_str());
  }
  int problems = slow_blas ? 1 : 0;
  for (const PluginProblem& p : context.plugin_report.problems) {
    std::printf("  PROBLEM  %s\n", std::string(p.status.message()).c_str());
    ++problems;
  }
  if (context.loader->loaded().empty() && problems == 0) {
    std::printf("  (none found)\n");
  }
  if (const std::string artifact = absl::GetFlag(FLAGS_artifact); !artifact.empty()) {
    problems += CheckArtifact(context, artifact);  // its own format's runtime only
  } else {
    problems += CheckRuntimes(context);
  }
  std::printf("\n%s\n", problems == 0 ? "no problems found"
                                      : (std::to_string(problems) + " problem(s) found").c_str());
  return problems == 0 ? 0 : 1;
}

}  // namespace d2x::tool
