#include "core/config/loader.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/config/yaml_reader.h"
#include "core/util/status_macros.h"

namespace d2x::config::internal {
namespace {

namespace fs = std::filesystem;

constexpr const char kBaseKey[] = "_BASE_";
constexpr uintmax_t kMaxFileBytes = 16 << 20;
constexpr size_t kMaxDepth = 32;    // Nested _BASE_ levels.
constexpr int kMaxFiles = 1000;     // Files read for one load (diamonds re-read bases).

struct LoadState {
  std::vector<std::string> stack;  // Files being loaded, outermost first (as given).
  std::vector<std::string> canonical;
  int files = 0;
};

std::string Canonical(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::path(path), ec);
  if (ec) return fs::path(path).lexically_normal().string();
  return p.string();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    return absl::NotFoundError(absl::StrCat("config file '", path, "' does not exist"));
  }
  if (!fs::is_regular_file(st)) {
    return absl::InvalidArgumentError(absl::StrCat("config file '", path,
                                                   "' is not a regular file"));
  }
  const uintmax_t size = fs::file_size(path, ec);
  if (ec || size > kMaxFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file '", path, "' is too large (over ", kMaxFileBytes, " bytes)"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open config file '", path, "'"));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading config file '", path, "'"));
  return text.str();
}

// fvcore's merge_a_into_b on plain dicts: values of `a` overwrite `b`, mappings merge.
absl::Status MergeDicts(const Value& a, Value& b, const std::string& prefix,
                        const std::string& file) {
  for (size_t k = 0; k < a.keys.size(); ++k) {
    const std::string& key = a.keys[k];
    const Value& v = a.items[k];
    Value* existing = b.Find(key);
    if (v.is_node() && existing != nullptr) {
      if (!existing->is_node()) {
        return absl::InvalidArgumentError(absl::StrCat(
            v.origin.empty() ? file : v.origin, ": cannot inherit key '", prefix, key,
            "' from base: it is a mapping here but a ", KindName(existing->kind), " in the base"));
      }
      D2X_RETURN_IF_ERROR(MergeDicts(v, *existing, absl::StrCat(prefix, key, "."), file));
    } else {
      b.Set(key, v);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Value> LoadFile(const std::string& path, LoadState& state);

absl::StatusOr<Value> LoadText(absl::string_view text, const std::string& name, LoadState& state) {
  D2X_ASSIGN_OR_RETURN(Value cfg, ParseYaml(text, name));
  const Value* base = cfg.Find(kBaseKey);
  if (base == nullptr) return cfg;
  std::vector<std::string> files;
  if (base->kind == Value::Kind::kString) {
    files.push_back(base->s);
  } else if (base->kind == Value::Kind::kList) {
    for (const Value& f : base->items) {
      if (f.kind != Value::Kind::kString) {
        return absl::InvalidArgumentError(absl::StrCat(
            base->origin, ": _BASE_ entries must be file names, got ", KindName(f.kind), " ",
            Repr(f)));
      }
      files.push_back(f.s);
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        base->origin, ": _BASE_ must be a file name or a list of file names, got ",
        KindName(base->kind), " ", Repr(*base)));
  }
  const std::string where = base->origin;
  Value merged = Value::Node();
  for (const std::string& file : files) {
    std::string path = file;
    if (path.rfind("~", 0) == 0) {
      const char* home = std::getenv("HOME");
      if (home != nullptr) path = absl::StrCat(home, path.substr(1));
    }
    if (path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0) {
      return absl::UnimplementedError(
          absl::StrCat(where, ": remote _BASE_ '", file, "' is not supported; download it"));
    }
    if (path.rfind("/", 0) != 0) path = (fs::path(name).parent_path() / path).string();
    absl::StatusOr<Value> loaded = LoadFile(path, state);
    if (!loaded.ok()) {
      if (absl::IsNotFound(loaded.status())) {
        return absl::NotFoundError(
            absl::StrCat(where, ": _BASE_ '", file, "': ", loaded.status().message()));
      }
      return loaded.status();
    }
    if (files.size() == 1) {
      merged = *std::move(loaded);
    } else {
      D2X_RETURN_IF_ERROR(MergeDicts(*loaded, merged, "", path));
    }
  }
  cfg.Erase(kBaseKey);
  D2X_RETURN_IF_ERROR(MergeDicts(cfg, merged, "", name));
  return merged;
}

absl::StatusOr<Value> LoadFile(const std::string& path, LoadState& state) {
  const std::string canonical = Canonical(path);
  for (size_t k = 0; k < state.canonical.size(); ++k) {
    if (state.canonical[k] == canonical) {
      std::vector<std::string> chain(state.stack.begin() + k, state.stack.end());
      chain.push_back(path);
      return absl::InvalidArgumentError(
          absl::StrCat("_BASE_ cycle: ", absl::StrJoin(chain, " -> ")));
    }
  }
  if (state.stack.size() >= kMaxDepth) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": _BASE_ chain deeper than ", kMaxDepth, " files (from ", state.stack.front(), ")"));
  }
  if (++state.files > kMaxFiles) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": more than ", kMaxFiles, " _BASE_ files read"));
  }
  D2X_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  state.stack.push_back(path);
  state.canonical.push_back(canonical);
  absl::StatusOr<Value> result = LoadText(text, path, state);
  state.stack.pop_back();
  state.canonical.pop_back();
  return result;
}

}  // namespace

absl::StatusOr<Value> LoadYamlWithBase(const std::string& path) {
  LoadState state;
  return LoadFile(path, state);
}

absl::StatusOr<Value> LoadYamlTextWithBase(absl::string_view text, const std::string& name) {
  LoadState state;
  state.stack.push_back(name);
  state.canonical.push_back(Canonical(name));
  return LoadText(text, name, state);
}

}  // namespace d2x::config::internal
