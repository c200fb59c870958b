// Turns the pickle VM's tensor and array descriptors into at::Tensors.
//
// Torch tensors (kTensor) are views of storages that a RecordReader supplies (the .pth zip's
// data/<key> records): each storage is read once, kept as a c10::Storage without copying, and
// shared by every tensor that refers to it, like torch.load does. Offsets, sizes and strides are
// checked against the storage before the view is made. Numpy arrays (kNdArray) are copied once,
// straight from the pickle bytes into the tensor's memory (decoding latin-1 text on the way where
// protocol-2 pickles stored bytes as text), with the strides torch.from_numpy would give.
#ifndef D2X_CORE_CHECKPOINT_TENSOR_BUILDER_H_
#define D2X_CORE_CHECKPOINT_TENSOR_BUILDER_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Storage.h>

#include <functional>
#include <map>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/checkpoint/pickle_object.h"

namespace d2x::checkpoint {

class TensorBuilder {
 public:
  // Reads the storage record for `key`: its bytes as a byte-sized c10::Storage.
  using RecordReader = std::function<absl::StatusOr<c10::Storage>(const std::string& key)>;

  // `source` names the file in errors. `reader` may be empty when no torch storages are expected.
  // `copy_budget` bounds the bytes copied for numpy arrays (a pickle can reference one large
  // buffer from many arrays). `swap_storage_bytes`: storages are big-endian (zip "byteorder").
  TensorBuilder(std::string source, RecordReader reader, size_t copy_budget,
                bool swap_storage_bytes = false);

  // The tensor for a kTensor or kNdArray object; `name` is used in errors. Other kinds are errors.
  absl::StatusOr<at::Tensor> Build(const pickle::Object& obj, const std::string& name);

  size_t bytes_read() const { return bytes_read_; }

 private:
  absl::StatusOr<at::Tensor> BuildTorch(const pickle::Object& obj, const std::string& name);
  absl::StatusOr<at::Tensor> BuildNumpy(const pickle::Object& obj, const std::string& name);
  absl::StatusOr<c10::Storage> GetStorage(const pickle::StorageInfo& info, const std::string& name);

  std::string source_;
  RecordReader reader_;
  size_t copy_budget_;
  bool swap_storage_bytes_;
  size_t bytes_read_ = 0;
  size_t bytes_copied_ = 0;
  struct CachedStorage {
    c10::Storage storage;
    pickle::DType dtype;
  };
  std::map<std::string, CachedStorage> storages_;
  absl::flat_hash_map<const pickle::Object*, at::Tensor> arrays_;  // shared ndarray objects
};

}  // namespace d2x::checkpoint

#endif  // D2X_CORE_CHECKPOINT_TENSOR_BUILDER_H_
