#include "core/checkpoint/tensor_builder.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace d2x::checkpoint {
namespace {

using pickle::DType;
using pickle::Kind;

absl::StatusOr<at::ScalarType> ToScalarType(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return at::kFloat;
    case DType::kFloat64: return at::kDouble;
    case DType::kFloat16: return at::kHalf;
    case DType::kBFloat16: return at::kBFloat16;
    case DType::kInt8: return at::kChar;
    case DType::kUInt8: return at::kByte;
    case DType::kInt16: return at::kShort;
    case DType::kInt32: return at::kInt;
    case DType::kInt64: return at::kLong;
    case DType::kBool: return at::kBool;
    case DType::kComplex64: return at::kComplexFloat;
    case DType::kComplex128: return at::kComplexDouble;
    case DType::kUnsupported: break;
  }
  return absl::InvalidArgumentError("unsupported element type");
}

// Reverses the bytes of each `unit`-byte word in data[0, nbytes).
void SwapBytes(char* data, size_t nbytes, int unit) {
  if (unit <= 1) return;
  for (size_t i = 0; i + unit <= nbytes; i += unit) std::reverse(data + i, data + i + unit);
}

// Byte-swap unit of a dtype: complex numbers swap each component.
int SwapUnit(DType dtype) {
  const int size = pickle::DTypeSize(dtype);
  return dtype == DType::kComplex64 || dtype == DType::kComplex128 ? size / 2 : size;
}

// Bool tensors must hold 0/1 only.
void NormalizeBools(char* data, size_t n) {
  for (size_t i = 0; i < n; ++i) data[i] = data[i] != 0 ? 1 : 0;
}

// Number of elements of a shape, or an error if it overflows (limit 2^62).
absl::StatusOr<int64_t> Numel(const std::vector<int64_t>& shape) {
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) return absl::InvalidArgumentError("negative dimension");
    if (d != 0 && numel > (int64_t{1} << 62) / d) {
      return absl::InvalidArgumentError("shape has too many elements");
    }
    numel *= d;
  }
  return numel;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace

TensorBuilder::TensorBuilder(std::string source, RecordReader reader, size_t copy_budget,
                             bool swap_storage_bytes)
    : source_(std::move(source)),
      reader_(std::move(reader)),
      copy_budget_(copy_budget),
      swap_storage_bytes_(swap_storage_bytes) {}

absl::StatusOr<at::Tensor> TensorBuilder::Build(const pickle::Object& obj,
                                                const std::string& name) {
  try {
    if (obj.is(Kind::kTensor)) return BuildTorch(obj, name);
    if (obj.is(Kind::kNdArray)) return BuildNumpy(obj, name);
  } catch (const std::exception& e) {  // c10::Error derives from std::exception
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    return absl::InternalError(absl::StrCat(source_, ": tensor '", name, "': ", what));
  }
  return absl::InvalidArgumentError(absl::StrCat(source_, ": '", name, "' is ",
                                                 pickle::Describe(obj),
                                                 ", not a tensor or numpy array"));
}

absl::StatusOr<c10::Storage> TensorBuilder::GetStorage(const pickle::StorageInfo& info,
                                                       const std::string& name) {
  if (auto it = storages_.find(info.key); it != storages_.end()) {
    if (it->second.dtype != info.dtype) {
      return absl::InvalidArgumentError(absl::StrCat(
          source_, ": storage '", info.key, "' is used both as ", pickle::DTypeName(it->second.dtype),
          " and as ", pickle::DTypeName(info.dtype), " (tensor '", name, "')"));
    }
    return it->second.storage;
  }
  if (!reader_) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": tensor '", name, "' refers to storage '", info.key,
                     "' but this file has no storage records"));
  }
  absl::StatusOr<c10::Storage> storage = reader_(info.key);
  if (!storage.ok()) return storage.status();
  const int elsize = pickle::DTypeSize(info.dtype);
  const uint64_t need = static_cast<uint64_t>(info.numel) * static_cast<uint64_t>(elsize);
  if (info.numel > (int64_t{1} << 58) || storage->nbytes() < need) {
    return absl::DataLossError(absl::StrCat(
        source_, ": storage record 'data/", info.key, "' has ", storage->nbytes(),
        " bytes but the pickle declares ", info.numel, " ", pickle::DTypeName(info.dtype),
        " elements (", need, " bytes) for tensor '", name, "'"));
  }
  char* data = static_cast<char*>(storage->data());
  if (swap_storage_bytes_) SwapBytes(data, need, SwapUnit(info.dtype));
  if (info.dtype == DType::kBool) NormalizeBools(data, need);
  bytes_read_ += storage->nbytes();
  storages_.emplace(info.key, CachedStorage{*storage, info.dtype});
  return storage;
}

absl::StatusOr<at::Tensor> TensorBuilder::BuildTorch(const pickle::Object& obj,
                                                     const std::string& name) {
  const pickle::TensorInfo& t = obj.tensor();
  const pickle::StorageInfo& s = t.storage->storage();
  absl::StatusOr<at::ScalarType> scalar_type = ToScalarType(s.dtype);
  if (!scalar_type.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": tensor '", name, "' has an unsupported storage type"));
  }
  absl::StatusOr<c10::Storage> storage = GetStorage(s, name);
  if (!storage.ok()) return storage.status();
  // The view must stay inside the declared storage: offset + sum((size - 1) * stride) < numel.
  bool empty = false;
  for (int64_t d : t.sizes) empty = empty || d == 0;
  absl::StatusOr<int64_t> view_numel = Numel(t.sizes);
  if (!view_numel.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": tensor '", name, "' has shape ",
                                                   ShapeString(t.sizes), ": ",
                                                   view_numel.status().message()));
  }
  if (!empty) {
    __int128 last = t.offset;
    for (size_t i = 0; i < t.sizes.size(); ++i) {
      last += static_cast<__int128>(t.sizes[i] - 1) * t.strides[i];
    }
    if (last >= s.numel) {
      return absl::DataLossError(absl::StrCat(
          source_, ": tensor '", name, "' (shape ", ShapeString(t.sizes), ", stride ",
          ShapeString(t.strides), ", offset ", t.offset, ") reaches past the end of its storage '",
          s.key, "' of ", s.numel, " elements"));
    }
  } else if (t.offset > s.numel) {
    return absl::DataLossError(absl::StrCat(source_, ": tensor '", name, "' has offset ",
                                            t.offset, " past its storage of ", s.numel,
                                            " elements"));
  }
  at::Tensor out = at::empty({0}, at::TensorOptions().dtype(*scalar_type));
  out.set_(*storage, t.offset, t.sizes, t.strides);
  return out;
}

absl::StatusOr<at::Tensor> TensorBuilder::BuildNumpy(const pickle::Object& obj,
                                                     const std::string& name) {
  if (auto it = arrays_.find(&obj); it != arrays_.end()) return it->second;
  const pickle::NdArrayInfo& a = obj.ndarray();
  if (!a.built || a.data == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": numpy array '", name, "' has no data (its state was never set)"));
  }
  absl::StatusOr<at::ScalarType> scalar_type = ToScalarType(a.dtype.dtype);
  if (!scalar_type.ok() || a.dtype.structured) {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": numpy array '", name,
                                                   "' has unsupported dtype '", a.dtype.spec,
                                                   "'"));
  }
  if (!a.data->is(Kind::kBytes) && !a.data->is(Kind::kStr)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source_, ": numpy array '", name, "' holds Python objects, not numbers"));
  }
  absl::StatusOr<int64_t> numel = Numel(a.shape);
  if (!numel.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": numpy array '", name, "' shape ",
                                                   ShapeString(a.shape), ": ",
                                                   numel.status().message()));
  }
  const int itemsize = pickle::DTypeSize(a.dtype.dtype);
  const size_t nbytes = static_cast<size_t>(*numel) * itemsize;
  absl::StatusOr<size_t> have = pickle::ByteSize(*a.data);
  if (!have.ok() || *have != nbytes) {
    return absl::DataLossError(absl::StrCat(source_, ": numpy array '", name, "' needs ", nbytes,
                                            " bytes of data"));
  }
  if (nbytes > copy_budget_ - std::min(copy_budget_, bytes_copied_)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        source_, ": numpy arrays reference more data than the file holds (array '", name, "')"));
  }
  bytes_copied_ += nbytes;
  at::Tensor flat = at::empty({*numel}, at::TensorOptions().dtype(*scalar_type));
  char* dst = static_cast<char*>(flat.data_ptr());
  if (absl::Status s = pickle::CopyBytes(*a.data, dst, nbytes); !s.ok()) {
    return absl::DataLossError(absl::StrCat(source_, ": numpy array '", name, "': ", s.message()));
  }
  if (a.dtype.byteorder == '>') SwapBytes(dst, nbytes, SwapUnit(a.dtype.dtype));
  if (a.dtype.dtype == DType::kBool) NormalizeBools(dst, nbytes);
  // torch.from_numpy keeps numpy's memory layout: C order, or column-major for Fortran order.
  std::vector<int64_t> strides(a.shape.size(), 1);
  if (a.fortran_order) {
    for (size_t i = 1; i < a.shape.size(); ++i) {
      strides[i] = strides[i - 1] * std::max<int64_t>(a.shape[i - 1], 1);
    }
  } else {
    for (size_t i = a.shape.size(); i-- > 1;) {
      strides[i - 1] = strides[i] * std::max<int64_t>(a.shape[i], 1);
    }
  }
  at::Tensor out = flat.as_strided(a.shape, strides);
  arrays_.emplace(&obj, out);
  return out;
}

}  // namespace d2x::checkpoint
