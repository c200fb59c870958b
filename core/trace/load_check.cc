// Part of //core/trace:python_interop_test. Links core/trace but not d2x's ops:
//   1. LoadModule(<dir>/nms.pt) must fail with FailedPrecondition and the libd2x_ops.so hint;
//   2. after dlopen(<libd2x_ops.so>, RTLD_NOW | RTLD_GLOBAL) it loads, and its output at another
//      box count equals the eager output recorded by write_test_module.
#include <dlfcn.h>

#include <torch/script.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "core/trace/module_io.h"
#include "core/trace/trace.h"

namespace {

int Fail(const std::string& what) {
  std::cerr << "load_check: FAILED: " << what << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return Fail("usage: load_check <dir> <libd2x_ops.so>");
  const std::string dir = argv[1];
  const std::string path = dir + "/nms.pt";

  auto missing = d2x::trace::LoadModule(path);
  if (missing.ok()) return Fail("nms.pt loaded although d2x::nms is not registered");
  const std::string message(missing.status().message());
  std::cout << "without the op library: " << missing.status() << "\n";
  if (missing.status().code() != absl::StatusCode::kFailedPrecondition ||
      message.find("d2x::nms") == std::string::npos ||
      message.find("libd2x_ops.so") == std::string::npos) {
    return Fail("unexpected error: " + missing.status().ToString());
  }

  if (dlopen(argv[2], RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    return Fail(std::string("dlopen: ") + dlerror());
  }
  auto loaded = d2x::trace::LoadModule(path);
  if (!loaded.ok()) return Fail(loaded.status().ToString());

  std::ifstream f(dir + "/data.pt", std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const c10::Dict<c10::IValue, c10::IValue> data = torch::jit::pickle_load(bytes).toGenericDict();
  auto get = [&data](const char* key) { return data.at(c10::IValue(key)).toTensor(); };
  auto out = d2x::trace::RunModule(*loaded, {get("nms_boxes"), get("nms_scores")});
  if (!out.ok()) return Fail(out.status().ToString());
  if (!at::equal((*out)[0], get("nms_keep")) || !at::equal((*out)[1], get("nms_kept_boxes"))) {
    return Fail("nms.pt output differs from the eager output");
  }
  std::cout << "after loading " << argv[2] << ": nms.pt runs, " << (*out)[0].size(0) << " of "
            << get("nms_boxes").size(0) << " boxes kept, equal to eager\n";
  return 0;
}
