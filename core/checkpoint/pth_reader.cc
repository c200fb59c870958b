#include "core/checkpoint/pth_reader.h"

#include <caffe2/serialize/inline_container.h>

#include <exception>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace d2x::checkpoint {
namespace {

// c10::Error messages carry a multi-line backtrace: keep the first line.
std::string FirstLine(const char* what) {
  std::string s = what;
  return s.substr(0, s.find('\n'));
}

}  // namespace

bool LooksLikeZip(const std::string& head) {
  return head.size() >= 4 && head[0] == 'P' && head[1] == 'K' &&
         ((head[2] == '\x03' && head[3] == '\x04') || (head[2] == '\x05' && head[3] == '\x06'));
}

bool LooksLikeLegacyTorchSave(const std::string& head) {
  // pickle.dump(0x1950a86a20f9469cfc6c, protocol=2): PROTO 2, LONG1 10 bytes, little-endian.
  static const char kMagic[] = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
  return head.size() >= 14 && head.compare(0, 14, std::string(kMagic, 14)) == 0;
}

PthArchive::~PthArchive() = default;

absl::StatusOr<std::unique_ptr<PthArchive>> PthArchive::Open(const std::string& path) {
  std::unique_ptr<PthArchive> archive(new PthArchive());
  archive->path_ = path;
  absl::StatusOr<ZipIndex> index = ZipIndex::Read(path);
  if (!index.ok()) return index.status();
  archive->index_ = std::make_unique<ZipIndex>(*std::move(index));
  if (archive->index_->entries().empty()) {
    return absl::DataLossError(absl::StrCat(path, ": zip archive is empty"));
  }
  // Every declared size must fit the file before LibTorch allocates for any record.
  for (const ZipEntry& entry : archive->index_->entries()) {
    if (absl::Status s = archive->index_->CheckSizes(entry); !s.ok()) return s;
  }
  // The archive folder is the first entry's (PyTorchStreamReader's rule).
  const std::string& first = archive->index_->entries().front().name;
  archive->prefix_ = first.substr(0, first.find('/') + 1);
  try {
    archive->reader_ = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const std::exception& e) {  // c10::Error and allocation failures
    return absl::DataLossError(
        absl::StrCat(path, ": cannot read the torch.save zip container: ", FirstLine(e.what())));
  }
  if (archive->index_->Find(archive->prefix_ + "data.pkl") == nullptr) {
    std::vector<std::string> records;
    for (const ZipEntry& entry : archive->index_->entries()) {
      if (records.size() < 8) records.push_back(entry.name);
    }
    return absl::DataLossError(absl::StrCat(
        path, ": zip archive has no data.pkl record (not a torch.save file?); records: ",
        absl::StrJoin(records, ", ")));
  }
  absl::StatusOr<std::tuple<at::DataPtr, size_t>> pickle = archive->ReadRecord("data.pkl");
  if (!pickle.ok()) return pickle.status();
  archive->pickle_.assign(static_cast<const char*>(std::get<0>(*pickle).get()),
                          std::get<1>(*pickle));
  if (archive->index_->Find(archive->prefix_ + "byteorder") != nullptr) {
    absl::StatusOr<std::tuple<at::DataPtr, size_t>> order = archive->ReadRecord("byteorder");
    if (!order.ok()) return order.status();
    const std::string value(static_cast<const char*>(std::get<0>(*order).get()),
                            std::get<1>(*order));
    if (value != "little" && value != "big") {
      return absl::DataLossError(
          absl::StrCat(path, ": byteorder record says '", value, "', expected little or big"));
    }
    archive->big_endian_ = value == "big";
  }
  return archive;
}

absl::StatusOr<std::tuple<at::DataPtr, size_t>> PthArchive::ReadRecord(const std::string& name) {
  const ZipEntry* entry = index_->Find(prefix_ + name);
  if (entry == nullptr) {
    return absl::DataLossError(absl::StrCat(path_, ": record '", name, "' is missing"));
  }
  try {
    auto [data, size] = reader_->getRecord(name);
    if (size != entry->uncompressed_size) {
      return absl::DataLossError(absl::StrCat(path_, ": record '", name, "' has ", size,
                                              " bytes, its directory entry says ",
                                              entry->uncompressed_size));
    }
    const uint32_t crc = Crc32(data.get(), size);
    if (crc != entry->crc32) {
      return absl::DataLossError(absl::StrCat(path_, ": record '", name,
                                              "' fails its CRC-32 check (file corrupt)"));
    }
    return std::make_tuple(std::move(data), size);
  } catch (const std::exception& e) {
    return absl::DataLossError(
        absl::StrCat(path_, ": cannot read record '", name, "': ", FirstLine(e.what())));
  }
}

absl::StatusOr<c10::Storage> PthArchive::ReadStorage(const std::string& key) {
  const std::string record = absl::StrCat("data/", key);
  if (index_->Find(prefix_ + record) == nullptr) {
    return absl::DataLossError(absl::StrCat(path_, ": data.pkl refers to storage '", key,
                                            "' but record '", record,
                                            "' is missing from the archive"));
  }
  absl::StatusOr<std::tuple<at::DataPtr, size_t>> data = ReadRecord(record);
  if (!data.ok()) return data.status();
  auto& [ptr, size] = *data;
  return c10::Storage(c10::Storage::use_byte_size_t(), size, std::move(ptr),
                      /*allocator=*/nullptr, /*resizable=*/false);
}

}  // namespace d2x::checkpoint
