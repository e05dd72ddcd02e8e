// A small JSON tree that remembers where each value and key stood, so config errors can name FILE:LINE. Built with
// RapidJSON's SAX reader (comments and trailing commas allowed, UTF-8 validated, duplicate keys and deep nesting
// refused).
#pragma once

#include "hc/result.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bridge {

struct JNode {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  std::size_t offset = 0;  // just after the token ('{' or '[' for containers)
  bool boolean = false;
  double number = 0;
  bool integer = false;  // the number was written without fraction or exponent
  std::string text;
  std::vector<JNode> items;  // array elements, or object values (parallel to keys)
  std::vector<std::string> keys;
  std::vector<std::size_t> key_offsets;

  // The value of `key` in an object, or nullptr.
  const JNode* member(std::string_view key) const;
  // Where `key` stands in an object (its offset), or the object's own offset when absent.
  std::size_t key_offset(std::string_view key) const;
};

// "null", "a boolean", "a number", "a string", "an array", "an object".
const char* kind_name(JNode::Kind k);

// Letters, digits and _ - . $, at most 64: such a key can be shown in a message (anything else might be a secret).
bool is_identifier_like(std::string_view s);

// Offsets to "SOURCE:LINE: " prefixes.
class LineIndex {
 public:
  LineIndex(std::string_view text, std::string_view source_name);
  std::size_t line_of(std::size_t offset) const;
  std::string at(std::size_t offset) const;  // "SOURCE:LINE: "

 private:
  std::string source_;
  std::vector<std::size_t> newlines_;
};

// Parses `text` into a tree (offsets relative to `text`, a UTF-8 byte order mark skipped). Errors read
// "SOURCE:LINE: what" (syntax, a NUL byte, a duplicate key, more than 32 levels).
hc::Result<JNode> parse_json_tree(std::string_view text, const LineIndex& lines);

}  // namespace bridge
