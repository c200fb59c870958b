#include "core/config/config.h"

#include <exception>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/config/defaults.h"
#include "core/config/loader.h"
#include "core/config/merge.h"
#include "core/config/value.h"
#include "core/config/yaml_writer.h"
#include "core/util/status_macros.h"

namespace d2x::config {

using internal::Value;

namespace {

// Messages stay on one line whatever file names or values they quote.
absl::Status OneLine(const absl::Status& s) {
  if (s.ok()) return s;
  if (s.message().find_first_of("\r\n") == absl::string_view::npos) return s;
  return absl::Status(s.code(), absl::StrReplaceAll(s.message(), {{"\n", "\\n"}, {"\r", "\\r"}}));
}

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Runs `fn` (returning absl::Status) with no exception escaping.
template <typename Fn>
absl::Status Guarded(absl::string_view what, Fn&& fn) {
  try {
    return OneLine(fn());
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of memory"));
  } catch (const std::exception& e) {
    return OneLine(absl::InternalError(absl::StrCat(what, ": ", e.what())));
  } catch (...) {
    return absl::InternalError(absl::StrCat(what, ": unknown exception"));
  }
}

absl::Status KeyError(std::string_view key, absl::string_view expected, const Value& v) {
  return absl::InvalidArgumentError(absl::StrCat("config key '", Sv(key), "': expected ", expected,
                                                 ", got ", internal::KindName(v.kind), " ",
                                                 internal::Repr(v)));
}

}  // namespace

Config Config::Defaults() {
  static const auto* const defaults =
      new std::shared_ptr<const Value>(std::make_shared<const Value>(internal::DefaultTree()));
  return Config(*defaults);
}

Config::Config() : Config(Defaults()) {}

absl::StatusOr<Config> Config::FromFile(const std::string& path,
                                        const std::vector<std::string>& opts) {
  Config cfg = Defaults();
  D2X_RETURN_IF_ERROR(cfg.MergeFromFile(path));
  D2X_RETURN_IF_ERROR(cfg.MergeFromList(opts));
  return cfg;
}

absl::StatusOr<Config> Config::FromYamlString(std::string_view text, const std::string& name,
                                              const std::vector<std::string>& opts) {
  Config cfg = Defaults();
  D2X_RETURN_IF_ERROR(cfg.MergeFromYamlString(text, name));
  D2X_RETURN_IF_ERROR(cfg.MergeFromList(opts));
  return cfg;
}

absl::Status Config::MergeLoaded(const Value& loaded, const std::string& name) {
  Value merged = *root_;
  D2X_RETURN_IF_ERROR(internal::MergeLoadedFile(merged, loaded, name));
  root_ = std::make_shared<const Value>(std::move(merged));
  source_ = name;
  return absl::OkStatus();
}

absl::Status Config::MergeFromFile(const std::string& path) {
  return Guarded(path, [&]() -> absl::Status {
    D2X_ASSIGN_OR_RETURN(Value loaded, internal::LoadYamlWithBase(path));
    return MergeLoaded(loaded, path);
  });
}

absl::Status Config::MergeFromYamlString(std::string_view text, const std::string& name) {
  return Guarded(name, [&]() -> absl::Status {
    D2X_ASSIGN_OR_RETURN(Value loaded, internal::LoadYamlTextWithBase(Sv(text), name));
    return MergeLoaded(loaded, name);
  });
}

absl::Status Config::MergeFromList(const std::vector<std::string>& key_values) {
  if (key_values.empty()) return absl::OkStatus();
  return Guarded("config override", [&]() -> absl::Status {
    Value merged = *root_;
    D2X_RETURN_IF_ERROR(internal::MergeKeyValues(merged, key_values));
    root_ = std::make_shared<const Value>(std::move(merged));
    return absl::OkStatus();
  });
}

absl::StatusOr<const Value*> Config::Lookup(std::string_view key) const {
  const Value* v = internal::FindPath(*root_, Sv(key));
  if (v != nullptr) return v;
  std::string msg = absl::StrCat("config has no key '", Sv(key), "'");
  const std::string closest = internal::ClosestKey(*root_, Sv(key));
  if (!closest.empty()) absl::StrAppend(&msg, " (did you mean '", closest, "'?)");
  return OneLine(absl::NotFoundError(msg));
}

absl::StatusOr<bool> Config::GetBool(std::string_view key) const {
  D2X_ASSIGN_OR_RETURN(const Value* v, Lookup(key));
  if (v->kind != Value::Kind::kBool) return KeyError(key, "bool", *v);
  return v->b;
}

absl::StatusOr<int64_t> Config::GetInt(std::string_view key) const {
  D2X_ASSIGN_OR_RETURN(const Value* v, Lookup(key));
  if (v->kind != Value::Kind::kInt) return KeyError(key, "int", *v);
  return v->i;
}

absl::StatusOr<double> Config::GetFloat(std::string_view key) const {
  D2X_ASSIGN_OR_RETURN(const Value* v, Lookup(key));
  if (v->kind == Value::Kind::kInt) return static_cast<double>(v->i);
  if (v->kind != Value::Kind::kFloat) return KeyError(key, "float", *v);
  return v->f;
}

absl::StatusOr<std::string> Config::GetString(std::string_view key) const {
  D2X_ASSIGN_OR_RETURN(const Value* v, Lookup(key));
  if (v->kind != Value::Kind::kString) return KeyError(key, "str", *v);
  return v->s;
}

absl::StatusOr<std::vector<int64_t>> Config::GetIntList(std::string_view key) const {
  D2X_ASSIGN_OR_RETURN(const Value* v, Lookup(key));
  if (!v->is_sequence()) return KeyError(key, "a list of ints", *v);
  std::vector<int64_t> out;
  for (const Value& item : v->items) {
    if (item.kind != Value::Kind::kInt) return KeyError(key, "a list of ints", *v);
    out.push_back(item.i);
  }
  return out;
}

absl::StatusOr<std::vector<double>> Config::GetFloatList(std::string_view key) const {
  D2X_ASSIGN_OR_RETURN(const Value* v, Lookup(key));
  if (!v->is_sequence()) return KeyError(key, "a list of numbers", *v);
  std::vector<double> out;
  for (const Value& item : v->items) {
    if (!item.is_number()) return KeyError(key, "a list of numbers", *v);
    out.push_back(item.kind == Value::Kind::kInt ? static_cast<double>(item.i) : item.f);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> Config::GetStringList(std::string_view key) const {
  D2X_ASSIGN_OR_RETURN(const Value* v, Lookup(key));
  if (!v->is_sequence()) return KeyError(key, "a list of str", *v);
  std::vector<std::string> out;
  for (const Value& item : v->items) {
    if (item.kind != Value::Kind::kString) return KeyError(key, "a list of str", *v);
    out.push_back(item.s);
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<double>>> Config::GetFloatListList(
    std::string_view key) const {
  D2X_ASSIGN_OR_RETURN(const Value* v, Lookup(key));
  constexpr const char kExpected[] = "a list of lists of numbers";
  if (!v->is_sequence()) return KeyError(key, kExpected, *v);
  std::vector<std::vector<double>> out;
  for (const Value& row : v->items) {
    if (!row.is_sequence()) return KeyError(key, kExpected, *v);
    std::vector<double>& r = out.emplace_back();
    for (const Value& item : row.items) {
      if (!item.is_number()) return KeyError(key, kExpected, *v);
      r.push_back(item.kind == Value::Kind::kInt ? static_cast<double>(item.i) : item.f);
    }
  }
  return out;
}

bool Config::Has(std::string_view key) const {
  return internal::FindPath(*root_, Sv(key)) != nullptr;
}

bool Config::IsNone(std::string_view key) const {
  const Value* v = internal::FindPath(*root_, Sv(key));
  return v != nullptr && v->kind == Value::Kind::kNone;
}

std::string Config::ToYaml() const { return internal::DumpYaml(*root_); }

std::string Config::Hash() const {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64.
  for (unsigned char c : ToYaml()) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return absl::StrCat(absl::Hex(h, absl::kZeroPad16));
}

bool Config::operator==(const Config& other) const {
  return root_ == other.root_ ||
         internal::Equal(*root_, *other.root_, /*list_equals_tuple=*/true);
}

}  // namespace d2x::config
