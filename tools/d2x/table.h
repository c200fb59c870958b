// A plain-text table with aligned columns, for command output.
#ifndef D2X_TOOLS_D2X_TABLE_H_
#define D2X_TOOLS_D2X_TABLE_H_

#include <string>
#include <vector>

namespace d2x::tool {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string ToString() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace d2x::tool

#endif  // D2X_TOOLS_D2X_TABLE_H_
