// Output files of `d2x run` beyond results.json.
#ifndef D2X_TOOLS_D2X_OUTPUT_FILES_H_
#define D2X_TOOLS_D2X_OUTPUT_FILES_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "core/io/files.h"
#include "core/model.h"

namespace d2x::tool {

using io::WriteFileAtomically;

// For `results_path` = DIR/results.json and image `index`: when the result has a
// panoptic map, writes DIR/results.panoptic.<index>.png (COCO panoptic PNG) and adds the image's
// entry to DIR/results.panoptic.json ({"annotations": [{"image_id", "file_name",
// "segments_info"}]}); when it has sem_seg logits, writes DIR/results.sem_seg.<index>.png (argmax).
absl::Status WriteExtraOutputs(const std::string& results_path, size_t index,
                               const ImageResult& result);

}  // namespace d2x::tool

#endif  // D2X_TOOLS_D2X_OUTPUT_FILES_H_
