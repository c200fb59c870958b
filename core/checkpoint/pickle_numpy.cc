#include "core/checkpoint/pickle_numpy.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"

namespace d2x::checkpoint::pickle {
namespace {

using absl::InvalidArgumentError;
using absl::StrCat;

bool IsIntLike(const Object* o) { return o->is(Kind::kInt) || o->is(Kind::kBool); }
int64_t IntValue(const Object* o) { return o->is(Kind::kBool) ? (o->b ? 1 : 0) : o->i; }

absl::StatusOr<Object*> NewDType(GlobalsContext& ctx, const Object* spec) {
  absl::StatusOr<Object*> out = ctx.arena->New(Kind::kDType);
  if (!out.ok()) return out;
  DTypeInfo info;
  info.spec = TextOf(*spec).substr(0, 64);
  int itemsize = 0;
  info.dtype = DTypeFromNumpySpec(info.spec, &itemsize);
  if (!info.spec.empty() && (info.spec[0] == '<' || info.spec[0] == '>' || info.spec[0] == '=' ||
                             info.spec[0] == '|')) {
    info.byteorder = info.spec[0];
  }
  (*out)->info = std::move(info);
  return out;
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  float value;
  if (exp == 0) {
    value = std::ldexp(static_cast<float>(mant), -24);
  } else if (exp == 31) {
    value = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    value = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  }
  return sign ? -value : value;
}

}  // namespace

absl::StatusOr<Object*> NumpyScalar(GlobalsContext& ctx, const Object* callable, Object* args) {
  const std::vector<Object*>& a = args->items;
  if (a.size() != 2 || !a[0]->is(Kind::kDType) ||
      (!a[1]->is(Kind::kBytes) && !a[1]->is(Kind::kStr))) {
    return NewPlaceholder(ctx, callable, args);
  }
  const DTypeInfo& dt = a[0]->dtype();
  absl::StatusOr<size_t> n = ByteSize(*a[1]);
  if (!n.ok() || dt.dtype == DType::kUnsupported || *n != static_cast<size_t>(DTypeSize(dt.dtype)) ||
      dt.dtype == DType::kComplex64 || dt.dtype == DType::kComplex128 || *n > 8) {
    return NewPlaceholder(ctx, callable, args);
  }
  unsigned char buf[8] = {0};
  if (absl::Status s = CopyBytes(*a[1], reinterpret_cast<char*>(buf), *n); !s.ok()) return s;
  if (dt.byteorder == '>') std::reverse(buf, buf + *n);
  auto load = [&](auto zero) {
    decltype(zero) v;
    std::memcpy(&v, buf, sizeof(v));
    return v;
  };
  Object* out;
  switch (dt.dtype) {
    case DType::kBool: return ctx.arena->boolean(buf[0] != 0);
    case DType::kFloat32:
    case DType::kFloat64:
    case DType::kFloat16: {
      absl::StatusOr<Object*> o = ctx.arena->New(Kind::kFloat);
      if (!o.ok()) return o;
      out = *o;
      out->f = dt.dtype == DType::kFloat32   ? load(0.0f)
               : dt.dtype == DType::kFloat64 ? load(0.0)
                                             : HalfToFloat(load(uint16_t{0}));
      return out;
    }
    default: {
      absl::StatusOr<Object*> o = ctx.arena->New(Kind::kInt);
      if (!o.ok()) return o;
      out = *o;
      switch (dt.dtype) {
        case DType::kInt8: out->i = load(int8_t{0}); break;
        case DType::kUInt8: out->i = load(uint8_t{0}); break;
        case DType::kInt16: out->i = load(int16_t{0}); break;
        case DType::kInt32: out->i = load(int32_t{0}); break;
        case DType::kInt64: out->i = load(int64_t{0}); break;
        default: return NewPlaceholder(ctx, callable, args);
      }
      return out;
    }
  }
}

namespace {

// Checks the data of a built array against its shape and dtype, as numpy does.
absl::Status CheckArrayData(const NdArrayInfo& info) {
  const int itemsize = DTypeSize(info.dtype.dtype);
  if (itemsize == 0 || info.data == nullptr ||
      (!info.data->is(Kind::kBytes) && !info.data->is(Kind::kStr))) {
    return absl::OkStatus();  // unsupported array: refused when (if) it is materialized
  }
  uint64_t bytes = static_cast<uint64_t>(itemsize);
  for (int64_t d : info.shape) {
    if (d != 0 && bytes > (uint64_t{1} << 62) / static_cast<uint64_t>(d)) {
      return InvalidArgumentError("numpy array shape is too large");
    }
    bytes *= static_cast<uint64_t>(d);
  }
  absl::StatusOr<size_t> have = ByteSize(*info.data);
  if (!have.ok()) return have.status();
  if (*have != bytes) {
    return InvalidArgumentError(StrCat("numpy array data has ", *have, " bytes but shape and dtype ",
                                       info.dtype.spec, " need ", bytes));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Object*> NumpyFromBuffer(GlobalsContext& ctx, Object* args) {
  const std::vector<Object*>& a = args->items;
  if (a.size() != 4 || !a[1]->is(Kind::kDType) || !a[3]->is(Kind::kStr)) {
    return InvalidArgumentError("numpy _frombuffer(buffer, dtype, shape, order) expected");
  }
  NdArrayInfo info;
  info.dtype = a[1]->dtype();
  absl::StatusOr<std::vector<int64_t>> shape = IntTuple(*a[2], "numpy array shape");
  if (!shape.ok()) return shape.status();
  info.shape = std::move(*shape);
  info.fortran_order = IsStr(*a[3], "F");
  info.data = a[0];
  info.built = true;
  if (absl::Status s = CheckArrayData(info); !s.ok()) return s;
  absl::StatusOr<Object*> out = ctx.arena->New(Kind::kNdArray);
  if (!out.ok()) return out;
  (*out)->info = std::move(info);
  return out;
}

absl::StatusOr<Object*> NumpyDType(GlobalsContext& ctx, const Object* callable, Object* args) {
  if (args->items.empty() || !args->items[0]->is(Kind::kStr)) {
    return NewPlaceholder(ctx, callable, args);
  }
  return NewDType(ctx, args->items[0]);
}

absl::Status BuildNumpyDType(GlobalsContext& ctx, Object* obj, const Object* state) {
  if (!state->is(Kind::kTuple) || state->items.size() < 2) {
    return InvalidArgumentError("numpy dtype state must be a tuple");
  }
  DTypeInfo& info = std::get<DTypeInfo>(obj->info);
  const Object* endian = state->items[1];
  if (endian->is(Kind::kStr) && endian->data.size() == 1) info.byteorder = endian->data[0];
  if (state->items.size() >= 5 &&
      (!state->items[2]->is(Kind::kNone) || !state->items[3]->is(Kind::kNone))) {
    info.structured = true;
    info.dtype = DType::kUnsupported;
  }
  return absl::OkStatus();
}

absl::Status BuildNumpyArray(GlobalsContext& ctx, Object* obj, Object* state) {
  if (!state->is(Kind::kTuple) || (state->items.size() != 4 && state->items.size() != 5)) {
    return InvalidArgumentError("numpy array state must be a 4- or 5-tuple");
  }
  const size_t o = state->items.size() == 5 ? 1 : 0;
  const Object* dtype = state->items[o + 1];
  if (!dtype->is(Kind::kDType)) {
    return InvalidArgumentError(StrCat("numpy array state has ", Describe(*dtype),
                                       " where a dtype belongs"));
  }
  NdArrayInfo& info = std::get<NdArrayInfo>(obj->info);
  absl::StatusOr<std::vector<int64_t>> shape = IntTuple(*state->items[o], "numpy array shape");
  if (!shape.ok()) return shape.status();
  if (absl::Status s = ctx.arena->Charge(8 * shape->size()); !s.ok()) return s;
  info.shape = std::move(*shape);
  info.dtype = dtype->dtype();
  const Object* fortran = state->items[o + 2];
  info.fortran_order = IsIntLike(fortran) && IntValue(fortran) != 0;
  info.data = state->items[o + 3];
  info.built = true;
  if (absl::Status s = Adopt(ctx, obj, state); !s.ok()) return s;
  return CheckArrayData(info);
}

}  // namespace d2x::checkpoint::pickle
