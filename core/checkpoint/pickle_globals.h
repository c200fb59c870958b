// What the pickle VM does with classes and functions: the allow-list.
//
// Nothing is ever executed. An allow-listed global (OrderedDict, torch's tensor rebuilders and
// storage types, numpy's array/dtype reconstruction, _codecs.encode, set/frozenset, ...) is
// interpreted by a handler that builds the corresponding object-tree node. Globals from modules
// that can only mean code execution (os, subprocess, builtins.eval, ...) make unpickling fail with
// an error. Any other global becomes an inert placeholder: "calling" it, instantiating it or
// setting its state yields another placeholder, so e.g. an optimizer entry of an unknown class does
// not stop the "model" dict from loading. Torch-free.
#ifndef D2X_CORE_CHECKPOINT_PICKLE_GLOBALS_H_
#define D2X_CORE_CHECKPOINT_PICKLE_GLOBALS_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/checkpoint/pickle_object.h"

namespace d2x::checkpoint::pickle {

// State the handlers share during one unpickling.
struct GlobalsContext {
  ObjectArena* arena = nullptr;
  int max_depth = 1000;
  // _codecs.encode(s, ...) of the same str object returns the same bytes object (a pickle could
  // otherwise re-encode one huge memoized string over and over).
  absl::flat_hash_map<const Object*, Object*> encode_cache;
  // Distinct "module.name" of non-allow-listed globals that were turned into placeholders.
  std::vector<std::string> placeholders;
  absl::flat_hash_set<std::string> placeholder_set;
};

// Makes `child` an element of container `parent` as far as nesting depth goes: fails when the
// nesting exceeds ctx.max_depth (recursion bombs).
absl::Status Adopt(GlobalsContext& ctx, Object* parent, const Object* child);

// dict[key] = value, replacing an equal earlier key (str / int / bool / None / float keys).
absl::Status DictSet(GlobalsContext& ctx, Object* dict, Object* key, Object* value);

// A new inert placeholder, remembering `origin` (the global it came from, may be null) and
// holding `args` (may be null).
absl::StatusOr<Object*> NewPlaceholder(GlobalsContext& ctx, const Object* origin, Object* args);

// GLOBAL / STACK_GLOBAL / INST: the object for module.name. Error for denied globals.
absl::StatusOr<Object*> ResolveGlobal(GlobalsContext& ctx, absl::string_view module,
                                      absl::string_view name);

// REDUCE: callable(*args). `args` must be a tuple.
absl::StatusOr<Object*> CallGlobal(GlobalsContext& ctx, Object* callable, Object* args);

// NEWOBJ / NEWOBJ_EX / OBJ / INST: cls.__new__(cls, *args).
absl::StatusOr<Object*> Instantiate(GlobalsContext& ctx, Object* cls, Object* args);

// BUILD: obj.__setstate__(state) (or obj.__dict__.update(state)).
absl::Status Build(GlobalsContext& ctx, Object* obj, Object* state);

// torch.load's persistent_load for the zip format: pid = ('storage', storage_type, key, location,
// numel) -> a kStorage descriptor.
absl::StatusOr<Object*> LoadPersistent(GlobalsContext& ctx, Object* pid);

}  // namespace d2x::checkpoint::pickle

#endif  // D2X_CORE_CHECKPOINT_PICKLE_GLOBALS_H_
