// A read-only index of a zip archive's central directory (zip64 included): per record its
// compression method, sizes, data offset and CRC-32. PyTorchStreamReader reads the records; this
// index lets d2x check their declared sizes before anything is allocated and verify their CRC-32
// afterwards (LibTorch's miniz is built without CRC checks, so a corrupt .pth would otherwise
// load silently).
#ifndef D2X_CORE_CHECKPOINT_ZIP_INDEX_H_
#define D2X_CORE_CHECKPOINT_ZIP_INDEX_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace d2x::checkpoint {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflate
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
};

class ZipIndex {
 public:
  // Reads the central directory of `path`. Errors name the file.
  static absl::StatusOr<ZipIndex> Read(const std::string& path);

  // Entries in central-directory order.
  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* Find(const std::string& name) const;
  uint64_t file_size() const { return file_size_; }

  // Checks that `entry`'s declared sizes are plausible for this file (a stored record fits in the
  // file; a deflated one expands at most 1032x, deflate's limit) before it is read.
  absl::Status CheckSizes(const ZipEntry& entry) const;

 private:
  std::string path_;
  uint64_t file_size_ = 0;
  std::vector<ZipEntry> entries_;
  std::map<std::string, size_t> by_name_;
};

// CRC-32 (zip / zlib polynomial) of `n` bytes.
uint32_t Crc32(const void* data, size_t n);

}  // namespace d2x::checkpoint

#endif  // D2X_CORE_CHECKPOINT_ZIP_INDEX_H_
