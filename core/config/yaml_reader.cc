#include "core/config/yaml_reader.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <exception>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/config/python_expr.h"
#include "core/config/yaml_scalars.h"

namespace d2x::config::internal {
namespace {

constexpr size_t kMaxDepth = 64;         // YAML nesting.
constexpr size_t kMaxValues = 200000;    // Values per document, aliases expanded (alias bombs).
constexpr const char kYamlTag[] = "tag:yaml.org,2002:";

// Thrown by the event handler to stop yaml-cpp's parser; caught in ParseYaml.
struct BuildError {
  absl::Status status;
};

// "tag:yaml.org,2002:str" -> "!!str"; "?" (plain) and "!" (quoted) stay.
std::string ShortTag(const std::string& tag) {
  const std::string prefix = kYamlTag;
  if (tag.rfind(prefix, 0) == 0) return "!!" + tag.substr(prefix.size());
  return tag;
}

bool IsStrTag(const std::string& tag) {
  return tag == "!" || tag == "!!str" || tag == "!!python/str" || tag == "!!python/unicode";
}

// Builds the Value tree from yaml-cpp's parser events (yaml-cpp's own node builder is not used:
// it cannot bound its work, and yaml-cpp 0.7 loops forever on some malformed inputs, emitting
// events; we stop after a number of events proportional to the input).
class Builder : public YAML::EventHandler {
 public:
  Builder(const std::string& name, size_t max_events) : name_(name), max_events_(max_events) {}

  bool has_root() const { return has_root_; }
  Value& root() { return root_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    Bump();
    if (++documents_ > 1) Fail(mark, "expected a single YAML document, found more");
  }
  void OnDocumentEnd() override { Bump(); }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Bump();
    if (ExpectingKey()) Fail(mark, "mapping keys must be strings, got null");
    Emit(mark, anchor, Value::None());
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Bump();
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) Fail(mark, "alias to an unknown or unfinished anchor");
    values_ += CountValues(it->second);
    if (values_ > kMaxValues) Fail(mark, "too many values (alias expansion?)");
    if (ExpectingKey()) {
      if (it->second.kind != Value::Kind::kString) Fail(mark, "mapping keys must be strings");
      SetKey(mark, it->second.s, /*merge=*/false);
      return;
    }
    Emit(mark, YAML::NullAnchor, it->second);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& text) override {
    Bump();
    if (ExpectingKey()) {
      if (anchor != YAML::NullAnchor) anchors_[anchor] = Value::String(text);
      SetKey(mark, text, /*merge=*/tag == "?" && text == "<<");
      return;
    }
    Emit(mark, anchor, ConvertScalar(mark, ShortTag(tag), text));
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Start(mark, tag, anchor, /*map=*/false);
  }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Start(mark, tag, anchor, /*map=*/true);
  }

  void OnSequenceEnd() override {
    Bump();
    Frame frame = Pop();
    Emit(frame.mark, frame.anchor, FinishSequence(frame));
  }

  void OnMapEnd() override {
    Bump();
    Frame frame = Pop();
    Emit(frame.mark, frame.anchor, FinishMap(frame));
  }

 private:
  struct Frame {
    bool map = false;
    std::string tag;  // Short form.
    YAML::anchor_t anchor = YAML::NullAnchor;
    YAML::Mark mark;
    std::vector<Value> items;  // Sequence items, or mapping values (keys parallel).
    std::vector<std::string> keys;
    std::vector<bool> merge;   // Mapping: the key was a plain `<<`.
    bool expecting_key = true;
    std::string key;
    YAML::Mark key_mark;
    bool key_is_merge = false;
  };

  std::string Origin(const YAML::Mark& mark) const {
    if (mark.line < 0) return name_;
    return absl::StrCat(name_, ":", mark.line + 1);
  }

  [[noreturn]] void Fail(const YAML::Mark& mark, absl::string_view what) const {
    throw BuildError{absl::InvalidArgumentError(absl::StrCat(Origin(mark), ": ", what))};
  }

  void Bump() {
    if (++events_ > max_events_) {
      throw BuildError{absl::InvalidArgumentError(
          absl::StrCat(name_, ": YAML error: the parser did not finish (over ", max_events_,
                       " events); the file is malformed")) };
    }
  }

  bool ExpectingKey() const { return !stack_.empty() && stack_.back().map && stack_.back().expecting_key; }

  void SetKey(const YAML::Mark& mark, const std::string& key, bool merge) {
    Frame& f = stack_.back();
    f.key = key;
    f.key_mark = mark;
    f.key_is_merge = merge;
    f.expecting_key = false;
  }

  void Start(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, bool map) {
    Bump();
    if (ExpectingKey()) Fail(mark, "mapping keys must be strings");
    if (stack_.size() >= kMaxDepth) Fail(mark, "nesting too deep");
    Frame f;
    f.map = map;
    f.tag = ShortTag(tag);
    f.anchor = anchor;
    f.mark = mark;
    stack_.push_back(std::move(f));
  }

  Frame Pop() {
    if (stack_.empty()) throw BuildError{absl::InternalError(name_ + ": unbalanced YAML events")};
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    return f;
  }

  // A complete value: registered under its anchor and added to its parent (or the root).
  void Emit(const YAML::Mark& mark, YAML::anchor_t anchor, Value v) {
    if (++values_ > kMaxValues) Fail(mark, "too many values (alias expansion?)");
    if (anchor != YAML::NullAnchor) anchors_[anchor] = v;
    if (stack_.empty()) {
      if (has_root_) Fail(mark, "more than one top-level value");
      root_ = std::move(v);
      has_root_ = true;
      return;
    }
    Frame& f = stack_.back();
    if (!f.map) {
      v.origin = Origin(mark);
      f.items.push_back(std::move(v));
      return;
    }
    v.origin = Origin(f.key_mark);
    f.keys.push_back(f.key);
    f.merge.push_back(f.key_is_merge);
    f.items.push_back(std::move(v));
    f.expecting_key = true;
  }

  Value ConvertScalar(const YAML::Mark& mark, const std::string& tag, const std::string& text) {
    absl::StatusOr<Value> v;
    if (tag == "?") {
      v = ResolvePlainScalar(text);
    } else if (IsStrTag(tag)) {
      v = Value::String(text);
    } else if (tag == "!!int" || tag == "!!python/int") {
      v = ConstructInt(text);
    } else if (tag == "!!float" || tag == "!!python/float") {
      v = ConstructFloat(text);
    } else if (tag == "!!bool" || tag == "!!python/bool") {
      v = ConstructBool(text);
    } else if (tag == "!!null" || tag == "!!python/none") {
      v = Value::None();
    } else {
      Fail(mark, absl::StrCat("unsupported YAML tag '", tag, "' on a scalar"));
    }
    if (!v.ok()) Fail(mark, v.status().message());
    return *std::move(v);
  }

  Value FinishSequence(Frame& f) {
    const std::string& tag = f.tag;
    if (tag == "?" || tag == "!" || tag == "!!seq" || tag == "!!python/list") {
      return Value::List(std::move(f.items));
    }
    if (tag == "!!python/tuple") return Value::Tuple(std::move(f.items));
    if (tag == "!!python/object/apply:eval") {
      if (f.items.size() != 1 || f.items[0].kind != Value::Kind::kString) {
        Fail(f.mark, "!!python/object/apply:eval needs exactly one argument, the expression string");
      }
      absl::StatusOr<Value> v = EvalPythonExpression(f.items[0].s);
      if (!v.ok()) {
        Fail(f.mark, absl::StrCat("!!python/object/apply:eval of ", Repr(f.items[0]), ": ",
                                  v.status().message()));
      }
      values_ += CountValues(*v);
      return *std::move(v);
    }
    Fail(f.mark, absl::StrCat("unsupported YAML tag '", tag, "' on a sequence"));
  }

  // PyYAML's construct_mapping after flatten_mapping: `<<` merges first (the first of a list
  // wins), then the explicit keys in order (a later duplicate wins).
  Value FinishMap(Frame& f) {
    if (f.tag != "?" && f.tag != "!" && f.tag != "!!map") {
      Fail(f.mark, absl::StrCat("unsupported YAML tag '", f.tag, "' on a mapping"));
    }
    Value out = Value::Node();
    std::vector<const Value*> merges;
    for (size_t k = 0; k < f.items.size(); ++k) {
      if (!f.merge[k]) continue;
      const Value& v = f.items[k];
      if (v.is_node()) {
        merges.push_back(&v);
      } else if (v.kind == Value::Kind::kList) {
        for (auto it = v.items.rbegin(); it != v.items.rend(); ++it) {
          if (!it->is_node()) Fail(f.mark, "a << merge list must hold mappings");
          merges.push_back(&*it);
        }
      } else {
        Fail(f.mark, "a << merge key needs a mapping or a list of mappings");
      }
    }
    for (const Value* m : merges) {
      for (size_t k = 0; k < m->keys.size(); ++k) out.Set(m->keys[k], m->items[k]);
    }
    for (size_t k = 0; k < f.items.size(); ++k) {
      if (!f.merge[k]) out.Set(f.keys[k], std::move(f.items[k]));
    }
    return out;
  }

  const std::string& name_;
  const size_t max_events_;
  size_t events_ = 0;
  size_t values_ = 0;
  int documents_ = 0;
  std::vector<Frame> stack_;
  std::map<YAML::anchor_t, Value> anchors_;
  Value root_;
  bool has_root_ = false;
};

}  // namespace

absl::StatusOr<Value> ParseYaml(absl::string_view text, const std::string& name) {
  try {
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    Builder builder(name, /*max_events=*/16 * (text.size() + 64));
    while (parser.HandleNextDocument(builder)) {
    }
    if (!builder.has_root()) return Value::Node();  // No document: an empty mapping.
    Value& root = builder.root();
    if (root.kind == Value::Kind::kNone) return Value::Node();
    if (!root.is_node()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": the top level of a config file must be a mapping, got ",
                       KindName(root.kind)));
    }
    return std::move(root);
  } catch (const BuildError& e) {
    return e.status;
  } catch (const YAML::Exception& e) {
    if (e.mark.line >= 0) {
      return absl::InvalidArgumentError(absl::StrCat(name, ":", e.mark.line + 1, ":",
                                                     e.mark.column + 1, ": YAML error: ", e.msg));
    }
    return absl::InvalidArgumentError(absl::StrCat(name, ": YAML error: ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": YAML error: ", e.what()));
  }
}

}  // namespace d2x::config::internal
