// The object tree the pickle VM builds (no torch here: tensors are descriptors).
//
// Objects live in an ObjectArena and refer to each other with raw pointers, so shared and even
// cyclic structures (which a pickle can express through its memo) cost nothing to free and never
// leak. Strings and byte strings are views into the pickle input where possible: the input must
// outlive the tree. Consumers must not recurse without a depth bound (see Describe).
#ifndef D2X_CORE_CHECKPOINT_PICKLE_OBJECT_H_
#define D2X_CORE_CHECKPOINT_PICKLE_OBJECT_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace d2x::checkpoint::pickle {

enum class Kind : uint8_t {
  kNone,
  kBool,
  kInt,     // fits in int64
  kBigInt,  // a Python int that does not fit in int64 (payload: little-endian two's complement)
  kFloat,
  kStr,
  kBytes,   // bytes / bytearray
  kList,
  kTuple,
  kDict,    // dict or collections.OrderedDict (insertion-ordered either way)
  kSet,
  kFrozenSet,
  kGlobal,   // a class or function reference (GLOBAL / STACK_GLOBAL / INST)
  kOpaque,   // inert placeholder for whatever a non-allow-listed callable would have built
  kStorage,  // a torch storage named by a persistent id ('storage', type, key, location, numel)
  kTensor,   // torch._utils._rebuild_tensor_v2(...) over a kStorage
  kNdArray,  // numpy.ndarray
  kDType,    // numpy.dtype
};
const char* KindName(Kind kind);

// Element types of tensors and arrays (a torch-free mirror of at::ScalarType).
enum class DType : uint8_t {
  kUnsupported,
  kFloat32,
  kFloat64,
  kFloat16,
  kBFloat16,
  kInt8,
  kUInt8,
  kInt16,
  kInt32,
  kInt64,
  kBool,
  kComplex64,
  kComplex128,
};
int DTypeSize(DType dtype);  // 0 for kUnsupported
const char* DTypeName(DType dtype);

// Allow-listed globals. Everything else is kUnknown and only ever yields kOpaque objects.
enum class GlobalId : uint8_t {
  kUnknown,
  kOrderedDict,
  kRebuildTensorV2,
  kRebuildTensor,
  kRebuildParameter,
  kRebuildParameterWithState,
  kRebuildFromTypeV2,
  kTensorClass,     // torch.Tensor / torch.nn.parameter.Parameter (as new_type in _rebuild_from_type_v2)
  kTorchSize,       // torch.Size
  kStorageType,     // torch.FloatStorage etc.; GlobalInfo::storage_dtype says which
  kNpReconstruct,   // numpy.core.multiarray._reconstruct
  kNpNdarray,       // numpy.ndarray
  kNpDtype,         // numpy.dtype
  kNpScalar,        // numpy.core.multiarray.scalar
  kNpFromBuffer,    // numpy.core.numeric._frombuffer (protocol 5, in-band)
  kCodecsEncode,    // _codecs.encode
  kSet,             // builtins.set
  kFrozenSet,       // builtins.frozenset
  kBytes,           // builtins.bytes
  kBytearray,       // builtins.bytearray
  kDict,            // builtins.dict
  kList,            // builtins.list
  kReconstructor,   // copyreg._reconstructor
  kNewObj,          // copyreg.__newobj__
};

// How Object::data encodes a kStr / kBytes value.
enum class Encoding : uint8_t {
  kUtf8,    // kStr: UTF-8 text. kBytes: the bytes are the code points (all <= 0xFF) of this UTF-8
            // text, i.e. _codecs.encode(text, "latin1") not decoded yet.
  kLatin1,  // kStr: latin-1 text (a Python 2 str read with encoding="latin1"). kBytes: raw bytes.
};

struct Object;

struct GlobalInfo {
  std::string module;
  std::string name;
  GlobalId id = GlobalId::kUnknown;
  DType storage_dtype = DType::kUnsupported;  // kStorageType only
};

struct StorageInfo {
  DType dtype = DType::kUnsupported;
  std::string key;       // record "data/<key>" in the zip archive
  std::string location;  // "cpu", "cuda:0", ... (everything is loaded to CPU)
  int64_t numel = 0;     // elements of `dtype`
};

struct TensorInfo {
  const Object* storage = nullptr;  // kStorage
  int64_t offset = 0;               // in elements
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  bool requires_grad = false;
};

struct DTypeInfo {
  DType dtype = DType::kUnsupported;
  std::string spec;      // numpy's type string, e.g. "f4"
  char byteorder = '<';  // '<', '>', '|' (as numpy's pickled state gives it); '=' is native
  bool structured = false;
};

struct NdArrayInfo {
  DTypeInfo dtype;
  std::vector<int64_t> shape;
  bool fortran_order = false;
  const Object* data = nullptr;  // kBytes or kStr (Python 2), set by BUILD
  bool built = false;
};

struct Object {
  Kind kind = Kind::kNone;
  Encoding enc = Encoding::kLatin1;
  bool b = false;     // kBool value; kDict: is a collections.OrderedDict
  int32_t depth = 0;  // container nesting (bounded by UnpickleOptions::max_depth)
  // kInt: the value. kStr / kBytes with Encoding::kUtf8: the number of latin-1 bytes the text
  // stands for (code points, all <= 0xFF), or -1 if unknown / not latin-1.
  int64_t i = 0;
  double f = 0;       // kFloat
  absl::string_view data;  // kStr / kBytes / kBigInt payload (into the input or `owned`)
  std::string owned;
  // kList/kTuple/kSet/kFrozenSet: elements. kDict: keys and values interleaved (k0, v0, k1, ...).
  // kOpaque: the arguments it was "called" with, then any items appended or set into it.
  std::vector<Object*> items;
  const Object* state = nullptr;  // kDict / kOpaque / kTensor: the BUILD state, if any
  std::unique_ptr<absl::flat_hash_map<std::string, uint32_t>> dict_index;  // kDict: key -> slot
  std::variant<std::monostate, GlobalInfo, StorageInfo, TensorInfo, DTypeInfo, NdArrayInfo> info;

  bool is(Kind k) const { return kind == k; }
  size_t dict_size() const { return items.size() / 2; }
  const Object* dict_key(size_t i) const { return items[2 * i]; }
  const Object* dict_value(size_t i) const { return items[2 * i + 1]; }
  const GlobalInfo& global() const { return std::get<GlobalInfo>(info); }
  const StorageInfo& storage() const { return std::get<StorageInfo>(info); }
  const TensorInfo& tensor() const { return std::get<TensorInfo>(info); }
  const DTypeInfo& dtype() const { return std::get<DTypeInfo>(info); }
  const NdArrayInfo& ndarray() const { return std::get<NdArrayInfo>(info); }
};

// Owns every object of one unpickling, with a memory budget so hostile input cannot make it
// allocate without bound.
class ObjectArena {
 public:
  explicit ObjectArena(size_t budget_bytes) : budget_(budget_bytes) {
    true_.kind = false_.kind = Kind::kBool;
    true_.b = true;
  }
  ObjectArena(const ObjectArena&) = delete;
  ObjectArena& operator=(const ObjectArena&) = delete;

  // A new object, or an error when the budget is exhausted.
  absl::StatusOr<Object*> New(Kind kind);
  // Accounts for `bytes` more memory (strings, item slots); fails past the budget.
  absl::Status Charge(size_t bytes);
  size_t used() const { return used_; }
  size_t size() const { return objects_.size(); }

  // Shared immutable singletons.
  Object* none() { return &none_; }
  Object* boolean(bool v) { return v ? &true_ : &false_; }

 private:
  std::deque<Object> objects_;
  size_t used_ = 0;
  size_t budget_;
  Object none_;
  Object true_;
  Object false_;
};

// --- Access helpers -------------------------------------------------------------------------

// The text of a kStr as UTF-8 (converting latin-1). Empty for other kinds.
std::string TextOf(const Object& obj);
// True if obj is a kStr equal to `text` (UTF-8).
bool IsStr(const Object& obj, absl::string_view text);

// The number of bytes a kBytes or kStr (latin-1 / code points <= 0xFF) value stands for when used
// as raw data (numpy's buffer). Error for text with code points > 0xFF or other kinds.
absl::StatusOr<size_t> ByteSize(const Object& obj);
// Writes exactly ByteSize(obj) bytes to `dst` (which holds `n` bytes, n == ByteSize(obj)).
absl::Status CopyBytes(const Object& obj, char* dst, size_t n);

// The identity under which `key` is stored in a dict's index ("s" + UTF-8 text, "i" + integer,
// ...), so that a repeated key replaces the earlier value as in Python. False for keys that are
// not indexed (tuples, placeholders, ...): those are appended without de-duplication.
bool DictKey(const Object& key, std::string* out);

// Dict lookup by string key; nullptr if absent or obj is not a kDict.
const Object* DictGet(const Object& dict, absl::string_view key);

// A short, depth-bounded human-readable rendering ("<dict of 3>", "'text'", "12", ...).
std::string Describe(const Object& obj, int max_depth = 1);

// The values of a tuple (or list) of non-negative ints (sizes, strides, shapes); `what` names it
// in errors.
absl::StatusOr<std::vector<int64_t>> IntTuple(const Object& tuple, const char* what);

// numpy type string ("f4", "<i8", "b1", ...) to DType; kUnsupported if not a plain numeric type.
DType DTypeFromNumpySpec(absl::string_view spec, int* itemsize);

}  // namespace d2x::checkpoint::pickle

#endif  // D2X_CORE_CHECKPOINT_PICKLE_OBJECT_H_
