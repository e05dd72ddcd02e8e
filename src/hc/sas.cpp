#include "hc/sas.hpp"

#include <array>
#include <limits>

#include "hc/crypto.hpp"
#include "hc/url.hpp"

namespace hc {

namespace {

constexpr std::string_view kPrefix = "SharedAccessSignature";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view strip_slashes(std::string_view s) {
  while (!s.empty() && s.front() == '/') s.remove_prefix(1);
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return s;
}

// Lower-cased host without port and without IPv6 brackets.
std::string bare_host(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    host = close == std::string_view::npos ? host.substr(1) : host.substr(1, close - 1);
  } else {
    const std::size_t colon = host.find(':');
    // More than one ':' is an unbracketed IPv6 address, which has no port to strip.
    if (colon != std::string_view::npos && host.find(':', colon + 1) == std::string_view::npos)
      host = host.substr(0, colon);
  }
  return ascii_lower(host);
}

std::string compute_signature(std::string_view key, std::string_view encoded_uri, std::string_view se) {
  std::string to_sign(encoded_uri);
  to_sign += '\n';
  to_sign += se;
  return base64_encode(hmac_sha256(key, to_sign));
}

// Reference 2.4 step 5: does the decoded `sr` cover this namespace host and HC?
bool audience_matches(std::string_view sr_raw, std::string_view ns_host, std::string_view hc_path) {
  const std::string sr = url_decode(sr_raw, false);
  const std::size_t sep = sr.find("://");
  if (sep == std::string::npos) return false;
  const std::string scheme = ascii_lower(std::string_view(sr).substr(0, sep));
  if (scheme != "http" && scheme != "https" && scheme != "sb" && scheme != "ws" && scheme != "wss") return false;
  std::string_view rest = std::string_view(sr).substr(sep + 3);
  const std::size_t end = rest.find_first_of("?#");
  if (end != std::string_view::npos) rest = rest.substr(0, end);
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  const std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority = authority.substr(at + 1);
  const std::string host = bare_host(authority);
  if (host.empty() || host != bare_host(ns_host)) return false;

  // HC names only use [A-Za-z0-9._/-], so a second decode can only undo an encoded path.
  const std::string audience_path = ascii_lower(strip_slashes(url_decode(path, false)));
  const std::string hc = ascii_lower(strip_slashes(hc_path));
  if (audience_path.empty()) return true;  // namespace scope
  if (audience_path == hc) return true;
  return hc.size() > audience_path.size() && hc.compare(0, audience_path.size(), audience_path) == 0 &&
         hc[audience_path.size()] == '/';
}

SasCheck failed(SasFailure f, std::string_view reason, const SasToken* t = nullptr) {
  SasCheck c;
  c.failure = f;
  c.reason = std::string(reason);
  if (t) {
    c.expiry = t->expiry;
    c.key_name = t->skn;
  }
  return c;
}

}  // namespace

std::string sas_resource_uri(std::string_view host, std::string_view hc) {
  std::string h = ascii_lower(host);
  // A bare IPv6 address needs brackets to stay a valid URI.
  const std::size_t colon = h.find(':');
  if (colon != std::string::npos && h.find(':', colon + 1) != std::string::npos && h.front() != '[') h = "[" + h + "]";
  return "http://" + h + "/" + std::string(hc) + "/";
}

std::string create_sas_token(std::string_view resource_uri, std::string_view key_name, std::string_view key,
                             int64_t expiry_unix) {
  const std::string encoded_uri = url_encode(resource_uri);
  const std::string se = std::to_string(expiry_unix);
  const std::string sig = compute_signature(key, encoded_uri, se);
  return std::string(kPrefix) + " sr=" + encoded_uri + "&sig=" + url_encode(sig) + "&se=" + se +
         "&skn=" + url_encode(key_name);
}

Result<SasToken> parse_sas_token(std::string_view token) {
  token = trim(token);
  if (token.size() <= kPrefix.size() || !iequals(token.substr(0, kPrefix.size()), kPrefix) ||
      !is_space(token[kPrefix.size()]))
    return fail("SAS token does not start with 'SharedAccessSignature '");
  std::string_view fields = trim(token.substr(kPrefix.size()));
  for (char c : fields) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return fail("SAS token contains a control character");
  }

  constexpr std::array<std::string_view, 4> kNames = {"sr", "sig", "se", "skn"};
  std::array<std::optional<std::string_view>, 4> values;
  std::size_t start = 0;
  while (start <= fields.size()) {
    std::size_t end = fields.find('&', start);
    if (end == std::string_view::npos) end = fields.size();
    const std::string_view pair = fields.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) return fail("SAS token has a field without '='");
    const std::string_view name = pair.substr(0, eq);
    for (std::size_t i = 0; i < kNames.size(); ++i) {
      if (!iequals(name, kNames[i])) continue;
      if (values[i]) return fail("SAS token has a duplicate '" + std::string(kNames[i]) + "' field");
      values[i] = pair.substr(eq + 1);
    }
  }
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (!values[i] || values[i]->empty()) return fail("SAS token is missing the '" + std::string(kNames[i]) + "' field");

  SasToken t;
  t.sr = std::string(*values[0]);
  t.sig = url_decode(*values[1], false);  // base64 '+' must survive
  t.se = std::string(*values[2]);
  t.skn = url_decode(*values[3], false);
  if (t.skn.empty()) return fail("SAS token is missing the 'skn' field");
  int64_t expiry = 0;
  for (char c : t.se) {
    if (c < '0' || c > '9') return fail("SAS token 'se' is not a non-negative integer");
    const int digit = c - '0';
    if (expiry > (std::numeric_limits<int64_t>::max() - digit) / 10) return fail("SAS token 'se' is out of range");
    expiry = expiry * 10 + digit;
  }
  t.expiry = expiry;
  return t;
}

SasCheck verify_sas_token(std::string_view token, const std::map<std::string, std::string, std::less<>>& keys,
                          std::string_view ns_host, std::string_view hc_path, int64_t now_unix) {
  if (trim(token).empty()) return failed(SasFailure::missing, kSasReasonMissing);
  auto parsed = parse_sas_token(token);
  if (!parsed) return failed(SasFailure::malformed, kSasReasonMalformed);
  const SasToken& t = parsed.value();

  const auto key = keys.find(std::string_view(t.skn));
  if (key == keys.end()) return failed(SasFailure::unknown_key_name, kSasReasonInvalidSignature, &t);
  // The raw sr is signed, so the escape casing the client chose matters (V1 vs V4).
  const std::string expected = compute_signature(key->second, t.sr, t.se);
  if (!constant_time_equal(expected, t.sig)) return failed(SasFailure::bad_signature, kSasReasonInvalidSignature, &t);
  if (t.expiry <= now_unix) return failed(SasFailure::expired, kSasReasonExpired, &t);
  if (!audience_matches(t.sr, ns_host, hc_path)) return failed(SasFailure::wrong_audience, kSasReasonWrongAudience, &t);

  SasCheck ok;
  ok.expiry = t.expiry;
  ok.key_name = t.skn;
  return ok;
}

std::optional<int64_t> sas_token_expiry(std::string_view token) {
  auto parsed = parse_sas_token(token);
  if (!parsed) return std::nullopt;
  return parsed->expiry;
}

}  // namespace hc
