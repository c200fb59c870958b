// libFuzzer target: arbitrary bytes as a config file (Config::FromYamlString).
//
// Checks that nothing crashes, hangs or leaks (ASan/UBSan), that every error is one line, and that
// a config that loads can be dumped, hashed and read back. Built and run by run_fuzzer.sh.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/config/config.h"

namespace {

void Check(bool ok, const char* what, const std::string& detail) {
  if (ok) return;
  std::fprintf(stderr, "config_fuzzer invariant failed: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void CheckOneLine(const absl::Status& s) {
  Check(std::string(s.message()).find('\n') == std::string::npos, "error message is one line",
        std::string(s.message()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using d2x::config::Config;
  const std::string text(reinterpret_cast<const char*>(data), size);
  // A directory that does not exist: relative _BASE_ files are never found.
  absl::StatusOr<Config> cfg = Config::FromYamlString(text, "/nonexistent-d2x-fuzz/input.yaml");
  if (!cfg.ok()) {
    CheckOneLine(cfg.status());
    return 0;
  }
  const std::string yaml = cfg->ToYaml();
  Check(cfg->Hash().size() == 16, "hash is 16 hex digits", cfg->Hash());
  // The dump is YAML we read back. It may be refused (yacs literal-evaluates strings again, so a
  // str "1" comes back as int 1), but never crash, and errors stay one line.
  absl::StatusOr<Config> again = Config::FromYamlString(yaml, "/nonexistent-d2x-fuzz/dump.yaml");
  if (!again.ok()) CheckOneLine(again.status());
  // Typed access on whatever was loaded.
  for (const char* key : {"MODEL.ANCHOR_GENERATOR.SIZES", "MODEL.PIXEL_MEAN", "MODEL.DEVICE",
                          "MODEL.ROI_HEADS.NUM_CLASSES", "NO.SUCH.KEY"}) {
    CheckOneLine(cfg->GetFloatListList(key).status());
    CheckOneLine(cfg->GetFloatList(key).status());
    CheckOneLine(cfg->GetString(key).status());
    CheckOneLine(cfg->GetInt(key).status());
  }
  return 0;
}
