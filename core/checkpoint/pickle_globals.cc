#include "core/checkpoint/pickle_globals.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/checkpoint/pickle_numpy.h"
#include "core/checkpoint/pickle_text.h"

namespace d2x::checkpoint::pickle {
namespace {

using absl::InvalidArgumentError;
using absl::StrCat;

struct AllowEntry {
  const char* module;
  const char* name;
  GlobalId id;
};

constexpr AllowEntry kAllowList[] = {
    {"collections", "OrderedDict", GlobalId::kOrderedDict},
    {"torch._utils", "_rebuild_tensor_v2", GlobalId::kRebuildTensorV2},
    {"torch._utils", "_rebuild_tensor", GlobalId::kRebuildTensor},
    {"torch._utils", "_rebuild_parameter", GlobalId::kRebuildParameter},
    {"torch._utils", "_rebuild_parameter_with_state", GlobalId::kRebuildParameterWithState},
    {"torch._tensor", "_rebuild_from_type_v2", GlobalId::kRebuildFromTypeV2},
    {"torch", "Tensor", GlobalId::kTensorClass},
    {"torch._tensor", "Tensor", GlobalId::kTensorClass},
    {"torch.nn.parameter", "Parameter", GlobalId::kTensorClass},
    {"torch", "Size", GlobalId::kTorchSize},
    {"numpy.core.multiarray", "_reconstruct", GlobalId::kNpReconstruct},
    {"numpy", "ndarray", GlobalId::kNpNdarray},
    {"numpy", "dtype", GlobalId::kNpDtype},
    {"numpy.core.multiarray", "scalar", GlobalId::kNpScalar},
    {"numpy.core.numeric", "_frombuffer", GlobalId::kNpFromBuffer},
    {"_codecs", "encode", GlobalId::kCodecsEncode},
    {"builtins", "set", GlobalId::kSet},
    {"builtins", "frozenset", GlobalId::kFrozenSet},
    {"builtins", "bytes", GlobalId::kBytes},
    {"builtins", "bytearray", GlobalId::kBytearray},
    {"builtins", "dict", GlobalId::kDict},
    {"builtins", "list", GlobalId::kList},
    {"copyreg", "_reconstructor", GlobalId::kReconstructor},
    {"copyreg", "__newobj__", GlobalId::kNewObj},
};

struct StorageEntry {
  const char* name;
  DType dtype;
};

constexpr StorageEntry kStorageTypes[] = {
    {"FloatStorage", DType::kFloat32},   {"DoubleStorage", DType::kFloat64},
    {"HalfStorage", DType::kFloat16},    {"BFloat16Storage", DType::kBFloat16},
    {"LongStorage", DType::kInt64},      {"IntStorage", DType::kInt32},
    {"ShortStorage", DType::kInt16},     {"CharStorage", DType::kInt8},
    {"ByteStorage", DType::kUInt8},      {"BoolStorage", DType::kBool},
    {"ComplexFloatStorage", DType::kComplex64}, {"ComplexDoubleStorage", DType::kComplex128},
    {"UntypedStorage", DType::kUInt8},
};

// Modules whose globals can only serve to run code or touch the system. Nothing is ever executed
// anyway; refusing them tells the user the file is hostile instead of loading it quietly.
constexpr const char* kDeniedModules[] = {
    "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "_posixsubprocess", "sys", "shutil",
    "socket", "pty", "runpy", "importlib", "imp", "marshal", "pickle", "_pickle", "cPickle",
    "ctypes", "webbrowser", "code", "codeop", "commands", "platform", "multiprocessing",
    "signal", "asyncio", "pathlib", "tempfile", "pdb", "bdb", "timeit", "trace", "profile",
    "cProfile", "pydoc", "sysconfig", "site", "distutils", "setuptools", "pip", "urllib", "http",
    "ftplib", "smtplib", "telnetlib", "threading", "_thread", "io", "_io",
};
constexpr const char* kDeniedBuiltins[] = {
    "eval", "exec", "execfile", "compile", "open", "file", "__import__", "getattr", "setattr",
    "delattr", "globals", "locals", "vars", "input", "raw_input", "breakpoint", "exit", "quit",
    "reload", "apply",
};

std::string NormalizeModule(absl::string_view module) {
  if (module == "__builtin__") return "builtins";
  if (module == "copy_reg") return "copyreg";
  if (module == "numpy._core.multiarray") return "numpy.core.multiarray";
  if (module == "numpy._core.numeric") return "numpy.core.numeric";
  return std::string(module);
}

bool IsDenied(const std::string& module, absl::string_view name) {
  const std::string top = module.substr(0, module.find('.'));
  for (const char* denied : kDeniedModules) {
    if (top == denied) return true;
  }
  if (module == "builtins") {
    for (const char* denied : kDeniedBuiltins) {
      if (name == denied) return true;
    }
  }
  return false;
}

bool IsIntLike(const Object* o) { return o->is(Kind::kInt) || o->is(Kind::kBool); }
int64_t IntValue(const Object* o) { return o->is(Kind::kBool) ? (o->b ? 1 : 0) : o->i; }

bool IsSequence(const Object* o) {
  return o->is(Kind::kList) || o->is(Kind::kTuple) || o->is(Kind::kSet) ||
         o->is(Kind::kFrozenSet);
}

absl::StatusOr<Object*> NewContainer(GlobalsContext& ctx, Kind kind,
                                     const std::vector<Object*>& items) {
  absl::StatusOr<Object*> obj = ctx.arena->New(kind);
  if (!obj.ok()) return obj.status();
  if (absl::Status s = ctx.arena->Charge(items.size() * sizeof(Object*)); !s.ok()) return s;
  (*obj)->items = items;
  for (const Object* item : items) {
    if (absl::Status s = Adopt(ctx, *obj, item); !s.ok()) return s;
  }
  return *obj;
}

absl::StatusOr<Object*> NewDict(GlobalsContext& ctx, bool ordered) {
  absl::StatusOr<Object*> obj = ctx.arena->New(Kind::kDict);
  if (obj.ok()) (*obj)->b = ordered;
  return obj;
}

absl::StatusOr<Object*> NewBytes(GlobalsContext& ctx, absl::string_view view, Encoding enc) {
  absl::StatusOr<Object*> obj = ctx.arena->New(Kind::kBytes);
  if (!obj.ok()) return obj.status();
  (*obj)->data = view;
  (*obj)->enc = enc;
  return *obj;
}

// _codecs.encode(text, encoding) / bytes(text, encoding) / bytearray(text, encoding).
absl::StatusOr<Object*> EncodeText(GlobalsContext& ctx, Object* text, absl::string_view encoding) {
  if (!text->is(Kind::kStr)) {
    return InvalidArgumentError(StrCat("encode() expects a str, got ", KindName(text->kind)));
  }
  std::string enc = absl::AsciiStrToLower(encoding);
  absl::StrReplaceAll({{"-", ""}, {"_", ""}}, &enc);
  const bool latin1 = enc == "latin1" || enc == "iso88591" || enc == "l1";
  if (latin1) {
    if (auto it = ctx.encode_cache.find(text); it != ctx.encode_cache.end()) return it->second;
    // Bytes stay UTF-8 encoded until the data is used (decoded straight into tensor memory).
    absl::StatusOr<size_t> length = ByteSize(*text);  // validates: code points <= 0xFF
    if (!length.ok()) return length.status();
    absl::StatusOr<Object*> out = NewBytes(ctx, text->data, text->enc);
    if (!out.ok()) return out;
    (*out)->i = static_cast<int64_t>(*length);
    ctx.encode_cache[text] = *out;
    return out;
  }
  if (enc == "utf8" || enc == "ascii") {
    if (text->enc == Encoding::kUtf8) {
      if (enc == "ascii") {
        for (char c : text->data) {
          if (static_cast<unsigned char>(c) >= 0x80) {
            return InvalidArgumentError("encode('ascii') of non-ASCII text");
          }
        }
      }
      return NewBytes(ctx, text->data, Encoding::kLatin1);
    }
    absl::StatusOr<Object*> out = ctx.arena->New(Kind::kBytes);
    if (!out.ok()) return out;
    if (absl::Status s = ctx.arena->Charge(text->data.size() * 2); !s.ok()) return s;
    (*out)->owned = Latin1ToUtf8(text->data);
    (*out)->data = (*out)->owned;
    return out;
  }
  return InvalidArgumentError(StrCat("unsupported text encoding '", encoding, "'"));
}

absl::StatusOr<Object*> CallDictLike(GlobalsContext& ctx, bool ordered,
                                     const std::vector<Object*>& args) {
  absl::StatusOr<Object*> dict = NewDict(ctx, ordered);
  if (!dict.ok() || args.empty()) return dict;
  if (args.size() != 1) return InvalidArgumentError("dict() takes at most one argument");
  const Object* src = args[0];
  if (src->is(Kind::kDict)) {
    for (size_t i = 0; i < src->dict_size(); ++i) {
      absl::Status s = DictSet(ctx, *dict, src->items[2 * i], src->items[2 * i + 1]);
      if (!s.ok()) return s;
    }
    return dict;
  }
  if (!IsSequence(src)) return InvalidArgumentError("dict() argument must be a sequence of pairs");
  for (Object* pair : src->items) {
    if ((!pair->is(Kind::kList) && !pair->is(Kind::kTuple)) || pair->items.size() != 2) {
      return InvalidArgumentError("dict() sequence element is not a pair");
    }
    if (absl::Status s = DictSet(ctx, *dict, pair->items[0], pair->items[1]); !s.ok()) return s;
  }
  return dict;
}

absl::StatusOr<Object*> RebuildTensor(GlobalsContext& ctx, const std::vector<Object*>& a,
                                      bool v2) {
  const size_t want = v2 ? 6 : 4;
  if (a.size() < want || a.size() > want + 1) {
    return InvalidArgumentError(StrCat(v2 ? "_rebuild_tensor_v2" : "_rebuild_tensor", " takes ",
                                       want, " arguments, got ", a.size()));
  }
  if (!a[0]->is(Kind::kStorage)) {
    return InvalidArgumentError(
        StrCat("tensor rebuild expects a storage, got ", Describe(*a[0])));
  }
  if (!IsIntLike(a[1]) || IntValue(a[1]) < 0) {
    return InvalidArgumentError("tensor storage offset must be a non-negative int");
  }
  TensorInfo info;
  info.storage = a[0];
  info.offset = IntValue(a[1]);
  absl::StatusOr<std::vector<int64_t>> sizes = IntTuple(*a[2], "tensor size");
  if (!sizes.ok()) return sizes.status();
  absl::StatusOr<std::vector<int64_t>> strides = IntTuple(*a[3], "tensor stride");
  if (!strides.ok()) return strides.status();
  if (sizes->size() != strides->size()) {
    return InvalidArgumentError(StrCat("tensor has ", sizes->size(), " sizes but ",
                                       strides->size(), " strides"));
  }
  info.sizes = std::move(*sizes);
  info.strides = std::move(*strides);
  info.requires_grad = v2 && a[4]->is(Kind::kBool) && a[4]->b;
  if (absl::Status s = ctx.arena->Charge(16 * info.sizes.size()); !s.ok()) return s;
  absl::StatusOr<Object*> out = ctx.arena->New(Kind::kTensor);
  if (!out.ok()) return out;
  (*out)->info = std::move(info);
  return out;
}

}  // namespace

absl::Status Adopt(GlobalsContext& ctx, Object* parent, const Object* child) {
  if (child->depth + 1 > parent->depth) parent->depth = child->depth + 1;
  if (parent->depth > ctx.max_depth) {
    return InvalidArgumentError(StrCat("objects nest deeper than ", ctx.max_depth,
                                       " levels (recursion bomb?)"));
  }
  return absl::OkStatus();
}

absl::Status DictSet(GlobalsContext& ctx, Object* dict, Object* key, Object* value) {
  if (dict->dict_index == nullptr) {
    dict->dict_index = std::make_unique<absl::flat_hash_map<std::string, uint32_t>>();
  }
  std::string id;
  if (DictKey(*key, &id)) {
    auto [it, inserted] = dict->dict_index->try_emplace(id, dict->dict_size());
    if (!inserted) {
      dict->items[2 * it->second + 1] = value;
      return Adopt(ctx, dict, value);
    }
    if (absl::Status s = ctx.arena->Charge(id.size() + 48); !s.ok()) return s;
  }
  if (absl::Status s = ctx.arena->Charge(2 * sizeof(Object*)); !s.ok()) return s;
  dict->items.push_back(key);
  dict->items.push_back(value);
  if (absl::Status s = Adopt(ctx, dict, key); !s.ok()) return s;
  return Adopt(ctx, dict, value);
}

absl::StatusOr<Object*> NewPlaceholder(GlobalsContext& ctx, const Object* origin, Object* args) {
  absl::StatusOr<Object*> out = ctx.arena->New(Kind::kOpaque);
  if (!out.ok()) return out;
  if (origin != nullptr) {
    if (const auto* g = std::get_if<GlobalInfo>(&origin->info)) (*out)->info = *g;
  }
  if (args != nullptr) {
    (*out)->items.push_back(args);
    if (absl::Status s = Adopt(ctx, *out, args); !s.ok()) return s;
  }
  return out;
}

absl::StatusOr<Object*> ResolveGlobal(GlobalsContext& ctx, absl::string_view module_in,
                                      absl::string_view name) {
  if (module_in.empty() || name.empty()) {
    return InvalidArgumentError("global with an empty module or name");
  }
  const std::string module = NormalizeModule(module_in);
  if (IsDenied(module, name)) {
    return absl::PermissionDeniedError(
        StrCat("refusing global '", module_in, ".", name,
               "': it can only serve to run code, a checkpoint never needs it (the file may be "
               "malicious)"));
  }
  GlobalInfo info;
  info.module = module;
  info.name = std::string(name);
  for (const AllowEntry& e : kAllowList) {
    if (module == e.module && name == e.name) info.id = e.id;
  }
  if (info.id == GlobalId::kUnknown && (module == "torch" || module == "torch.cuda")) {
    for (const StorageEntry& e : kStorageTypes) {
      if (name == e.name) {
        info.id = GlobalId::kStorageType;
        info.storage_dtype = e.dtype;
      }
    }
    if (info.id == GlobalId::kUnknown && absl::EndsWith(name, "Storage")) {
      info.id = GlobalId::kStorageType;  // e.g. QInt8Storage: refused if a tensor uses it
    }
  }
  if (info.id == GlobalId::kUnknown) {
    std::string full = StrCat(module, ".", name);
    if (ctx.placeholder_set.insert(full).second && ctx.placeholders.size() < 64) {
      ctx.placeholders.push_back(full);
    }
  }
  if (absl::Status s = ctx.arena->Charge(module.size() + name.size()); !s.ok()) return s;
  absl::StatusOr<Object*> out = ctx.arena->New(Kind::kGlobal);
  if (!out.ok()) return out;
  (*out)->info = std::move(info);
  return out;
}

absl::StatusOr<Object*> CallGlobal(GlobalsContext& ctx, Object* callable, Object* args) {
  if (callable->is(Kind::kOpaque)) return NewPlaceholder(ctx, callable, args);
  if (!callable->is(Kind::kGlobal)) {
    return InvalidArgumentError(StrCat("REDUCE on a ", KindName(callable->kind),
                                       ", which is not callable"));
  }
  if (!args->is(Kind::kTuple)) {
    return InvalidArgumentError(
        StrCat("REDUCE arguments must be a tuple, got ", KindName(args->kind)));
  }
  const GlobalInfo& g = callable->global();
  const std::vector<Object*>& a = args->items;
  switch (g.id) {
    case GlobalId::kOrderedDict: return CallDictLike(ctx, /*ordered=*/true, a);
    case GlobalId::kDict: return CallDictLike(ctx, /*ordered=*/false, a);
    case GlobalId::kList:
    case GlobalId::kSet:
    case GlobalId::kFrozenSet: {
      const Kind kind = g.id == GlobalId::kList ? Kind::kList
                        : g.id == GlobalId::kSet ? Kind::kSet
                                                 : Kind::kFrozenSet;
      if (a.empty()) return NewContainer(ctx, kind, {});
      if (a.size() != 1 || !IsSequence(a[0])) {
        return InvalidArgumentError(StrCat(g.name, "() expects one list/tuple/set argument"));
      }
      return NewContainer(ctx, kind, a[0]->items);
    }
    case GlobalId::kTorchSize: {
      if (a.size() != 1 || !IsSequence(a[0])) {
        return InvalidArgumentError("torch.Size() expects one sequence");
      }
      return NewContainer(ctx, Kind::kTuple, a[0]->items);
    }
    case GlobalId::kBytes:
    case GlobalId::kBytearray:
      if (a.empty()) return NewBytes(ctx, "", Encoding::kLatin1);
      if (a.size() == 1 && a[0]->is(Kind::kBytes)) return a[0];
      if (a.size() == 2 && a[1]->is(Kind::kStr)) return EncodeText(ctx, a[0], TextOf(*a[1]));
      return InvalidArgumentError(StrCat("unsupported ", g.name, "() arguments"));
    case GlobalId::kCodecsEncode:
      if (a.size() == 1) return EncodeText(ctx, a[0], "utf-8");
      if (a.size() >= 2 && a[1]->is(Kind::kStr)) return EncodeText(ctx, a[0], TextOf(*a[1]));
      return InvalidArgumentError("_codecs.encode(str, encoding) expected");
    case GlobalId::kRebuildTensorV2: return RebuildTensor(ctx, a, /*v2=*/true);
    case GlobalId::kRebuildTensor: return RebuildTensor(ctx, a, /*v2=*/false);
    case GlobalId::kRebuildParameter:
    case GlobalId::kRebuildParameterWithState:
      if (a.size() < 3 || !a[0]->is(Kind::kTensor)) {
        return InvalidArgumentError("_rebuild_parameter expects a tensor");
      }
      return a[0];
    case GlobalId::kRebuildFromTypeV2: {
      if (a.size() != 4 || !a[0]->is(Kind::kGlobal) || !a[2]->is(Kind::kTuple)) {
        return InvalidArgumentError("_rebuild_from_type_v2(func, type, args, state) expected");
      }
      if (a[0]->global().id == GlobalId::kRebuildFromTypeV2) {
        return InvalidArgumentError("_rebuild_from_type_v2 applied to itself");
      }
      if (!a[1]->is(Kind::kGlobal) || a[1]->global().id != GlobalId::kTensorClass) {
        return NewPlaceholder(ctx, a[1], args);  // a tensor subclass: not loaded
      }
      return CallGlobal(ctx, a[0], a[2]);
    }
    case GlobalId::kNpReconstruct: {
      if (a.size() != 3) return InvalidArgumentError("numpy _reconstruct takes 3 arguments");
      if (!a[0]->is(Kind::kGlobal) || a[0]->global().id != GlobalId::kNpNdarray) {
        return NewPlaceholder(ctx, a[0], args);  // an ndarray subclass: not loaded
      }
      absl::StatusOr<Object*> out = ctx.arena->New(Kind::kNdArray);
      if (out.ok()) (*out)->info = NdArrayInfo{};
      return out;
    }
    case GlobalId::kNpDtype: return NumpyDType(ctx, callable, args);
    case GlobalId::kNpScalar: return NumpyScalar(ctx, callable, args);
    case GlobalId::kNpFromBuffer: return NumpyFromBuffer(ctx, args);
    case GlobalId::kReconstructor:
      if (a.size() != 3) return InvalidArgumentError("copyreg._reconstructor takes 3 arguments");
      return Instantiate(ctx, a[0], nullptr);
    case GlobalId::kNewObj: {
      if (a.empty()) return InvalidArgumentError("copyreg.__newobj__ needs a class");
      return Instantiate(ctx, a[0], nullptr);
    }
    case GlobalId::kUnknown:
    case GlobalId::kTensorClass:
    case GlobalId::kStorageType:
    case GlobalId::kNpNdarray:
      return NewPlaceholder(ctx, callable, args);
  }
  return NewPlaceholder(ctx, callable, args);
}

absl::StatusOr<Object*> Instantiate(GlobalsContext& ctx, Object* cls, Object* args) {
  if (cls->is(Kind::kOpaque)) return NewPlaceholder(ctx, cls, args);
  if (!cls->is(Kind::kGlobal)) {
    return InvalidArgumentError(StrCat("cannot instantiate a ", KindName(cls->kind)));
  }
  switch (cls->global().id) {
    case GlobalId::kOrderedDict: return NewDict(ctx, /*ordered=*/true);
    case GlobalId::kDict: return NewDict(ctx, /*ordered=*/false);
    case GlobalId::kList: return NewContainer(ctx, Kind::kList, {});
    case GlobalId::kSet: return NewContainer(ctx, Kind::kSet, {});
    case GlobalId::kFrozenSet: return NewContainer(ctx, Kind::kFrozenSet, {});
    default: return NewPlaceholder(ctx, cls, args);
  }
}

absl::Status Build(GlobalsContext& ctx, Object* obj, Object* state) {
  switch (obj->kind) {
    case Kind::kDict:
    case Kind::kTensor:
      // OrderedDict attributes (a state_dict's `_metadata`) / tensor Python state.
      obj->state = state;
      return Adopt(ctx, obj, state);
    case Kind::kOpaque:
      if (absl::Status s = ctx.arena->Charge(sizeof(Object*)); !s.ok()) return s;
      obj->items.push_back(state);
      return Adopt(ctx, obj, state);
    case Kind::kDType: return BuildNumpyDType(ctx, obj, state);
    case Kind::kNdArray: return BuildNumpyArray(ctx, obj, state);
    default:
      return InvalidArgumentError(StrCat("BUILD (setting object state) on a ",
                                         KindName(obj->kind), " is not supported"));
  }
}

absl::StatusOr<Object*> LoadPersistent(GlobalsContext& ctx, Object* pid) {
  if (!pid->is(Kind::kTuple) || pid->items.size() != 5 || !IsStr(*pid->items[0], "storage")) {
    return InvalidArgumentError(
        StrCat("unsupported persistent id ", Describe(*pid),
               " (expected ('storage', type, key, location, numel))"));
  }
  const std::vector<Object*>& a = pid->items;
  if (!a[1]->is(Kind::kGlobal) || a[1]->global().id != GlobalId::kStorageType) {
    return InvalidArgumentError(StrCat("persistent id names ", Describe(*a[1]),
                                       ", not a torch storage type"));
  }
  if (!a[2]->is(Kind::kStr) || !a[3]->is(Kind::kStr) || !IsIntLike(a[4]) || IntValue(a[4]) < 0) {
    return InvalidArgumentError("malformed storage persistent id (key, location, numel)");
  }
  StorageInfo info;
  info.dtype = a[1]->global().storage_dtype;
  if (info.dtype == DType::kUnsupported) {
    return InvalidArgumentError(StrCat("unsupported storage type torch.", a[1]->global().name));
  }
  info.key = TextOf(*a[2]);
  info.location = TextOf(*a[3]);
  info.numel = IntValue(a[4]);
  if (absl::Status s = ctx.arena->Charge(info.key.size() + info.location.size()); !s.ok()) return s;
  absl::StatusOr<Object*> out = ctx.arena->New(Kind::kStorage);
  if (!out.ok()) return out;
  (*out)->info = std::move(info);
  return out;
}

}  // namespace d2x::checkpoint::pickle
