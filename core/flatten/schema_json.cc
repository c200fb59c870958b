#include "core/flatten/schema_json.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace d2x::flatten {

namespace {

using Json = nlohmann::ordered_json;

constexpr char kIdentity[] = "detectron2.export.flatten.IdentitySchema";
constexpr char kList[] = "detectron2.export.flatten.ListSchema";
constexpr char kTuple[] = "detectron2.export.flatten.TupleSchema";
constexpr char kDict[] = "detectron2.export.flatten.DictSchema";
constexpr char kInstances[] = "detectron2.export.flatten.InstancesSchema";
constexpr char kTensorWrap[] = "detectron2.export.flatten.TensorWrapSchema";

// ---- writing -------------------------------------------------------------------------------

Json ToJson(const Schema& schema) {
  Json j = Json::object();
  j["_target_"] = schema.target();
  switch (schema.kind()) {
    case Schema::Kind::kIdentity:
      break;
    case Schema::Kind::kTensorWrap:
      j["class_name"] = static_cast<const TensorWrapSchema&>(schema).class_name();
      break;
    case Schema::Kind::kList:
    case Schema::Kind::kTuple:
    case Schema::Kind::kDict:
    case Schema::Kind::kInstances: {
      const auto& list = static_cast<const ListSchema&>(schema);
      Json schemas = Json::array();
      for (const auto& s : list.schemas()) schemas.push_back(ToJson(*s));
      j["schemas"] = std::move(schemas);
      j["sizes"] = list.sizes();
      if (schema.kind() == Schema::Kind::kDict || schema.kind() == Schema::Kind::kInstances) {
        j["keys"] = static_cast<const DictSchema&>(schema).keys();
      }
      break;
    }
  }
  return j;
}

void AppendEscapedCodeUnit(uint32_t unit, std::string* out) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "\\u%04x", unit);
  out->append(buf);
}

// Python's json.dumps(ensure_ascii=True) string encoding.
void AppendPythonString(const std::string& s, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        case '\t':
          out->append("\\t");
          break;
        case '\b':
          out->append("\\b");
          break;
        case '\f':
          out->append("\\f");
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            AppendEscapedCodeUnit(c, out);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // UTF-8 (nlohmann validated it when parsing; our own strings are ASCII names).
    int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
    uint32_t cp = c & (0x3f >> extra);
    for (int k = 1; k <= extra && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    }
    i += extra + 1;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      AppendEscapedCodeUnit(0xd800 + (cp >> 10), out);
      AppendEscapedCodeUnit(0xdc00 + (cp & 0x3ff), out);
    } else {
      AppendEscapedCodeUnit(cp, out);
    }
  }
  out->push_back('"');
}

// Python's json.dumps default layout: ", " between items, ": " after keys, no newlines.
void AppendPython(const Json& j, std::string* out) {
  switch (j.type()) {
    case Json::value_t::object: {
      out->push_back('{');
      bool first = true;
      for (const auto& [key, value] : j.items()) {
        if (!first) out->append(", ");
        first = false;
        AppendPythonString(key, out);
        out->append(": ");
        AppendPython(value, out);
      }
      out->push_back('}');
      break;
    }
    case Json::value_t::array: {
      out->push_back('[');
      for (size_t i = 0; i < j.size(); ++i) {
        if (i) out->append(", ");
        AppendPython(j[i], out);
      }
      out->push_back(']');
      break;
    }
    case Json::value_t::string:
      AppendPythonString(j.get_ref<const std::string&>(), out);
      break;
    default:  // integers (sizes), null, booleans: same text in both
      out->append(j.dump());
  }
}

// ---- reading -------------------------------------------------------------------------------

absl::Status Error(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("schema JSON at ", path, ": ", what));
}

absl::StatusOr<const Json*> Field(const Json& j, const std::string& path, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return Error(path, absl::StrCat("missing field \"", key, "\""));
  return &*it;
}

absl::StatusOr<std::unique_ptr<Schema>> Parse(const Json& j, const std::string& path);

absl::StatusOr<std::unique_ptr<Schema>> ParseList(const Json& j, const std::string& path,
                                                  const std::string& target) {
  D2X_ASSIGN_OR_RETURN(const Json* schemas_json, Field(j, path, "schemas"));
  D2X_ASSIGN_OR_RETURN(const Json* sizes_json, Field(j, path, "sizes"));
  if (!schemas_json->is_array()) return Error(path + ".schemas", "expected a list of schemas");
  if (!sizes_json->is_array()) return Error(path + ".sizes", "expected a list of integers");
  if (sizes_json->size() != schemas_json->size()) {
    return Error(path, absl::StrCat("\"sizes\" has ", sizes_json->size(), " entries but \"schemas\" has ",
                                    schemas_json->size()));
  }
  std::vector<std::unique_ptr<Schema>> schemas;
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < schemas_json->size(); ++i) {
    const std::string element_path = absl::StrCat(path, ".schemas[", i, "]");
    D2X_ASSIGN_OR_RETURN(std::unique_ptr<Schema> schema, Parse((*schemas_json)[i], element_path));
    const Json& size = (*sizes_json)[i];
    if (!size.is_number_integer()) {
      return Error(absl::StrCat(path, ".sizes[", i, "]"), "expected an integer");
    }
    const int64_t n = size.get<int64_t>();
    if (n != schema->flat_size()) {
      return Error(absl::StrCat(path, ".sizes[", i, "]"),
                   absl::StrCat("size ", n, " does not match its schema, which takes ",
                                schema->flat_size(), " values"));
    }
    schemas.push_back(std::move(schema));
    sizes.push_back(n);
  }
  if (target == kList) return std::make_unique<ListSchema>(std::move(schemas), std::move(sizes));
  if (target == kTuple) return std::make_unique<TupleSchema>(std::move(schemas), std::move(sizes));

  D2X_ASSIGN_OR_RETURN(const Json* keys_json, Field(j, path, "keys"));
  if (!keys_json->is_array() || keys_json->size() != schemas.size()) {
    return Error(path + ".keys",
                 absl::StrCat("expected a list of ", schemas.size(), " strings (one per schema)"));
  }
  std::vector<std::string> keys;
  for (size_t i = 0; i < keys_json->size(); ++i) {
    if (!(*keys_json)[i].is_string()) {
      return Error(absl::StrCat(path, ".keys[", i, "]"), "expected a string");
    }
    keys.push_back((*keys_json)[i].get<std::string>());
    if (i > 0 && !(keys[i - 1] < keys[i])) {
      return Error(path + ".keys", "keys must be sorted and unique, as detectron2 writes them");
    }
  }
  if (target == kDict) {
    return std::make_unique<DictSchema>(std::move(schemas), std::move(sizes), std::move(keys));
  }
  return std::make_unique<InstancesSchema>(std::move(schemas), std::move(sizes), std::move(keys));
}

absl::StatusOr<std::unique_ptr<Schema>> Parse(const Json& j, const std::string& path) {
  if (j.is_null()) {
    return Error(path,
                 "the schema is null: the value was flattened with allow_non_tensor and cannot be "
                 "rebuilt");
  }
  if (!j.is_object()) return Error(path, "expected an object with \"_target_\"");
  D2X_ASSIGN_OR_RETURN(const Json* target_json, Field(j, path, "_target_"));
  if (!target_json->is_string()) return Error(path + "._target_", "expected a string");
  const std::string target = target_json->get<std::string>();
  if (target == kIdentity) return std::make_unique<IdentitySchema>();
  if (target == kTensorWrap) {
    D2X_ASSIGN_OR_RETURN(const Json* name, Field(j, path, "class_name"));
    if (!name->is_string() || name->get_ref<const std::string&>().empty()) {
      return Error(path + ".class_name", "expected a class name such as \"detectron2.structures.Boxes\"");
    }
    return std::make_unique<TensorWrapSchema>(name->get<std::string>());
  }
  if (target == kList || target == kTuple || target == kDict || target == kInstances) {
    return ParseList(j, path, target);
  }
  return Error(path + "._target_",
               absl::StrCat("unknown schema class \"", target,
                            "\" (expected detectron2.export.flatten.{Identity,List,Tuple,Dict,"
                            "Instances,TensorWrap}Schema)"));
}

}  // namespace

std::string SchemaToJson(const Schema& schema) {
  std::string out;
  AppendPython(ToJson(schema), &out);
  return out;
}

absl::StatusOr<std::unique_ptr<Schema>> SchemaFromJson(std::string_view json) {
  Json j;
  try {
    j = Json::parse(json.begin(), json.end());
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("schema JSON: not valid JSON: ", e.what()));
  }
  return Parse(j, "$");
}

}  // namespace d2x::flatten
