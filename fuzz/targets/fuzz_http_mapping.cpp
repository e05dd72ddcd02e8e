// bridge::map_request_target (the -H path rule), parse_http_forward and parse_http_target_url.
// Input: the first line is the hc name, the second the base path, the rest the relay's request target; the whole
// input is also parsed as a -H expression.
// Invariants of a mapped target: it starts with the base path (or is "/..." when the base is empty), holds no space,
// control character or '#', does not start with "//", has no "." or ".." segment even after unescaping %2e/%2f/%5c,
// and ends with the request's query byte-exact. A parsed -H forward has a valid host and a port.
#include "fuzz_check.hpp"

#include "bridge/forward_grammar.hpp"
#include "bridge/http_forward_grammar.hpp"
#include "bridge/http_mapping.hpp"
#include "hc/url.hpp"

#include <string>

namespace {

std::string unescaped_punctuation(std::string s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const std::string code = hc::ascii_lower(s.substr(i + 1, 2));
      const char c = code == "2f" ? '/' : code == "5c" ? '/' : code == "2e" ? '.' : 0;
      if (c != 0) {
        out.push_back(c);
        i += 2;
        continue;
      }
    }
    out.push_back(s[i] == '\\' ? '/' : s[i]);
  }
  return out;
}

void check_mapped(const std::string& base, const std::string& request, const std::string& mapped) {
  FUZZ_CHECK(mapped.compare(0, base.size(), base) == 0, fuzz::show(mapped));
  FUZZ_CHECK(!mapped.empty() && mapped[0] == '/', fuzz::show(mapped));
  for (char c : mapped) {
    const auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(u > 0x20 && u != 0x7f && c != '#', fuzz::show(mapped));
  }
  const std::size_t q = request.find('?');
  if (q != std::string::npos) {
    const std::string query = request.substr(q);
    FUZZ_CHECK(mapped.size() >= query.size() && mapped.compare(mapped.size() - query.size(), query.size(), query) == 0,
               fuzz::show(mapped));
  }
  const std::string path = unescaped_punctuation(mapped.substr(base.size(), mapped.find('?') - base.size()));
  FUZZ_CHECK(path.compare(0, 2, "//") != 0, fuzz::show(mapped));
  std::size_t pos = 0;
  for (;;) {
    const std::size_t next = path.find('/', pos);
    const std::string segment = path.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    FUZZ_CHECK(segment != "." && segment != "..", fuzz::show(mapped));
    if (next == std::string::npos) break;
    pos = next + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  if (auto f = bridge::parse_http_forward(input)) {
    FUZZ_CHECK(f.value().http.has_value(), fuzz::show(input));
    FUZZ_CHECK(bridge::valid_host(f.value().http->host), fuzz::show(input));
    FUZZ_CHECK(f.value().http->port != 0, fuzz::show(input));
  }
  const std::size_t nl1 = input.find('\n');
  if (nl1 == std::string::npos) return 0;
  const std::size_t nl2 = input.find('\n', nl1 + 1);
  if (nl2 == std::string::npos) return 0;
  const std::string hc = input.substr(0, nl1);
  std::string base = input.substr(nl1 + 1, nl2 - nl1 - 1);
  const std::string request = input.substr(nl2 + 1);
  if (!bridge::valid_hc_name(hc)) return 0;
  // A base path as parse_http_target_url leaves it: "" or "/..." without a trailing '/', no space or control.
  auto target = bridge::parse_http_target_url("http://h" + (base.empty() || base[0] == '/' ? base : "/" + base));
  if (!target) return 0;
  base = target.value().base_path;
  if (auto mapped = bridge::map_request_target(hc, base, request)) check_mapped(base, request, mapped.value());
  return 0;
}
