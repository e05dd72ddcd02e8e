#include "bridge/json_tree.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <algorithm>

namespace bridge {

namespace {

constexpr std::size_t kMaxDepth = 32;

class TreeBuilder {
 public:
  explicit TreeBuilder(const rapidjson::StringStream& stream) : stream_(stream) {}

  bool Null() { return add(JNode::Kind::null) != nullptr; }
  bool Bool(bool b) {
    JNode* n = add(JNode::Kind::boolean);
    n->boolean = b;
    return true;
  }
  bool Int(int v) { return integer(static_cast<double>(v)); }
  bool Uint(unsigned v) { return integer(static_cast<double>(v)); }
  bool Int64(int64_t v) { return integer(static_cast<double>(v)); }
  bool Uint64(uint64_t v) { return integer(static_cast<double>(v)); }
  bool Double(double v) {
    JNode* n = add(JNode::Kind::number);
    n->number = v;
    return true;
  }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return false; }  // not requested
  bool String(const char* s, rapidjson::SizeType len, bool) {
    JNode* n = add(JNode::Kind::string);
    n->text.assign(s, len);
    return true;
  }
  bool StartObject() { return open(JNode::Kind::object); }
  bool Key(const char* s, rapidjson::SizeType len, bool) {
    JNode* obj = stack_.back();
    std::string key(s, len);
    if (std::find(obj->keys.begin(), obj->keys.end(), key) != obj->keys.end()) {
      duplicate_key_ = key;
      error_offset_ = stream_.Tell();
      return false;
    }
    obj->keys.push_back(std::move(key));
    obj->key_offsets.push_back(stream_.Tell());
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    stack_.pop_back();
    return true;
  }
  bool StartArray() { return open(JNode::Kind::array); }
  bool EndArray(rapidjson::SizeType) {
    stack_.pop_back();
    return true;
  }

  JNode& root() { return root_; }
  bool too_deep() const { return too_deep_; }
  const std::string& duplicate_key() const { return duplicate_key_; }
  std::size_t error_offset() const { return error_offset_; }

 private:
  JNode* add(JNode::Kind kind) {
    JNode* n = nullptr;
    if (stack_.empty()) {
      n = &root_;
    } else {
      stack_.back()->items.emplace_back();
      n = &stack_.back()->items.back();
    }
    n->kind = kind;
    n->offset = stream_.Tell();
    return n;
  }
  bool integer(double v) {
    JNode* n = add(JNode::Kind::number);
    n->number = v;
    n->integer = true;
    return true;
  }
  bool open(JNode::Kind kind) {
    if (stack_.size() >= kMaxDepth) {
      too_deep_ = true;
      error_offset_ = stream_.Tell();
      return false;
    }
    stack_.push_back(add(kind));
    return true;
  }

  const rapidjson::StringStream& stream_;
  JNode root_;
  std::vector<JNode*> stack_;  // open containers; each lives in its parent's items, which only grow at the top
  bool too_deep_ = false;
  std::string duplicate_key_;
  std::size_t error_offset_ = 0;
};

// Offsets in the tree are relative to the text after the byte order mark; make them relative to the whole text.
void shift_offsets(JNode& root, std::size_t skip) {
  std::vector<JNode*> todo{&root};
  while (!todo.empty()) {
    JNode* n = todo.back();
    todo.pop_back();
    n->offset += skip;
    for (auto& k : n->key_offsets) k += skip;
    for (auto& child : n->items) todo.push_back(&child);
  }
}

}  // namespace

const JNode* JNode::member(std::string_view key) const {
  for (std::size_t i = 0; i < keys.size(); ++i)
    if (keys[i] == key) return &items[i];
  return nullptr;
}

std::size_t JNode::key_offset(std::string_view key) const {
  for (std::size_t i = 0; i < keys.size(); ++i)
    if (keys[i] == key) return key_offsets[i];
  return offset;
}

const char* kind_name(JNode::Kind k) {
  switch (k) {
    case JNode::Kind::null:
      return "null";
    case JNode::Kind::boolean:
      return "a boolean";
    case JNode::Kind::number:
      return "a number";
    case JNode::Kind::string:
      return "a string";
    case JNode::Kind::array:
      return "an array";
    case JNode::Kind::object:
      return "an object";
  }
  return "a value";
}

bool is_identifier_like(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
          c == '.' || c == '$'))
      return false;
  return true;
}

LineIndex::LineIndex(std::string_view text, std::string_view source_name) : source_(source_name) {
  for (std::size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') newlines_.push_back(i);
}

std::size_t LineIndex::line_of(std::size_t offset) const {
  return 1 + static_cast<std::size_t>(std::lower_bound(newlines_.begin(), newlines_.end(), offset) - newlines_.begin());
}

std::string LineIndex::at(std::size_t offset) const { return source_ + ":" + std::to_string(line_of(offset)) + ": "; }

hc::Result<JNode> parse_json_tree(std::string_view text, const LineIndex& lines) {
  const std::size_t nul = text.find('\0');
  if (nul != std::string_view::npos)
    return hc::fail(lines.at(nul) + "the file contains a NUL byte (expected a JSON text file)");
  // RapidJSON's UTF-8 validation takes every continuation byte a lead byte announces without looking for the end, so
  // a text ending inside a multi-byte sequence would be read past its terminator: pad with NULs it can safely read.
  std::string copy(text);
  copy.append(4, '\0');
  std::size_t skip = 0;
  if (copy.compare(0, 3, "\xEF\xBB\xBF") == 0) skip = 3;  // UTF-8 byte order mark
  rapidjson::StringStream stream(copy.c_str() + skip);
  TreeBuilder builder(stream);
  rapidjson::Reader reader;
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseCommentsFlag |
                              rapidjson::kParseTrailingCommasFlag | rapidjson::kParseValidateEncodingFlag;
  const rapidjson::ParseResult ok = reader.Parse<kFlags>(stream, builder);
  if (!ok) {
    if (builder.too_deep())
      return hc::fail(lines.at(builder.error_offset() + skip) + "values are nested too deeply (more than 32 levels)");
    if (!builder.duplicate_key().empty()) {
      const std::string& k = builder.duplicate_key();
      return hc::fail(lines.at(builder.error_offset() + skip) + "duplicate key" +
                      (is_identifier_like(k) ? " '" + k + "'" : "") + " in the same object");
    }
    return hc::fail(lines.at(ok.Offset() + skip) + "JSON syntax error: " + rapidjson::GetParseError_En(ok.Code()));
  }
  JNode root = std::move(builder.root());
  if (skip != 0) shift_offsets(root, skip);
  return root;
}

}  // namespace bridge
