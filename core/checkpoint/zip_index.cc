#include "core/checkpoint/zip_index.h"

#include <zlib.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace d2x::checkpoint {
namespace {

constexpr uint32_t kEndOfCentralDir = 0x06054b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kZip64EndOfCentralDir = 0x06064b50;
constexpr uint32_t kCentralDirEntry = 0x02014b50;

uint64_t Le(const std::string& s, size_t pos, int n) {
  uint64_t v = 0;
  for (int k = 0; k < n; ++k) v |= uint64_t{static_cast<unsigned char>(s[pos + k])} << (8 * k);
  return v;
}

absl::StatusOr<std::string> ReadAt(std::ifstream& in, uint64_t offset, uint64_t n,
                                   const std::string& path) {
  std::string out(n, '\0');
  in.clear();
  in.seekg(static_cast<std::streamoff>(offset));
  if (!in.read(out.data(), static_cast<std::streamsize>(n))) {
    return absl::DataLossError(absl::StrCat(path, ": cannot read zip directory at ", offset));
  }
  return out;
}

}  // namespace

uint32_t Crc32(const void* data, size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  while (n > 0) {  // zlib takes uInt lengths
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

absl::StatusOr<ZipIndex> ZipIndex::Read(const std::string& path) {
  auto corrupt = [&path](const std::string& what) {
    return absl::DataLossError(absl::StrCat(path, ": corrupt zip archive: ", what));
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  in.seekg(0, std::ios::end);
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  ZipIndex index;
  index.path_ = path;
  index.file_size_ = size;
  // The end-of-central-directory record: 22 bytes plus a comment of up to 65535 bytes.
  const uint64_t tail_size = std::min<uint64_t>(size, 22 + 65535);
  absl::StatusOr<std::string> tail = ReadAt(in, size - tail_size, tail_size, path);
  if (!tail.ok()) return tail.status();
  size_t eocd = std::string::npos;
  for (size_t pos = tail->size() >= 22 ? tail->size() - 22 + 1 : 0; pos-- > 0;) {
    if (Le(*tail, pos, 4) == kEndOfCentralDir) {
      eocd = pos;
      break;
    }
  }
  if (eocd == std::string::npos) return corrupt("no end-of-central-directory record");
  uint64_t count = Le(*tail, eocd + 10, 2);
  uint64_t dir_size = Le(*tail, eocd + 12, 4);
  uint64_t dir_offset = Le(*tail, eocd + 16, 4);
  if (count == 0xFFFF || dir_size == 0xFFFFFFFF || dir_offset == 0xFFFFFFFF) {
    // Zip64: the locator sits right before the end-of-central-directory record.
    const uint64_t eocd_abs = size - tail_size + eocd;
    if (eocd_abs < 20) return corrupt("zip64 locator missing");
    absl::StatusOr<std::string> locator = ReadAt(in, eocd_abs - 20, 20, path);
    if (!locator.ok()) return locator.status();
    if (Le(*locator, 0, 4) != kZip64Locator) return corrupt("zip64 locator missing");
    const uint64_t record_offset = Le(*locator, 8, 8);
    if (record_offset > size || size - record_offset < 56) return corrupt("bad zip64 record offset");
    absl::StatusOr<std::string> record = ReadAt(in, record_offset, 56, path);
    if (!record.ok()) return record.status();
    if (Le(*record, 0, 4) != kZip64EndOfCentralDir) return corrupt("bad zip64 record");
    count = Le(*record, 32, 8);
    dir_size = Le(*record, 40, 8);
    dir_offset = Le(*record, 48, 8);
  }
  if (dir_offset > size || dir_size > size - dir_offset) {
    return corrupt("central directory lies outside the file");
  }
  if (count > dir_size / 46) return corrupt("central directory too small for its entry count");
  absl::StatusOr<std::string> dir = ReadAt(in, dir_offset, dir_size, path);
  if (!dir.ok()) return dir.status();
  size_t pos = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (dir->size() - pos < 46 || Le(*dir, pos, 4) != kCentralDirEntry) {
      return corrupt(absl::StrCat("bad central directory entry ", i));
    }
    ZipEntry e;
    e.method = static_cast<uint16_t>(Le(*dir, pos + 10, 2));
    e.crc32 = static_cast<uint32_t>(Le(*dir, pos + 16, 4));
    e.compressed_size = Le(*dir, pos + 20, 4);
    e.uncompressed_size = Le(*dir, pos + 24, 4);
    const size_t name_len = Le(*dir, pos + 28, 2);
    const size_t extra_len = Le(*dir, pos + 30, 2);
    const size_t comment_len = Le(*dir, pos + 32, 2);
    e.local_header_offset = Le(*dir, pos + 42, 4);
    if (dir->size() - pos - 46 < name_len + extra_len + comment_len) {
      return corrupt(absl::StrCat("central directory entry ", i, " is truncated"));
    }
    e.name = dir->substr(pos + 46, name_len);
    // Zip64 extended information: the 8-byte values of the fields that were 0xFFFFFFFF.
    for (size_t x = pos + 46 + name_len; x + 4 <= pos + 46 + name_len + extra_len;) {
      const uint64_t id = Le(*dir, x, 2), len = Le(*dir, x + 2, 2);
      if (x + 4 + len > pos + 46 + name_len + extra_len) break;
      if (id == 0x0001) {
        size_t f = x + 4;
        auto take = [&](uint64_t* field) {
          if (*field == 0xFFFFFFFF && f + 8 <= x + 4 + len) {
            *field = Le(*dir, f, 8);
            f += 8;
          }
        };
        take(&e.uncompressed_size);
        take(&e.compressed_size);
        take(&e.local_header_offset);
      }
      x += 4 + len;
    }
    pos += 46 + name_len + extra_len + comment_len;
    index.by_name_.emplace(e.name, index.entries_.size());
    index.entries_.push_back(std::move(e));
  }
  return index;
}

const ZipEntry* ZipIndex::Find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

absl::Status ZipIndex::CheckSizes(const ZipEntry& e) const {
  const bool fits = e.local_header_offset <= file_size_ &&
                    e.compressed_size <= file_size_ - e.local_header_offset;
  const bool plausible = e.method == 0 ? e.uncompressed_size == e.compressed_size
                                       : e.uncompressed_size / 1032 <= e.compressed_size;
  if (!fits || !plausible) {
    return absl::DataLossError(absl::StrCat(
        path_, ": zip record '", e.name, "' declares ", e.uncompressed_size, " bytes (",
        e.compressed_size, " stored at offset ", e.local_header_offset, ") which the ",
        file_size_, "-byte file cannot hold"));
  }
  return absl::OkStatus();
}

}  // namespace d2x::checkpoint
