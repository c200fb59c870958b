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
  try {
    archive->reader_ = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
    if (!archive->reader_->hasRecord("data.pkl")) {
      std::vector<std::string> records = archive->reader_->getAllRecords();
      if (records.size() > 8) records.resize(8);
      return absl::DataLossError(absl::StrCat(
          path, ": zip archive has no data.pkl record (not a torch.save file?); records: ",
          absl::StrJoin(records, ", ")));
    }
    auto [data, size] = archive->reader_->getRecord("data.pkl");
    archive->pickle_.assign(static_cast<const char*>(data.get()), size);
    if (archive->reader_->hasRecord("byteorder")) {
      auto [order, order_size] = archive->reader_->getRecord("byteorder");
      const std::string value(static_cast<const char*>(order.get()), order_size);
      if (value != "little" && value != "big") {
        return absl::DataLossError(
            absl::StrCat(path, ": byteorder record says '", value, "', expected little or big"));
      }
      archive->big_endian_ = value == "big";
    }
  } catch (const std::exception& e) {  // c10::Error and allocation failures
    return absl::DataLossError(
        absl::StrCat(path, ": cannot read the torch.save zip container: ", FirstLine(e.what())));
  }
  return archive;
}

absl::StatusOr<c10::Storage> PthArchive::ReadStorage(const std::string& key) {
  const std::string record = absl::StrCat("data/", key);
  try {
    if (!reader_->hasRecord(record)) {
      return absl::DataLossError(absl::StrCat(
          path_, ": data.pkl refers to storage '", key, "' but record '", record,
          "' is missing from the archive"));
    }
    auto [data, size] = reader_->getRecord(record);
    return c10::Storage(c10::Storage::use_byte_size_t(), size, std::move(data),
                        /*allocator=*/nullptr, /*resizable=*/false);
  } catch (const std::exception& e) {
    return absl::DataLossError(
        absl::StrCat(path_, ": cannot read record '", record, "': ", FirstLine(e.what())));
  }
}

}  // namespace d2x::checkpoint
