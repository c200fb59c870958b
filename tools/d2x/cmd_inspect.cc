// `d2x inspect`: the resolved config, the tensors of a checkpoint, or an exported artifact's
// manifest and (--ir) TorchScript IR.
#include <ATen/ATen.h>
#include <torch/script.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/checkpoint/checkpoint.h"
#include "core/config/config.h"
#include "core/export/manifest.h"
#include "core/trace/ir_dump.h"
#include "core/trace/module_io.h"
#include "tools/d2x/command.h"
#include "tools/d2x/flags.h"
#include "tools/d2x/table.h"

ABSL_FLAG(bool, ir, false,
          "With --artifact: print the TorchScript code, graph and inlined graph (or write them "
          "into --output DIR, as detectron2's dump_torchscript_IR).");

namespace d2x::tool {
namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "d2x inspect: %s\n", std::string(status.message()).c_str());
  return 1;
}

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (bytes >= 1024 && u < 3) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %s", bytes, units[u]);
  return buf;
}

int InspectWeights(const std::string& path) {
  absl::StatusOr<checkpoint::Checkpoint> ckpt = checkpoint::LoadCheckpoint(path);
  if (!ckpt.ok()) return Fail(ckpt.status());
  Table table({"NAME", "DTYPE", "SHAPE", "NUMEL"});
  int64_t total = 0, bytes = 0;
  for (const auto& [name, t] : ckpt->tensors) {
    table.AddRow({name, std::string(c10::toString(t.scalar_type())),
                  "[" + absl::StrJoin(t.sizes(), ", ") + "]", std::to_string(t.numel())});
    total += t.numel();
    bytes += t.numel() * static_cast<int64_t>(t.element_size());
  }
  std::fputs(table.ToString().c_str(), stdout);
  std::printf("\n%s: format %s, %zu tensors, %lld values, %s\n", path.c_str(),
              ckpt->format.c_str(), ckpt->tensors.size(), static_cast<long long>(total),
              HumanBytes(static_cast<double>(bytes)).c_str());
  for (const auto& [key, value] : ckpt->metadata) {
    std::printf("  %s: %s\n", key.c_str(), value.c_str());
  }
  return 0;
}

std::string ShapeText(const exporting::TensorSpec& spec) {
  std::vector<std::string> dims;
  for (const auto& d : spec.shape) {
    dims.push_back(std::holds_alternative<int64_t>(d) ? std::to_string(std::get<int64_t>(d))
                                                      : std::get<std::string>(d));
  }
  return "[" + absl::StrJoin(dims, ", ") + "]";
}

int InspectArtifact(const std::string& dir) {
  absl::StatusOr<exporting::Manifest> m = exporting::ReadManifest(dir);
  if (!m.ok()) return Fail(m.status());
  std::printf("artifact %s\n  format %s%s, %s (flavor %s), model file %s\n", dir.c_str(),
              m->format.c_str(), m->method.empty() ? "" : (" (" + m->method + ")").c_str(),
              m->meta_architecture.c_str(), m->flavor.c_str(), m->model_file.c_str());
  std::printf("  required libraries: %s\n",
              m->required_libraries.empty() ? "none" : absl::StrJoin(m->required_libraries, ", ").c_str());
  std::printf("  d2x %s, torch %s; config %s (hash %s); weights %s\n", m->versions["d2x"].c_str(),
              m->versions["torch"].c_str(), m->config_file.c_str(), m->config_hash.c_str(),
              m->weights.c_str());
  const exporting::Preprocessing& p = m->preprocessing;
  std::printf("  preprocessing: %s pixels, mean [%s], std [%s], size divisibility %lld%s, "
              "test resize %lld..%lld\n",
              p.input_format.c_str(), absl::StrJoin(p.pixel_mean, ", ").c_str(),
              absl::StrJoin(p.pixel_std, ", ").c_str(),
              static_cast<long long>(p.size_divisibility),
              p.square_size > 0 ? absl::StrCat(", square ", p.square_size).c_str() : "",
              static_cast<long long>(p.min_size_test), static_cast<long long>(p.max_size_test));
  Table table({"", "NAME", "DTYPE", "SHAPE"});
  for (const auto& s : m->inputs) table.AddRow({"input", s.name, s.dtype, ShapeText(s)});
  for (const auto& s : m->outputs) table.AddRow({"output", s.name, s.dtype, ShapeText(s)});
  std::printf("\n%s", table.ToString().c_str());
  for (const auto& [key, value] : m->properties) {
    std::printf("  %s: %s\n", key.c_str(), value.c_str());
  }
  return 0;
}

// --ir: the TorchScript code, graph and inlined graph (detectron2's dump_torchscript_IR), to
// stdout, or as files into --output DIR.
int DumpArtifactIr(const std::string& dir) {
  absl::StatusOr<exporting::Manifest> m = exporting::ReadManifest(dir);
  if (!m.ok()) return Fail(m.status());
  if (m->format != "torchscript") {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "--ir dumps TorchScript; artifact ", dir, " is in format ", m->format)));
  }
  absl::StatusOr<torch::jit::Module> module =
      trace::LoadModule((std::filesystem::path(dir) / m->model_file).string());
  if (!module.ok()) return Fail(module.status());
  if (const std::string out = absl::GetFlag(FLAGS_output); !out.empty()) {
    if (absl::Status s = trace::DumpTorchScriptIR(*module, out); !s.ok()) return Fail(s);
    std::printf("wrote %s/{%s,%s,%s,%s}\n", out.c_str(), trace::kCodeFile, trace::kIrFile,
                trace::kInlinedIrFile, trace::kModelFile);
    return 0;
  }
  absl::StatusOr<trace::TorchScriptIR> ir = trace::GetTorchScriptIR(*module);
  if (!ir.ok()) return Fail(ir.status());
  std::printf("==== code (%s) ====\n%s\n==== graph (%s) ====\n%s\n==== inlined graph (%s) "
              "====\n%s\n",
              trace::kCodeFile, ir->code.c_str(), trace::kIrFile, ir->ir.c_str(),
              trace::kInlinedIrFile, ir->inlined_ir.c_str());
  return 0;
}

}  // namespace

int RunInspect(CommandContext& context) {
  const std::string config_path = absl::GetFlag(FLAGS_config);
  const std::string weights = absl::GetFlag(FLAGS_weights);
  if (const std::string artifact = absl::GetFlag(FLAGS_artifact); !artifact.empty()) {
    if (absl::GetFlag(FLAGS_ir)) return DumpArtifactIr(artifact);
    return InspectArtifact(artifact);
  }
  if (config_path.empty() && weights.empty()) {
    return Fail(absl::InvalidArgumentError(
        "give --config FILE [--opts K V ...], --weights FILE or --artifact DIR [--ir]"));
  }
  if (!config_path.empty()) {
    absl::StatusOr<config::Config> config = config::Config::FromFile(config_path, context.opts);
    if (!config.ok()) return Fail(config.status());
    std::fputs(config->ToYaml().c_str(), stdout);
  }
  if (!weights.empty()) return InspectWeights(weights);
  return 0;
}

}  // namespace d2x::tool
