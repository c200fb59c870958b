#include "core/checkpoint/pickle_object.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/checkpoint/pickle_text.h"

namespace d2x::checkpoint::pickle {

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kBigInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kStr: return "str";
    case Kind::kBytes: return "bytes";
    case Kind::kList: return "list";
    case Kind::kTuple: return "tuple";
    case Kind::kDict: return "dict";
    case Kind::kSet: return "set";
    case Kind::kFrozenSet: return "frozenset";
    case Kind::kGlobal: return "global";
    case Kind::kOpaque: return "placeholder";
    case Kind::kStorage: return "storage";
    case Kind::kTensor: return "tensor";
    case Kind::kNdArray: return "numpy.ndarray";
    case Kind::kDType: return "numpy.dtype";
  }
  return "?";
}

int DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kUnsupported: return 0;
    case DType::kFloat32: return 4;
    case DType::kFloat64: return 8;
    case DType::kFloat16: return 2;
    case DType::kBFloat16: return 2;
    case DType::kInt8: return 1;
    case DType::kUInt8: return 1;
    case DType::kInt16: return 2;
    case DType::kInt32: return 4;
    case DType::kInt64: return 8;
    case DType::kBool: return 1;
    case DType::kComplex64: return 8;
    case DType::kComplex128: return 16;
  }
  return 0;
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kUnsupported: return "unsupported";
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kFloat16: return "float16";
    case DType::kBFloat16: return "bfloat16";
    case DType::kInt8: return "int8";
    case DType::kUInt8: return "uint8";
    case DType::kInt16: return "int16";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kBool: return "bool";
    case DType::kComplex64: return "complex64";
    case DType::kComplex128: return "complex128";
  }
  return "?";
}

absl::StatusOr<Object*> ObjectArena::New(Kind kind) {
  if (absl::Status s = Charge(sizeof(Object)); !s.ok()) return s;
  Object& obj = objects_.emplace_back();
  obj.kind = kind;
  return &obj;
}

absl::Status ObjectArena::Charge(size_t bytes) {
  if (bytes > budget_ || used_ > budget_ - bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the pickle builds more than its memory budget of ", budget_,
                     " bytes of objects (hostile or corrupt input?)"));
  }
  used_ += bytes;
  return absl::OkStatus();
}

std::string TextOf(const Object& obj) {
  if (!obj.is(Kind::kStr)) return "";
  if (obj.enc == Encoding::kUtf8) return std::string(obj.data);
  return Latin1ToUtf8(obj.data);
}

bool IsStr(const Object& obj, absl::string_view text) {
  if (!obj.is(Kind::kStr)) return false;
  if (obj.enc == Encoding::kUtf8) return obj.data == text;
  // Latin-1: equal iff the ASCII-only fast case matches or the conversion does.
  bool ascii = true;
  for (char c : obj.data) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  return ascii ? obj.data == text : Latin1ToUtf8(obj.data) == text;
}

absl::StatusOr<size_t> ByteSize(const Object& obj) {
  if (!obj.is(Kind::kBytes) && !obj.is(Kind::kStr)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected bytes or str as raw data, got ", KindName(obj.kind)));
  }
  if (obj.enc == Encoding::kLatin1) return obj.data.size();
  if (obj.i >= 0) return static_cast<size_t>(obj.i);  // cached by the VM
  return Latin1Length(obj.data);
}

absl::Status CopyBytes(const Object& obj, char* dst, size_t n) {
  absl::StatusOr<size_t> size = ByteSize(obj);
  if (!size.ok()) return size.status();
  if (*size != n) {
    return absl::InternalError(absl::StrCat("CopyBytes: ", *size, " bytes, buffer ", n));
  }
  if (obj.enc == Encoding::kLatin1) {
    if (n > 0) std::memcpy(dst, obj.data.data(), n);
  } else {
    Utf8ToLatin1(obj.data, dst, n);
  }
  return absl::OkStatus();
}

bool DictKey(const Object& key, std::string* out) {
  switch (key.kind) {
    case Kind::kStr: *out = absl::StrCat("s", TextOf(key)); return true;
    case Kind::kInt: *out = absl::StrCat("i", key.i); return true;
    case Kind::kBool: *out = key.b ? "i1" : "i0"; return true;
    case Kind::kNone: *out = "n"; return true;
    case Kind::kFloat:
      if (key.f > -9e18 && key.f < 9e18 && key.f == std::trunc(key.f)) {
        *out = absl::StrCat("i", static_cast<int64_t>(key.f));
      } else {
        *out = absl::StrCat("f", Describe(key));
      }
      return true;
    default: return false;
  }
}

const Object* DictGet(const Object& dict, absl::string_view key) {
  if (!dict.is(Kind::kDict)) return nullptr;
  if (dict.dict_index != nullptr) {
    auto it = dict.dict_index->find(absl::StrCat("s", key));
    return it == dict.dict_index->end() ? nullptr : dict.items[2 * it->second + 1];
  }
  for (size_t i = 0; i < dict.dict_size(); ++i) {
    if (IsStr(*dict.dict_key(i), key)) return dict.dict_value(i);
  }
  return nullptr;
}

std::string Describe(const Object& obj, int max_depth) {
  switch (obj.kind) {
    case Kind::kNone: return "None";
    case Kind::kBool: return obj.b ? "True" : "False";
    case Kind::kInt: return absl::StrCat(obj.i);
    case Kind::kBigInt: return absl::StrCat("<int of ", obj.data.size(), " bytes>");
    case Kind::kFloat: {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.17g", obj.f);
      // Prefer the shortest representation that round-trips, like Python's repr.
      for (int precision = 1; precision <= 17; ++precision) {
        char shorter[64];
        std::snprintf(shorter, sizeof(shorter), "%.*g", precision, obj.f);
        if (std::strtod(shorter, nullptr) == obj.f) {
          std::snprintf(buf, sizeof(buf), "%s", shorter);
          break;
        }
      }
      std::string s = buf;
      if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
      return s;
    }
    case Kind::kStr: {
      std::string text = TextOf(obj);
      if (text.size() > 200) text = absl::StrCat(text.substr(0, 200), "...");
      return text;
    }
    case Kind::kBytes: return absl::StrCat("<bytes of ", obj.data.size(), ">");
    case Kind::kList:
    case Kind::kTuple:
    case Kind::kSet:
    case Kind::kFrozenSet: {
      if (max_depth <= 0 || obj.items.size() > 16) {
        return absl::StrCat("<", KindName(obj.kind), " of ", obj.items.size(), ">");
      }
      std::vector<std::string> parts;
      for (const Object* item : obj.items) parts.push_back(Describe(*item, max_depth - 1));
      const bool tuple = obj.is(Kind::kTuple);
      return absl::StrCat(tuple ? "(" : "[", absl::StrJoin(parts, ", "),
                          tuple && parts.size() == 1 ? ",)" : (tuple ? ")" : "]"));
    }
    case Kind::kDict:
      return absl::StrCat("<", obj.b ? "OrderedDict" : "dict", " of ", obj.dict_size(), ">");
    case Kind::kGlobal:
      return absl::StrCat("<global ", obj.global().module, ".", obj.global().name, ">");
    case Kind::kOpaque: {
      const auto* g = std::get_if<GlobalInfo>(&obj.info);
      return g ? absl::StrCat("<", g->module, ".", g->name, " object (not loaded)>")
               : "<object (not loaded)>";
    }
    case Kind::kStorage: return absl::StrCat("<storage ", obj.storage().key, ">");
    case Kind::kTensor: return absl::StrCat("<tensor of ", obj.tensor().sizes.size(), " dims>");
    case Kind::kNdArray: return absl::StrCat("<numpy array ", obj.ndarray().dtype.spec, ">");
    case Kind::kDType: return absl::StrCat("<numpy dtype ", obj.dtype().spec, ">");
  }
  return "?";
}

// A tuple of non-negative ints (sizes, strides, shapes).
absl::StatusOr<std::vector<int64_t>> IntTuple(const Object& tuple, const char* what) {
  const Object* o = &tuple;
  if (!o->is(Kind::kTuple) && !o->is(Kind::kList)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must be a tuple of ints, got ", KindName(o->kind)));
  }
  std::vector<int64_t> out;
  out.reserve(o->items.size());
  for (const Object* item : o->items) {
    if (!(item->is(Kind::kInt) || item->is(Kind::kBool)) || (item->is(Kind::kInt) && item->i < 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " must hold non-negative ints, got ", Describe(*item)));
    }
    out.push_back(item->is(Kind::kBool) ? (item->b ? 1 : 0) : item->i);
  }
  return out;
}

DType DTypeFromNumpySpec(absl::string_view spec, int* itemsize) {
  *itemsize = 0;
  if (!spec.empty() && (spec[0] == '<' || spec[0] == '>' || spec[0] == '|' || spec[0] == '=')) {
    spec.remove_prefix(1);
  }
  struct Entry {
    const char* spec;
    DType dtype;
  };
  static constexpr Entry kTable[] = {
      {"f4", DType::kFloat32}, {"f8", DType::kFloat64},  {"f2", DType::kFloat16},
      {"i1", DType::kInt8},    {"u1", DType::kUInt8},    {"i2", DType::kInt16},
      {"i4", DType::kInt32},   {"i8", DType::kInt64},    {"b1", DType::kBool},
      {"c8", DType::kComplex64}, {"c16", DType::kComplex128},
  };
  for (const Entry& e : kTable) {
    if (spec == e.spec) {
      *itemsize = DTypeSize(e.dtype);
      return e.dtype;
    }
  }
  return DType::kUnsupported;
}

}  // namespace d2x::checkpoint::pickle
