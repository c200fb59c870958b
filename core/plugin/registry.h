// The typed plugin registry and the staging Registrar plugins fill.
//
// Categories:
//   architecture plugins: model builders and rewriters, keyed by MODEL.META_ARCHITECTURE
//                         (e.g. "GeneralizedRCNN");
//   format plugins:       exporters and runners, keyed by format name (e.g. "torchscript").
// Every entry records the plugin that provided it (Provenance). Names are unique per category.
#ifndef D2X_CORE_PLUGIN_REGISTRY_H_
#define D2X_CORE_PLUGIN_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace d2x {
class Model;
class Rewriter;
class Exporter;
class Runner;
namespace config {
class Config;
}  // namespace config

using ModelBuilder =
    std::function<absl::StatusOr<std::unique_ptr<Model>>(const config::Config&)>;
using RewriterFactory = std::function<std::unique_ptr<Rewriter>()>;
using ExporterFactory = std::function<std::unique_ptr<Exporter>()>;
using RunnerFactory = std::function<std::unique_ptr<Runner>()>;

namespace plugin {

enum class EntryKind { kModelBuilder, kRewriter, kExporter, kRunner };

// "model_builder", "rewriter", "exporter", "runner".
const char* EntryKindName(EntryKind kind);

// Where an entry came from.
struct Provenance {
  std::string plugin_name;
  std::string plugin_version;
  std::string path;  // the shared library; "<builtin>" for entries registered by the host
};

template <typename T>
struct Entry {
  std::string name;
  T value;
  Provenance provenance;
};

// Collects a plugin's entries. Nothing is visible in the Registry until Registry::Commit.
class Registrar {
 public:
  void AddModelBuilder(std::string meta_architecture, ModelBuilder builder);
  void AddRewriter(std::string meta_architecture, RewriterFactory factory);
  void AddExporter(std::string format, ExporterFactory factory);
  void AddRunner(std::string format, RunnerFactory factory);

  int size() const;

 private:
  friend class Registry;
  std::vector<std::pair<std::string, ModelBuilder>> model_builders_;
  std::vector<std::pair<std::string, RewriterFactory>> rewriters_;
  std::vector<std::pair<std::string, ExporterFactory>> exporters_;
  std::vector<std::pair<std::string, RunnerFactory>> runners_;
};

// A summary row for listings (`d2x plugins`).
struct EntryInfo {
  EntryKind kind;
  std::string name;
  Provenance provenance;
};

class Registry {
 public:
  // The process-wide registry (defined once, in the host binary).
  static Registry& Global();

  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adds everything staged in `staged`, or nothing: a name that already exists in its category
  // (in the registry or twice in `staged`) fails the whole commit with an error naming it and the
  // plugin that already provides it.
  absl::Status Commit(const Registrar& staged, const Provenance& provenance);

  const Entry<ModelBuilder>* FindModelBuilder(const std::string& name) const;
  const Entry<RewriterFactory>* FindRewriter(const std::string& name) const;
  const Entry<ExporterFactory>* FindExporter(const std::string& name) const;
  const Entry<RunnerFactory>* FindRunner(const std::string& name) const;

  // Names of one category, sorted.
  std::vector<std::string> Names(EntryKind kind) const;
  // All entries, grouped by kind then sorted by name.
  std::vector<EntryInfo> List() const;

 private:
  std::map<std::string, Entry<ModelBuilder>> model_builders_;
  std::map<std::string, Entry<RewriterFactory>> rewriters_;
  std::map<std::string, Entry<ExporterFactory>> exporters_;
  std::map<std::string, Entry<RunnerFactory>> runners_;
};

}  // namespace plugin
}  // namespace d2x

#endif  // D2X_CORE_PLUGIN_REGISTRY_H_
