// Reading the config file's JSON tree (json_tree.hpp) into typed values: each read checks the value's type and range
// and names its place ("FILE:LINE: json.path: what") when it is wrong; the first error wins. Shared by the readers of
// the file's sections (config_file.cpp) and of its forwards (config_forwards.cpp).
#pragma once

#include "bridge/config.hpp"
#include "bridge/json_tree.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bridge {

// "a.b" (or "b" at the top level), and "a[i]": the json paths that messages name.
std::string member_path(const std::string& path, std::string_view key);
std::string item_path(const std::string& path, std::size_t i);

class ConfigReader {
 public:
  explicit ConfigReader(const LineIndex& lines) : lines_(lines) {}

  const std::string& error() const { return error_; }
  std::string at(std::size_t offset) const { return lines_.at(offset); }

  bool fail_at(std::size_t offset, const std::string& path, const std::string& what);
  bool fail(const JNode& n, const std::string& path, const std::string& what) { return fail_at(n.offset, path, what); }

  // Unknown keys are errors; the message names the key (when it looks like one) and a close match.
  bool check_keys(const JNode& obj, const std::string& path, const std::vector<const char*>& allowed);
  bool expect(const JNode& n, JNode::Kind kind, const std::string& path);

  bool get_string(const JNode& n, const std::string& path, std::string& out);
  bool get_bool(const JNode& n, const std::string& path, bool& out);
  bool get_integer(const JNode& n, const std::string& path, double min, double max, double& out);
  bool get_duration(const JNode& n, const std::string& path, std::string_view key, Seconds& out);
  bool get_max_connections(const JNode& n, const std::string& path, std::size_t& out);
  bool get_port(const JNode& n, const std::string& path, uint16_t& out);
  bool get_port_name(const JNode& n, const std::string& path, std::string& out);
  bool get_host(const JNode& n, const std::string& path, bool allow_star, std::string& out);
  // A string or an array of strings (bind / target), each with its path ("x.bind" or "x.bind[1]").
  bool string_list(const JNode& n, const std::string& path, std::vector<std::pair<std::string, const JNode*>>& out);
  // A relay object (the top-level "relay" or a forward's own), connection string and fields merged.
  bool relay(const JNode& n, const std::string& path, RelaySettings& out);
  bool auth(const JNode& n, const std::string& path, RelaySettings& own);

 private:
  const LineIndex& lines_;
  std::string error_;
};

}  // namespace bridge
