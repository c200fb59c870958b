// `d2x export`: export a model to deployment formats and verify every artifact against the eager
// model (core/export/export_pipeline.h does the work; this file turns flags into targets and
// prints the summary table).
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "core/export/export_pipeline.h"
#include "core/exporter.h"
#include "glog/logging.h"
#include "tools/d2x/bundled_files.h"
#include "tools/d2x/command.h"
#include "tools/d2x/flags.h"
#include "tools/d2x/table.h"

ABSL_FLAG(std::string, format, "all",
          "Export format (see `d2x plugins`), or `all` for every registered format and method.");
ABSL_FLAG(std::string, method, "",
          "Export method of the format (torchscript: tracing | scripting); empty = the format's "
          "default; `all` = every method.");
ABSL_FLAG(std::string, sample_image, "",
          "Image the model is traced at (required with --config; it should contain detections). "
          "Default with the bundled model: its 256x320 sample.");
ABSL_FLAG(std::string, second_image, "",
          "Another image for the verification checks. Default: the sample cropped to a size that is "
          "not a multiple of 32.");
ABSL_FLAG(std::string, format_options, "",
          "Format options as FORMAT.KEY=VALUE[,FORMAT.KEY=VALUE...], e.g. onnx.opset=16; each "
          "format gets its own keys and rejects the ones it does not know.");
ABSL_FLAG(int, opset, 0,
          "ONNX opset of the onnx format (16 or 17; 0 = the format's default, 17). Shorthand for "
          "--format_options onnx.opset=N.");
ABSL_FLAG(bool, overwrite, false, "Replace an existing output directory.");
ABSL_FLAG(bool, trace_check, false,
          "Also run the trace against the rewritten function on the second image and the batch "
          "before exporting (localizes a generalization failure to the trace; verification "
          "checks the artifact on the same inputs either way).");
ABSL_FLAG(bool, keep_failed, false,
          "Install an artifact that failed verification anyway (with its report.json), for "
          "debugging. By default a failed export leaves nothing behind.");

namespace d2x::tool {
namespace {
namespace fs = std::filesystem;

std::string Fixed(double v, int digits) { return absl::StrFormat("%.*f", digits, v); }

// Summary numbers of one outcome over its checks.
std::vector<std::string> SummaryRow(const exporting::ExportOutcome& o) {
  int ok_checks = 0;
  bool identical = !o.checks.empty();
  double min_box_iou = 1.0, max_score_delta = 0.0, min_mask_iou = 1.0, max_kp = 0.0;
  bool masks = false, keypoints = false;
  for (const verify::BatchComparison& c : o.checks) {
    ok_checks += c.ok ? 1 : 0;
    identical = identical && c.identical();
    for (const verify::ImageComparison& image : c.images) {
      min_box_iou = std::min(min_box_iou, image.match.min_box_iou);
      max_score_delta = std::max(max_score_delta, image.match.max_score_delta);
      if (image.match.compared_masks) {
        masks = true;
        min_mask_iou = std::min(min_mask_iou, image.match.min_mask_iou);
      }
      if (image.match.compared_keypoints) {
        keypoints = true;
        max_kp = std::max(max_kp, image.match.max_keypoint_dist);
      }
    }
  }
  const double seconds = o.report.value("total_seconds", 0.0);
  return {o.format,
          o.method.empty() ? "-" : o.method,
          o.status.ok() ? "OK" : "FAILED",
          absl::StrCat(ok_checks, "/", o.checks.size()),
          o.checks.empty() ? "-" : (identical ? "yes" : "no"),
          o.checks.empty() ? "-" : Fixed(min_box_iou, 6),
          o.checks.empty() ? "-" : absl::StrFormat("%.3g", max_score_delta),
          masks ? Fixed(min_mask_iou, 6) : "-",
          keypoints ? absl::StrFormat("%.3g", max_kp) : "-",
          Fixed(seconds, 1),
          o.installed ? o.output_dir : "(nothing written)"};
}

// "<format>: N detection pairs agree only at float resolution, M ..." when core/verify used its
// float-resolution rules in any check of the outcome (docs/EXPORT.md "Verification"), else "".
std::string FloatResolutionNote(const exporting::ExportOutcome& o) {
  int64_t at_resolution = 0, tie_excused = 0;
  for (const verify::BatchComparison& c : o.checks) {
    for (const verify::ImageComparison& image : c.images) {
      at_resolution += image.match.num_agreeing_at_resolution;
      tie_excused += image.match.num_tie_excused_expected + image.match.num_tie_excused_actual;
    }
  }
  if (at_resolution == 0 && tie_excused == 0) return "";
  std::string note = absl::StrCat(o.format, o.method.empty() ? "" : "_", o.method, ":");
  if (at_resolution > 0) {
    absl::StrAppend(&note, " ", at_resolution,
                    " detection pair(s) agree only at float resolution (sliver boxes within "
                    "1e-3 px, small masks one pixel off)");
  }
  if (tie_excused > 0) {
    absl::StrAppend(&note, at_resolution > 0 ? ";" : "", " ", tie_excused,
                    " detection(s) of exact score ties left out");
  }
  return absl::StrCat(note, " (report.json)");
}

// --format_options, by format: "onnx.opset=16,x.y=z" -> {onnx: {opset: 16}, x: {y: z}}.
absl::StatusOr<std::map<std::string, std::map<std::string, std::string>>> FormatOptions(
    const std::string& text) {
  std::map<std::string, std::map<std::string, std::string>> options;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    const size_t dot = item.find('.');
    const size_t eq = item.find('=');
    if (dot == absl::string_view::npos || eq == absl::string_view::npos || dot == 0 ||
        eq < dot + 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--format_options: '", item, "' is not FORMAT.KEY=VALUE (e.g. onnx.opset=16)"));
    }
    options[std::string(item.substr(0, dot))][std::string(item.substr(dot + 1, eq - dot - 1))] =
        std::string(item.substr(eq + 1));
  }
  return options;
}

absl::StatusOr<std::vector<exporting::ExportTarget>> Targets(const plugin::Registry& registry,
                                                             const std::string& output) {
  absl::StatusOr<std::map<std::string, std::map<std::string, std::string>>> format_options =
      FormatOptions(absl::GetFlag(FLAGS_format_options));
  if (!format_options.ok()) return format_options.status();
  if (const int opset = absl::GetFlag(FLAGS_opset); opset != 0) {
    std::map<std::string, std::string>& onnx = (*format_options)["onnx"];
    if (auto it = onnx.find("opset"); it != onnx.end() && it->second != std::to_string(opset)) {
      return absl::InvalidArgumentError(absl::StrCat("--opset ", opset,
                                                     " contradicts --format_options onnx.opset=",
                                                     it->second));
    }
    onnx["opset"] = std::to_string(opset);
  }
  const std::string format = absl::GetFlag(FLAGS_format);
  const std::string method = absl::GetFlag(FLAGS_method);
  std::vector<std::string> formats;
  if (format == "all") {
    formats = registry.Names(plugin::EntryKind::kExporter);
    if (formats.empty()) {
      return absl::FailedPreconditionError(
          "no export formats are registered (are the format plugins loaded? see `d2x doctor`)");
    }
  } else {
    formats = {format};
  }
  for (const auto& [f, unused] : *format_options) {
    if (std::find(formats.begin(), formats.end(), f) == formats.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--format_options names format '", f, "', which is not exported (",
                       absl::StrJoin(formats, ", "), ")"));
    }
  }
  const bool many = format == "all" || method == "all";
  std::vector<exporting::ExportTarget> targets;
  for (const std::string& f : formats) {
    absl::StatusOr<std::vector<std::string>> methods =
        exporting::ExportSession::FormatMethods(registry, f);
    if (!methods.ok()) return methods.status();
    std::vector<std::string> chosen;
    if (method == "all" || (format == "all" && method.empty())) {
      chosen = *methods;
    } else {
      chosen = {method};
    }
    for (const std::string& m : chosen) {
      exporting::ExportTarget t;
      t.format = f;
      t.method = m;
      t.output_dir = many ? (fs::path(output) / (m.empty() ? f : absl::StrCat(f, "_", m))).string()
                          : output;
      if (auto it = format_options->find(f); it != format_options->end()) t.options = it->second;
      t.overwrite = absl::GetFlag(FLAGS_overwrite);
      t.keep_failed = absl::GetFlag(FLAGS_keep_failed);
      targets.push_back(std::move(t));
    }
  }
  if (many) {
    std::error_code ec;
    if (fs::exists(output, ec) && !absl::GetFlag(FLAGS_overwrite)) {
      return absl::AlreadyExistsError(absl::StrCat(
          "output ", output, " already exists; pass --overwrite to replace what it holds"));
    }
  }
  return targets;
}

absl::Status Export(CommandContext& context, bool* all_ok) {
  exporting::ExportInputs inputs;
  inputs.model = {absl::GetFlag(FLAGS_config), context.opts, absl::GetFlag(FLAGS_weights)};
  inputs.sample_image = absl::GetFlag(FLAGS_sample_image);
  inputs.second_image = absl::GetFlag(FLAGS_second_image);
  inputs.trace_check = absl::GetFlag(FLAGS_trace_check);
  if (inputs.model.config_path.empty()) {
    if (!inputs.model.weights.empty()) {
      return absl::InvalidArgumentError("--weights needs --config");
    }
    // The bundled default model.
    auto config = BundledModelFile(context.argv0, "config.yaml");
    auto weights = BundledModelFile(context.argv0, "model_final.pth");
    if (!config.ok()) return config.status();
    if (!weights.ok()) return weights.status();
    inputs.model.config_path = *config;
    inputs.model.weights = *weights;
    if (inputs.sample_image.empty()) {
      auto sample = BundledModelFile(context.argv0, "input_256x320.png");
      if (!sample.ok()) return sample.status();
      inputs.sample_image = *sample;
      if (inputs.second_image.empty()) {
        auto second = BundledModelFile(context.argv0, "input_200x296.png");
        if (!second.ok()) return second.status();
        inputs.second_image = *second;
      }
    }
    std::printf("exporting the bundled model (models/mask_rcnn_small): %s\n",
                inputs.model.config_path.c_str());
    std::fflush(stdout);
  } else if (inputs.sample_image.empty()) {
    return absl::InvalidArgumentError(
        "--sample_image IMG is required with --config: the model is traced and verified on it "
        "(use an image with detections)");
  }
  std::string output = absl::GetFlag(FLAGS_output);
  if (output.empty()) output = "d2x_export";
  absl::StatusOr<std::vector<exporting::ExportTarget>> targets =
      Targets(*context.registry, output);
  if (!targets.ok()) return targets.status();
  for (const exporting::ExportTarget& t : *targets) {
    // Fail early, before loading anything.
    std::error_code ec;
    if (fs::exists(t.output_dir, ec) && !t.overwrite) {
      return absl::AlreadyExistsError(absl::StrCat(
          "output ", t.output_dir, " already exists; pass --overwrite to replace it"));
    }
  }
  absl::StatusOr<std::string> ops = OpsLibraryPath(context.argv0);
  if (ops.ok()) {
    inputs.runtime_libraries[kD2xOpsLibrary] = *ops;
  } else {
    LOG(WARNING) << ops.status().message() << "; formats that ship it will fail";
  }

  absl::StatusOr<std::unique_ptr<exporting::ExportSession>> session =
      exporting::ExportSession::Create(*context.registry, inputs);
  if (!session.ok()) return session.status();

  Table table({"FORMAT", "METHOD", "STATUS", "CHECKS", "IDENTICAL", "MIN_BOX_IOU",
               "MAX_SCORE_DELTA", "MIN_MASK_IOU", "MAX_KP_DIST", "SECONDS", "OUTPUT"});
  std::vector<std::string> failures;
  std::vector<std::string> table_rows;  // the IDENTICAL column
  std::vector<std::string> notes;       // FloatResolutionNote of each outcome
  *all_ok = true;
  for (const exporting::ExportTarget& target : *targets) {
    absl::StatusOr<exporting::ExportOutcome> outcome = (*session)->Export(target);
    if (!outcome.ok()) {
      *all_ok = false;
      failures.push_back(absl::StrCat(target.format, ": ", outcome.status().message()));
      table.AddRow({target.format, target.method.empty() ? "-" : target.method, "FAILED", "-", "-",
                    "-", "-", "-", "-", "-", "(nothing written)"});
      continue;
    }
    if (!outcome->status.ok()) {
      *all_ok = false;
      failures.push_back(outcome->Summary());
      for (const verify::BatchComparison& c : outcome->checks) {
        if (!c.ok) failures.push_back("  " + c.Summary());
      }
    }
    if (std::string note = FloatResolutionNote(*outcome); !note.empty()) notes.push_back(note);
    std::vector<std::string> row = SummaryRow(*outcome);
    table_rows.push_back(row[4]);
    table.AddRow(std::move(row));
  }
  std::printf("\n%s", table.ToString().c_str());
  for (const std::string& n : notes) std::printf("%s\n", n.c_str());
  for (const std::string& f : failures) std::fprintf(stderr, "%s\n", f.c_str());
  bool identical = true;
  for (const auto& row : table_rows) identical = identical && row == "yes";
  std::printf("%s\n",
              !*all_ok ? "export FAILED (see above and report.json)"
              : identical
                  ? "every export verified: results bit-identical to the eager model's"
                  : "every export verified: results equal the eager model's within the fixture "
                    "tolerances");
  return absl::OkStatus();
}

}  // namespace

int RunExport(CommandContext& context) {
  bool all_ok = false;
  absl::Status status = Export(context, &all_ok);
  if (!status.ok()) {
    std::fprintf(stderr, "d2x export: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return all_ok ? 0 : 1;
}

}  // namespace d2x::tool
