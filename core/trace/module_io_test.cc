#include "core/trace/module_io.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/trace/trace.h"
#include "core/util/status_macros.h"

namespace d2x::trace {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  fs::path dir = fs::path(base != nullptr ? base : "/tmp") / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

torch::jit::Module Doubler() {
  TraceFunction fn = [](const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
    return {in[0] * 2};
  };
  auto module = TraceToModule(fn, {at::ones({2})}, {"x"}, "Doubler");
  EXPECT_TRUE(module.ok()) << module.status();
  return *std::move(module);
}

at::Tensor FakeNms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  return scores.argsort(/*stable=*/true, /*dim=*/0, /*descending=*/true);
}

// Traces a function calling `<ns>::nms` while a library registers it, saves the module, and
// unregisters the library (as if the process that exported the model had loaded it and this one
// had not). Loading the file then runs into LibTorch's "Unknown builtin op".
absl::Status SaveModuleCallingTemporaryOp(const std::string& ns, const std::string& path) {
  torch::Library library(torch::Library::DEF, ns, c10::nullopt, __FILE__, __LINE__);
  library.def("nms(Tensor boxes, Tensor scores, float iou_threshold) -> Tensor");
  library.impl("nms", torch::dispatch(c10::DispatchKey::CPU, TORCH_FN(FakeNms)));
  const auto op = c10::Dispatcher::singleton()
                      .findSchemaOrThrow((ns + "::nms").c_str(), "")
                      .typed<at::Tensor(const at::Tensor&, const at::Tensor&, double)>();
  TraceFunction fn = [&op](const std::vector<at::Tensor>& in) -> std::vector<at::Tensor> {
    return {op.call(in[0], in[1], 0.5)};
  };
  auto module = TraceToModule(fn, {at::rand({4, 4}), at::rand({4})}, {"boxes", "scores"}, "Nms");
  if (!module.ok()) return module.status();
  // Loads while the op exists.
  D2X_RETURN_IF_ERROR(SaveModule(*module, path));
  auto loaded = LoadModule(path);
  if (!loaded.ok()) return loaded.status();
  return absl::OkStatus();
}  // `library` unregisters the op here.

TEST(ModuleIoTest, SaveLoadWithExtraFiles) {
  const std::string dir = TempDir("save_load");
  const std::string path = dir + "/m.pt";
  ASSERT_TRUE(SaveModule(Doubler(), path, {{"d2x/output_schema.json", "{\"a\": 1}"}}).ok());
  // Atomic write: only the target is left in the directory.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "m.pt");
  }
  EXPECT_EQ(files, 1);

  // Overwriting works too.
  ASSERT_TRUE(SaveModule(Doubler(), path, {{"d2x/output_schema.json", "{\"a\": 2}"}}).ok());

  std::map<std::string, std::string> extra = {{"d2x/output_schema.json", ""},
                                              {"not/there", "unchanged"}};
  auto loaded = LoadModule(path, &extra);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(extra["d2x/output_schema.json"], "{\"a\": 2}");
  EXPECT_EQ(extra["not/there"], "unchanged");
  auto out = RunModule(*loaded, {at::ones({3})});
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(at::equal((*out)[0], at::full({3}, 2.0)));
}

TEST(ModuleIoTest, SaveErrors) {
  auto missing_dir = SaveModule(Doubler(), "/nonexistent-d2x-dir/m.pt");
  EXPECT_EQ(missing_dir.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing_dir.message()), HasSubstr("/nonexistent-d2x-dir"));
  const std::string dir = TempDir("save_errors");
  EXPECT_FALSE(SaveModule(Doubler(), dir).ok());
  EXPECT_FALSE(SaveModule(Doubler(), "").ok());
}

TEST(ModuleIoTest, LoadMissingFile) {
  auto loaded = LoadModule("/nonexistent-d2x-dir/m.pt");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("/nonexistent-d2x-dir/m.pt"));
}

TEST(ModuleIoTest, LoadCorruptFiles) {
  const std::string dir = TempDir("corrupt");
  const std::string garbage = dir + "/garbage.pt";
  std::ofstream(garbage) << "this is not a zip archive";
  auto loaded = LoadModule(garbage);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << loaded.status();
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("not a valid TorchScript archive"));

  // A real archive cut in half.
  const std::string good = dir + "/good.pt";
  ASSERT_TRUE(SaveModule(Doubler(), good).ok());
  const auto size = fs::file_size(good);
  const std::string truncated = dir + "/truncated.pt";
  fs::copy_file(good, truncated);
  fs::resize_file(truncated, size / 2);
  loaded = LoadModule(truncated);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << loaded.status();

  // A valid zip archive that is not a module: a tensor file (torch.save / torch::pickle_save).
  const std::string tensor_file = dir + "/tensor.pt";
  const std::vector<char> bytes = torch::jit::pickle_save(c10::IValue(at::ones({2})));
  std::ofstream(tensor_file, std::ios::binary).write(bytes.data(), bytes.size());
  loaded = LoadModule(tensor_file);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << loaded.status();

  // Empty file.
  const std::string empty = dir + "/empty.pt";
  std::ofstream(empty).close();
  loaded = LoadModule(empty);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << loaded.status();
}

TEST(ModuleIoTest, UnknownD2xOpAsksForLibD2xOps) {
  const std::string path = TempDir("unknown_op") + "/nms.pt";
  auto saved = SaveModuleCallingTemporaryOp("d2x", path);
  ASSERT_TRUE(saved.ok()) << saved;
  auto loaded = LoadModule(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition) << loaded.status();
  const std::string message(loaded.status().message());
  EXPECT_THAT(message, HasSubstr("d2x::nms"));
  EXPECT_THAT(message, HasSubstr("libd2x_ops.so"));
  EXPECT_THAT(message, HasSubstr("torch.ops.load_library"));
  EXPECT_THAT(message, HasSubstr("Unknown builtin op: d2x::nms"));
}

TEST(ModuleIoTest, UnknownOpOfAnotherNamespace) {
  const std::string path = TempDir("unknown_other_op") + "/op.pt";
  auto saved = SaveModuleCallingTemporaryOp("nonexistent_ns", path);
  ASSERT_TRUE(saved.ok()) << saved;
  auto loaded = LoadModule(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition) << loaded.status();
  const std::string message(loaded.status().message());
  EXPECT_THAT(message, HasSubstr("nonexistent_ns::nms"));
  EXPECT_THAT(message, HasSubstr("'nonexistent_ns' ops"));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("libd2x_ops.so")));
}

}  // namespace
}  // namespace d2x::trace
