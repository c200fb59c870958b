#include "tools/d2x/output_files.h"

#include <filesystem>
#include <fstream>

#include "core/io/panoptic.h"
#include "nlohmann/json.hpp"

namespace d2x::tool {
namespace fs = std::filesystem;

absl::Status WriteExtraOutputs(const std::string& results_path, size_t index,
                               const ImageResult& result) {
  const fs::path base = fs::path(results_path).parent_path() /
                        fs::path(results_path).stem();
  const std::string suffix = "." + std::to_string(index) + ".png";
  if (result.sem_seg.defined()) {
    if (absl::Status s = io::WriteSemSegPng(base.string() + ".sem_seg" + suffix, result.sem_seg);
        !s.ok()) {
      return s;
    }
  }
  if (!result.panoptic_seg.defined()) return absl::OkStatus();
  const std::string png = base.string() + ".panoptic" + suffix;
  if (absl::Status s = io::WritePanopticPng(png, result.panoptic_seg); !s.ok()) return s;

  const std::string json_path = base.string() + ".panoptic.json";
  nlohmann::json doc = {{"annotations", nlohmann::json::array()}};
  if (index > 0) {
    std::ifstream in(json_path);
    doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) doc = {{"annotations", nlohmann::json::array()}};
  }
  doc["annotations"].push_back({{"image_id", index},
                                {"file_name", fs::path(png).filename().string()},
                                {"segments_info", io::SegmentsInfoJson(result.segments_info)}});
  return WriteFileAtomically(json_path, doc.dump());
}

}  // namespace d2x::tool
