#include "core/plugin/registry.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace d2x::plugin {
namespace {

std::string Describe(const Provenance& p) {
  return absl::StrCat("plugin '", p.plugin_name, "' (", p.path, ")");
}

// Checks that the staged names of one category are new, both against `existing` and among
// themselves.
template <typename T>
absl::Status CheckNew(EntryKind kind, const std::vector<std::pair<std::string, T>>& staged,
                      const std::map<std::string, Entry<T>>& existing,
                      const Provenance& provenance) {
  std::set<std::string> seen;
  for (const auto& [name, value] : staged) {
    if (name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(Describe(provenance), " registers a ",
                                                     EntryKindName(kind), " with an empty name"));
    }
    if (auto it = existing.find(name); it != existing.end()) {
      return absl::AlreadyExistsError(absl::StrCat(
          Describe(provenance), " registers ", EntryKindName(kind), " '", name,
          "', which is already provided by ", Describe(it->second.provenance)));
    }
    if (!seen.insert(name).second) {
      return absl::AlreadyExistsError(absl::StrCat(Describe(provenance), " registers ",
                                                   EntryKindName(kind), " '", name, "' twice"));
    }
  }
  return absl::OkStatus();
}

template <typename T>
void Insert(const std::vector<std::pair<std::string, T>>& staged,
            std::map<std::string, Entry<T>>& table, const Provenance& provenance) {
  for (const auto& [name, value] : staged) {
    table.emplace(name, Entry<T>{name, value, provenance});
  }
}

template <typename T>
const Entry<T>* Find(const std::map<std::string, Entry<T>>& table, const std::string& name) {
  auto it = table.find(name);
  return it == table.end() ? nullptr : &it->second;
}

template <typename T>
void AppendInfo(EntryKind kind, const std::map<std::string, Entry<T>>& table,
                std::vector<EntryInfo>& out) {
  for (const auto& [name, entry] : table) out.push_back({kind, name, entry.provenance});
}

}  // namespace

const char* EntryKindName(EntryKind kind) {
  switch (kind) {
    case EntryKind::kModelBuilder:
      return "model_builder";
    case EntryKind::kRewriter:
      return "rewriter";
    case EntryKind::kExporter:
      return "exporter";
    case EntryKind::kRunner:
      return "runner";
  }
  return "unknown";
}

void Registrar::AddModelBuilder(std::string meta_architecture, ModelBuilder builder) {
  model_builders_.emplace_back(std::move(meta_architecture), std::move(builder));
}
void Registrar::AddRewriter(std::string meta_architecture, RewriterFactory factory) {
  rewriters_.emplace_back(std::move(meta_architecture), std::move(factory));
}
void Registrar::AddExporter(std::string format, ExporterFactory factory) {
  exporters_.emplace_back(std::move(format), std::move(factory));
}
void Registrar::AddRunner(std::string format, RunnerFactory factory) {
  runners_.emplace_back(std::move(format), std::move(factory));
}
int Registrar::size() const {
  return static_cast<int>(model_builders_.size() + rewriters_.size() + exporters_.size() +
                          runners_.size());
}

Registry& Registry::Global() {
  static Registry* registry = new Registry();
  return *registry;
}

absl::Status Registry::Commit(const Registrar& staged, const Provenance& provenance) {
  // Validate everything first, then insert: a failure leaves the registry untouched.
  absl::Status status =
      CheckNew(EntryKind::kModelBuilder, staged.model_builders_, model_builders_, provenance);
  if (status.ok()) {
    status = CheckNew(EntryKind::kRewriter, staged.rewriters_, rewriters_, provenance);
  }
  if (status.ok()) {
    status = CheckNew(EntryKind::kExporter, staged.exporters_, exporters_, provenance);
  }
  if (status.ok()) status = CheckNew(EntryKind::kRunner, staged.runners_, runners_, provenance);
  if (!status.ok()) return status;
  Insert(staged.model_builders_, model_builders_, provenance);
  Insert(staged.rewriters_, rewriters_, provenance);
  Insert(staged.exporters_, exporters_, provenance);
  Insert(staged.runners_, runners_, provenance);
  return absl::OkStatus();
}

const Entry<ModelBuilder>* Registry::FindModelBuilder(const std::string& name) const {
  return Find(model_builders_, name);
}
const Entry<RewriterFactory>* Registry::FindRewriter(const std::string& name) const {
  return Find(rewriters_, name);
}
const Entry<ExporterFactory>* Registry::FindExporter(const std::string& name) const {
  return Find(exporters_, name);
}
const Entry<RunnerFactory>* Registry::FindRunner(const std::string& name) const {
  return Find(runners_, name);
}

std::vector<std::string> Registry::Names(EntryKind kind) const {
  std::vector<std::string> names;
  for (const EntryInfo& info : List()) {
    if (info.kind == kind) names.push_back(info.name);
  }
  return names;
}

std::vector<EntryInfo> Registry::List() const {
  std::vector<EntryInfo> out;
  AppendInfo(EntryKind::kModelBuilder, model_builders_, out);
  AppendInfo(EntryKind::kRewriter, rewriters_, out);
  AppendInfo(EntryKind::kExporter, exporters_, out);
  AppendInfo(EntryKind::kRunner, runners_, out);
  return out;
}

}  // namespace d2x::plugin
