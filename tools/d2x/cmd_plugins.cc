// `d2x plugins`: a table of the loaded plugins.
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "absl/strings/str_join.h"
#include "tools/d2x/command.h"
#include "tools/d2x/table.h"

namespace d2x::tool {

namespace {
// "architecture" for model builders / rewriters, "format" for exporters / runners.
std::string KindOf(const std::set<plugin::EntryKind>& kinds) {
  std::set<std::string> names;
  for (plugin::EntryKind k : kinds) {
    names.insert(k == plugin::EntryKind::kModelBuilder || k == plugin::EntryKind::kRewriter
                     ? "architecture"
                     : "format");
  }
  return names.empty() ? "-" : absl::StrJoin(names, "+");
}
}  // namespace

int RunPlugins(CommandContext& context) {
  std::map<std::string, std::vector<std::string>> entries;
  std::map<std::string, std::set<plugin::EntryKind>> kinds;
  for (const plugin::EntryInfo& e : context.registry->List()) {
    entries[e.provenance.plugin_name].push_back(
        std::string(plugin::EntryKindName(e.kind)) + ":" + e.name);
    kinds[e.provenance.plugin_name].insert(e.kind);
  }
  Table table({"NAME", "VERSION", "KIND", "ENTRIES", "PATH"});
  for (const plugin::PluginRecord& p : context.loader->loaded()) {
    table.AddRow({p.name, p.version, KindOf(kinds[p.name]), absl::StrJoin(entries[p.name], " "),
                  p.path});
  }
  if (context.loader->loaded().empty()) {
    std::printf("no plugins loaded (searched: %s)\n",
                absl::StrJoin(context.plugin_report.searched, ", ").c_str());
    return 0;
  }
  std::fputs(table.ToString().c_str(), stdout);
  return 0;
}

}  // namespace d2x::tool
