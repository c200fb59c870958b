// The numpy part of the unpickler's allow-list: numpy.dtype, numpy.core.multiarray.scalar,
// numpy.core.numeric._frombuffer and the BUILD states of dtypes and arrays (what
// ndarray.__setstate__ / dtype.__setstate__ would do, checked as numpy checks them). Torch-free.
#ifndef D2X_CORE_CHECKPOINT_PICKLE_NUMPY_H_
#define D2X_CORE_CHECKPOINT_PICKLE_NUMPY_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/checkpoint/pickle_globals.h"
#include "core/checkpoint/pickle_object.h"

namespace d2x::checkpoint::pickle {

// numpy.dtype(spec, align, copy): a kDType (a placeholder for specs that are not strings).
absl::StatusOr<Object*> NumpyDType(GlobalsContext& ctx, const Object* callable, Object* args);
// numpy.core.multiarray.scalar(dtype, bytes): a kInt / kFloat / kBool for plain numeric types,
// a placeholder otherwise.
absl::StatusOr<Object*> NumpyScalar(GlobalsContext& ctx, const Object* callable, Object* args);
// numpy.core.numeric._frombuffer(buffer, dtype, shape, order): a built kNdArray.
absl::StatusOr<Object*> NumpyFromBuffer(GlobalsContext& ctx, Object* args);
// BUILD on a kDType: (version, byteorder, subarray, names, fields, ...).
absl::Status BuildNumpyDType(GlobalsContext& ctx, Object* obj, const Object* state);
// BUILD on a kNdArray: ([version,] shape, dtype, is_fortran, data); data size checked.
absl::Status BuildNumpyArray(GlobalsContext& ctx, Object* obj, Object* state);

}  // namespace d2x::checkpoint::pickle

#endif  // D2X_CORE_CHECKPOINT_PICKLE_NUMPY_H_
