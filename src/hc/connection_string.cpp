#include "hc/connection_string.hpp"

#include <array>
#include <cstddef>
#include <optional>

namespace hc {

namespace {

// .NET's SharedAccessSignatureTokenProvider refuses longer key names and keys.
constexpr std::size_t kMaxKeyNameLength = 256;
constexpr std::size_t kMaxKeyLength = 256;

enum Field { kEndpoint, kEntityPath, kKeyName, kKey, kSignature, kOperationTimeout, kAuthentication, kFieldCount };

constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "Endpoint", "EntityPath", "SharedAccessKeyName", "SharedAccessKey", "SharedAccessSignature", "OperationTimeout",
    "Authentication"};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool looks_like_key_name(std::string_view key) {
  if (key.size() > 32) return false;
  for (char c : key)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == ' ' || c == '_' || c == '-')) return false;
  return true;
}

}  // namespace

bool ConnectionString::has_key() const { return !key_name.empty() && !key.empty(); }
bool ConnectionString::has_sas() const { return !sas.empty(); }

Result<ConnectionString> parse_connection_string(std::string_view text) {
  std::array<std::optional<std::string_view>, kFieldCount> values;
  std::size_t part_number = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(';', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view part = trim(text.substr(start, end - start));
    start = end + 1;
    ++part_number;
    if (part.empty()) continue;
    const std::size_t eq = part.find('=');
    // The part's text is never echoed: it may be a secret whose '=' got lost.
    if (eq == std::string_view::npos)
      return fail("connection string part " + std::to_string(part_number) + " has no '='");
    const std::string_view key = trim(part.substr(0, eq));
    const std::string_view value = trim(part.substr(eq + 1));
    if (key.empty()) return fail("connection string part " + std::to_string(part_number) + " has an empty key");
    int field = -1;
    for (int i = 0; i < kFieldCount; ++i)
      if (iequals(key, kFieldNames[static_cast<std::size_t>(i)])) field = i;
    if (field < 0) {
      // A base64 key pasted without its name would land here; only echo text that looks like a key name.
      if (looks_like_key_name(key)) return fail("unknown connection string key " + quote_for_message(key));
      return fail("connection string part " + std::to_string(part_number) + " has an unknown key");
    }
    const auto idx = static_cast<std::size_t>(field);
    if (values[idx]) return fail("duplicate connection string key '" + std::string(kFieldNames[idx]) + "'");
    if (value.empty()) return fail("connection string key '" + std::string(kFieldNames[idx]) + "' has an empty value");
    values[idx] = value;
  }

  if (!values[kEndpoint]) return fail("connection string has no Endpoint");
  auto uri = parse_uri(*values[kEndpoint]);
  if (!uri) return fail("connection string Endpoint is invalid: " + uri.error());
  if (uri->scheme != "sb" && uri->scheme != "wss" && uri->scheme != "ws")
    return fail("connection string Endpoint scheme '" + uri->scheme + "' is not supported (expected sb, wss or ws)");

  ConnectionString cs;
  cs.endpoint = std::move(uri.value());
  if (values[kEntityPath]) cs.entity_path = std::string(*values[kEntityPath]);
  if (values[kOperationTimeout]) cs.operation_timeout = std::string(*values[kOperationTimeout]);

  const bool has_name = values[kKeyName].has_value();
  const bool has_key = values[kKey].has_value();
  const bool has_sas = values[kSignature].has_value();
  if (has_sas && (has_name || has_key))
    return fail("connection string must not combine SharedAccessSignature with SharedAccessKeyName/SharedAccessKey");
  if (has_name && !has_key) return fail("connection string has SharedAccessKeyName but no SharedAccessKey");
  if (has_key && !has_name) return fail("connection string has SharedAccessKey but no SharedAccessKeyName");
  if (has_name) {
    if (values[kKeyName]->size() > kMaxKeyNameLength)
      return fail("connection string SharedAccessKeyName is longer than 256 characters");
    if (values[kKey]->size() > kMaxKeyLength)
      return fail("connection string SharedAccessKey is longer than 256 characters");
    cs.key_name = std::string(*values[kKeyName]);
    cs.key = std::string(*values[kKey]);
  }
  if (has_sas) cs.sas = std::string(*values[kSignature]);
  if (values[kAuthentication]) cs.authentication = std::string(*values[kAuthentication]);
  return cs;
}

std::string masked(const ConnectionString& cs) {
  std::string out = "Endpoint=" + cs.endpoint.scheme + "://" + cs.endpoint.authority() + cs.endpoint.target();
  if (!cs.entity_path.empty()) out += ";EntityPath=" + cs.entity_path;
  if (!cs.key_name.empty()) out += ";SharedAccessKeyName=" + cs.key_name;
  if (!cs.key.empty()) out += ";SharedAccessKey=***";
  if (!cs.sas.empty()) out += ";SharedAccessSignature=***";
  if (!cs.operation_timeout.empty()) out += ";OperationTimeout=" + cs.operation_timeout;
  if (!cs.authentication.empty()) out += ";Authentication=" + cs.authentication;
  return out;
}

}  // namespace hc
