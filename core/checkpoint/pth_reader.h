// The torch.save zip container (torch >= 1.6): <prefix>/data.pkl, <prefix>/data/<key> storages,
// <prefix>/version and optionally <prefix>/byteorder. Read with LibTorch's PyTorchStreamReader,
// which finds the prefix from the first entry; its c10::Errors become Status. Every record's
// declared size is checked against the file before it is read, and its CRC-32 after (ZipIndex).
#ifndef D2X_CORE_CHECKPOINT_PTH_READER_H_
#define D2X_CORE_CHECKPOINT_PTH_READER_H_

#include <c10/core/Storage.h>

#include <memory>
#include <string>
#include <tuple>

#include "absl/status/statusor.h"
#include "core/checkpoint/zip_index.h"

namespace caffe2::serialize {
class PyTorchStreamReader;
}  // namespace caffe2::serialize

namespace d2x::checkpoint {

class PthArchive {
 public:
  // Opens the archive and reads data.pkl. Errors name `path`.
  static absl::StatusOr<std::unique_ptr<PthArchive>> Open(const std::string& path);
  ~PthArchive();

  const std::string& pickle_bytes() const { return pickle_; }
  // "little" unless the archive has a byteorder record that says "big".
  bool big_endian() const { return big_endian_; }
  // The bytes of record data/<key>, read once into a fresh buffer that becomes the storage.
  absl::StatusOr<c10::Storage> ReadStorage(const std::string& key);

 private:
  PthArchive() = default;
  // Reads record <prefix>/<name> after checking its declared size; verifies size and CRC-32.
  absl::StatusOr<std::tuple<at::DataPtr, size_t>> ReadRecord(const std::string& name);

  std::string path_;
  std::unique_ptr<ZipIndex> index_;
  std::string prefix_;  // "<archive name>/"
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader_;
  std::string pickle_;
  bool big_endian_ = false;
};

// True if `head` (the first bytes of a file) starts a zip archive.
bool LooksLikeZip(const std::string& head);
// True if `head` starts the legacy (torch < 1.6) torch.save format: a pickled magic number.
bool LooksLikeLegacyTorchSave(const std::string& head);

}  // namespace d2x::checkpoint

#endif  // D2X_CORE_CHECKPOINT_PTH_READER_H_
