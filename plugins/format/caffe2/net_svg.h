// An SVG drawing of a Caffe2 predict_net (detectron2's Caffe2Model.save_graph): ops as boxes,
// blobs as ellipses, edges blob -> op -> blob, laid out by graphviz (dot). With `blobs` (e.g.
// NetExecutor::blobs() after a run), blob labels carry their shapes.
#ifndef D2X_PLUGINS_FORMAT_CAFFE2_NET_SVG_H_
#define D2X_PLUGINS_FORMAT_CAFFE2_NET_SVG_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "plugins/format/caffe2/net_io.h"

namespace d2x::caffe2_format {

absl::StatusOr<std::string> RenderNetSvg(const d2x::caffe2::NetDef& net,
                                         const std::map<std::string, at::Tensor>* blobs = nullptr);

// RenderNetSvg into a file.
absl::Status SaveGraph(const d2x::caffe2::NetDef& net, const std::string& svg_path,
                       const std::map<std::string, at::Tensor>* blobs = nullptr);

}  // namespace d2x::caffe2_format

#endif  // D2X_PLUGINS_FORMAT_CAFFE2_NET_SVG_H_
