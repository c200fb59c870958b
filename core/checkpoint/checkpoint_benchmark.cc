// Checkpoint loading speed and memory.
//
//   bazel run -c opt //core/checkpoint:checkpoint_benchmark -- [--synthesize=DIR] [FILE...]
//
// Loads each FILE (default: the mask_rcnn fixture's model_final.pth and model_zoo.pkl from
// $D2X_FIXTURES_DIR) with LoadCheckpoint and prints the load time and the peak resident memory
// during the load (VmHWM from /proc/self/status, reset before each file through
// /proc/self/clear_refs). For a real ~170 MB R50 checkpoint pass its path, e.g. detectron2's
// model-zoo model_final_f10217.pkl or a model_final.pth of your own; --synthesize=DIR first writes
// DIR/synthetic_r50.pth and DIR/synthetic_r50.pkl (protocol-2 model-zoo format, numpy data as
// latin-1 text — the slowest case), ~170 MB of float32 weights each, and benchmarks them.
#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/checkpoint/checkpoint.h"
#include "core/checkpoint/test_pickle_writer.h"
#include "core/util/process_memory.h"

namespace {

using d2x::checkpoint::testing::PickleWriter;

double FileMiB(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  return in ? static_cast<double>(in.tellg()) / (1 << 20) : 0;
}

// ~170 MB of R50-like float32 weights: conv kernels of ResNet-50 sizes repeated.
std::vector<std::pair<std::string, std::vector<float>>> SyntheticWeights() {
  std::mt19937 rng(0);
  std::normal_distribution<float> normal(0.f, 0.05f);
  std::vector<std::pair<std::string, std::vector<float>>> out;
  const int64_t sizes[] = {64 * 3 * 49, 256 * 64, 64 * 64 * 9, 512 * 128, 128 * 128 * 9,
                           1024 * 256, 256 * 256 * 9, 2048 * 512, 512 * 512 * 9, 1024, 256};
  size_t total = 0;
  for (int i = 0; total < size_t{170} << 20; ++i) {
    std::vector<float> v(sizes[i % 11]);
    for (float& x : v) x = normal(rng);
    total += v.size() * 4;
    out.emplace_back(absl::StrCat("backbone.layer", i, ".weight"), std::move(v));
  }
  return out;
}

void Synthesize(const std::string& dir) {
  const auto weights = SyntheticWeights();
  {  // .pth: torch.save-style zip with one storage record per tensor.
    PickleWriter w;
    w.Proto(2).EmptyDict().Mark().Str("model").Global("collections", "OrderedDict").EmptyTuple();
    w.Reduce().Mark();
    for (size_t i = 0; i < weights.size(); ++i) {
      const int64_t n = static_cast<int64_t>(weights[i].second.size());
      w.Str(weights[i].first).TorchTensor("FloatStorage", std::to_string(i), n, 0, {n}, {1});
    }
    w.SetItems().Str("iteration").Int(0).SetItems().Stop();
    caffe2::serialize::PyTorchStreamWriter writer(dir + "/synthetic_r50.pth");
    writer.writeRecord("data.pkl", w.bytes().data(), w.bytes().size());
    for (size_t i = 0; i < weights.size(); ++i) {
      writer.writeRecord(absl::StrCat("data/", i), weights[i].second.data(),
                         weights[i].second.size() * 4);
    }
    writer.writeEndOfFile();
  }
  {  // .pkl: detectron2 model-zoo format, protocol 2.
    PickleWriter w;
    w.Proto(2).EmptyDict().Mark().Str("model").EmptyDict().Mark();
    for (const auto& [name, v] : weights) {
      w.Str(name).NumpyArray("f4", {static_cast<int64_t>(v.size())},
                             std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
    }
    w.SetItems().Str("__author__").Str("synthetic").SetItems().Stop();
    std::ofstream(dir + "/synthetic_r50.pkl", std::ios::binary)
        .write(w.bytes().data(), static_cast<std::streamsize>(w.bytes().size()));
  }
}

// Loads `path` in this (fresh) process and prints its table row.
int MeasureOne(const std::string& path) {
  d2x::util::ResetPeakRss();
  const double base = d2x::util::CurrentRssMiB();
  auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<d2x::checkpoint::Checkpoint> ckpt = d2x::checkpoint::LoadCheckpoint(path);
  auto t1 = std::chrono::steady_clock::now();
  const double peak = d2x::util::PeakRssMiB() - base;
  if (!ckpt.ok()) {
    std::printf("%s: %s\n", path.c_str(), std::string(ckpt.status().message()).c_str());
    return 1;
  }
  const double first_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  double data = 0;
  for (const auto& [name, t] : ckpt->tensors) data += static_cast<double>(t.nbytes());
  data /= 1 << 20;
  const std::string format = ckpt->format;
  const size_t count = ckpt->tensors.size();
  ckpt = absl::UnknownError("released");
  t0 = std::chrono::steady_clock::now();
  absl::StatusOr<d2x::checkpoint::Checkpoint> again = d2x::checkpoint::LoadCheckpoint(path);
  t1 = std::chrono::steady_clock::now();
  const double second_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  const std::string shown = path.size() > 40 ? "..." + path.substr(path.size() - 37) : path;
  std::printf("%-40s %-14s %7zu %8.1f %8.1f %9.1f %9.1f %8.1f %9.2f\n", shown.c_str(),
              format.c_str(), count, FileMiB(path), data, first_ms, second_ms, peak,
              peak / FileMiB(path));
  return again.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (absl::StartsWith(arg, "--one=")) return MeasureOne(arg.substr(std::strlen("--one=")));
    if (absl::StartsWith(arg, "--synthesize=")) {
      const std::string dir = arg.substr(std::strlen("--synthesize="));
      std::printf("writing synthetic checkpoints to %s ...\n", dir.c_str());
      Synthesize(dir);
      paths.push_back(dir + "/synthetic_r50.pth");
      paths.push_back(dir + "/synthetic_r50.pkl");
    } else {
      paths.push_back(arg);
    }
  }
  if (paths.empty()) {
    const char* fixtures = std::getenv("D2X_FIXTURES_DIR");
    const std::string dir = fixtures ? fixtures : "../shared/fixtures";
    paths = {dir + "/mask_rcnn/model_final.pth", dir + "/mask_rcnn/model_zoo.pkl"};
  }
  std::printf("%-40s %-14s %7s %8s %8s %9s %9s %8s %9s\n", "file", "format", "tensors", "file MB",
              "data MB", "load ms", "again ms", "peak MB", "peak/file");
  std::fflush(stdout);
  int failures = 0;
  for (const std::string& path : paths) {
    // Each file is measured in a fresh process so that peak memory is the load's alone.
    const std::string one = "--one=" + path;
    char* child_argv[] = {argv[0], const_cast<char*>(one.c_str()), nullptr};
    pid_t pid;
    if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, child_argv, environ) != 0) {
      std::printf("%s: cannot spawn the measuring process\n", path.c_str());
      ++failures;
      continue;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
  }
  std::printf("(load ms: first load in a fresh process, file in the page cache; again ms: a second "
              "load in the same process; peak MB: VmHWM during the first load minus VmRSS before "
              "it; data MB: tensor bytes)\n");
  return failures == 0 ? 0 : 1;
}
