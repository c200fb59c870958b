// d2x_artifact_check: loads an exported artifact the way a deployment does, in a process that
// does NOT link d2x's ops (so the artifact's own libd2x_ops.so is what registers them). `d2x
// doctor --artifact DIR` runs it as a child process: loading libd2x_ops.so inside the d2x process
// would abort, because d2x already registers the d2x:: ops.
//
//   d2x_artifact_check DIR [--run]
//
// Prints one line per check ("ok <what>" / "PROBLEM <what>: <why>") and exits 0 when everything
// loads (and, with --run, a forward on a small blank batch of the manifest's contract succeeds),
// 1 otherwise.
#include <dlfcn.h>
#include <elf.h>

#include <torch/script.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/export/manifest.h"
#include "core/trace/module_io.h"
#include "core/trace/trace.h"

namespace {
namespace fs = std::filesystem;

int problems = 0;

void Ok(const std::string& what) { std::printf("ok       %s\n", what.c_str()); }
void Problem(const std::string& what) {
  std::printf("PROBLEM  %s\n", what.c_str());
  ++problems;
}

// Checks that `path` is a complete 64-bit ELF shared object: every loadable segment and the
// section headers lie inside the file. dlopen of a truncated library can die with SIGBUS instead
// of failing, so this runs first.
std::string ElfProblem(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return "cannot open it";
  std::fseek(f, 0, SEEK_END);
  const long size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  Elf64_Ehdr eh;
  std::string problem;
  if (size < static_cast<long>(sizeof(eh)) || std::fread(&eh, sizeof(eh), 1, f) != 1 ||
      std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) {
    problem = "not a 64-bit ELF file";
  } else if (eh.e_type != ET_DYN) {
    problem = "not a shared object";
  } else if (eh.e_shoff + static_cast<uint64_t>(eh.e_shnum) * eh.e_shentsize >
             static_cast<uint64_t>(size)) {
    problem = "truncated (section headers beyond the end of the file)";
  } else {
    for (int i = 0; i < eh.e_phnum && problem.empty(); ++i) {
      Elf64_Phdr ph;
      if (std::fseek(f, static_cast<long>(eh.e_phoff + i * eh.e_phentsize), SEEK_SET) != 0 ||
          std::fread(&ph, sizeof(ph), 1, f) != 1) {
        problem = "truncated (program headers)";
      } else if (ph.p_type == PT_LOAD &&
                 ph.p_offset + ph.p_filesz > static_cast<uint64_t>(size)) {
        problem = "truncated (a loadable segment extends beyond the end of the file)";
      }
    }
  }
  std::fclose(f);
  return problem;
}

// A blank batch of one 64x64 image in the detector contract (images, image_sizes, output_sizes).
std::vector<at::Tensor> BlankDetectorInputs(const d2x::exporting::Manifest& m) {
  int64_t side = 64;
  const int64_t d = m.preprocessing.size_divisibility;
  if (d > 1) side = (side + d - 1) / d * d;
  if (m.preprocessing.square_size > 0) side = m.preprocessing.square_size;
  const int64_t channels = static_cast<int64_t>(m.preprocessing.pixel_mean.size());
  at::Tensor sizes = at::full({1, 2}, side, at::kLong);
  return {at::zeros({1, channels, side, side}, at::kFloat), sizes, sizes.clone()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3 || (argc == 3 && std::strcmp(argv[2], "--run") != 0)) {
    std::fprintf(stderr, "usage: d2x_artifact_check ARTIFACT_DIR [--run]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines reach the parent even if a load crashes
  const std::string dir = argv[1];
  const bool run = argc == 3;
  absl::StatusOr<d2x::exporting::Manifest> manifest = d2x::exporting::ReadManifest(dir);
  if (!manifest.ok()) {
    Problem(std::string(manifest.status().message()));
    return 1;
  }
  Ok("manifest.json (format " + manifest->format +
     (manifest->method.empty() ? "" : ", method " + manifest->method) + ", " +
     manifest->meta_architecture + ")");
  for (const std::string& file : manifest->files) {
    std::error_code ec;
    if (!fs::is_regular_file(fs::path(dir) / file, ec)) Problem("missing file " + file);
  }
  for (const std::string& lib : manifest->required_libraries) {
    const std::string path = (fs::path(dir) / lib).string();
    if (const std::string elf = ElfProblem(path); !elf.empty()) {
      Problem("required library " + lib + " is broken: " + elf);
      continue;
    }
    // RTLD_GLOBAL, as torch.ops.load_library does: the ops register from static initializers.
    if (dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      const char* err = dlerror();
      Problem("required library " + lib + " does not load: " + (err ? err : "unknown error"));
    } else {
      Ok("required library " + lib + " loads");
    }
  }
  if (manifest->format != "torchscript") {
    // Such formats load no library of d2x ops: `d2x doctor` loads and runs them with their runner.
    Ok("format " + manifest->format + ": no library to load; the model is checked by its runner");
    return problems == 0 ? 0 : 1;
  }
  const std::string model = (fs::path(dir) / manifest->model_file).string();
  absl::StatusOr<torch::jit::Module> module = d2x::trace::LoadModule(model);
  if (!module.ok()) {
    Problem(std::string(module.status().message()));
    return 1;
  }
  Ok(manifest->model_file + " loads (torch.jit.load)");
  if (run) {
    if (manifest->method == "scripting") {
      try {
        c10::NoGradGuard no_grad;
        std::vector<at::Tensor> inputs = BlankDetectorInputs(*manifest);
        c10::List<at::Tensor> images({inputs[0][0]});
        c10::IValue out = module->forward({images});
        Ok("forward(List[Tensor]) on a blank " + std::to_string(inputs[0].size(2)) + "x" +
           std::to_string(inputs[0].size(3)) + " image returns " +
           std::to_string(out.toListRef().size()) + " result(s)");
      } catch (const std::exception& e) {
        Problem(std::string("forward on a blank image failed: ") + e.what());
      }
    } else {
      std::vector<at::Tensor> inputs = BlankDetectorInputs(*manifest);
      absl::StatusOr<std::vector<at::Tensor>> out = d2x::trace::RunModule(*module, inputs);
      if (out.ok()) {
        Ok("forward on a blank " + std::to_string(inputs[0].size(2)) + "x" +
           std::to_string(inputs[0].size(3)) + " image returns " + std::to_string(out->size()) +
           " outputs");
      } else {
        Problem(std::string(out.status().message()));
      }
    }
  }
  return problems == 0 ? 0 : 1;
}
