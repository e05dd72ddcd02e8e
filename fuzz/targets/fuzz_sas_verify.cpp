// hc::parse_sas_token, hc::verify_sas_token (fixed keys, namespace and hc, pinned clock), hc::sas_token_expiry and
// hc::create_sas_token.
//
// Input: a token as it arrives from the network; or "sr:<text>", which makes the harness sign <text> as the raw `sr`
// with a known key (so the audience check behind a valid signature gets fuzzed too).
//
// Invariants:
//  - sas_token_expiry agrees with parse_sas_token;
//  - verify's verdict matches an independent re-computation (OpenSSL HMAC, not hc::hmac_sha256): unknown key name,
//    bad signature, expired, and only then audience; reason texts are the documented constants;
//  - the parse error never depends on, nor shows, the signature;
//  - an accepted token is also accepted for a sub-path of the hc, for an upper-case namespace host and for the host
//    with a port, and is rejected once expired or with another key;
//  - create_sas_token's tokens parse back to what was signed and always pass the signature check.
#include "fuzz_check.hpp"

#include "hc/sas.hpp"
#include "hc/url.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <map>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view kKeyName = "RootManageSharedAccessKey";
constexpr std::string_view kKey = "dGhpc2lzYXRlc3RrZXl0aGlzaXNhdGVzdGtleTA9PQ==";  // reference section 9
constexpr std::string_view kNamespace = "contoso.servicebus.windows.net";
constexpr std::string_view kHc = "myhc";
constexpr int64_t kNow = 1600000000;  // before the reference vectors' se=1700000000

const std::map<std::string, std::string, std::less<>>& keys() {
  static const std::map<std::string, std::string, std::less<>> k = {
      {std::string(kKeyName), std::string(kKey)}, {"listen", "bGlzdGVuLWtleQ=="}, {"send", "send-key-text"}};
  return k;
}

// base64(HMAC-SHA256(key, sr + "\n" + se)) computed straight with OpenSSL.
std::string reference_signature(std::string_view key, std::string_view sr, std::string_view se) {
  const std::string to_sign = std::string(sr) + "\n" + std::string(se);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(to_sign.data()),
       to_sign.size(), mac, &mac_len);
  unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(b64, mac, static_cast<int>(mac_len));
  return std::string(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(n));
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s, std::size_t& offset) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
    ++offset;
  }
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

struct Span {
  std::size_t pos = 0, len = 0;
};

// Where the `sig` values are, by reference 2.4 step 2: after the "SharedAccessSignature " prefix, '&'-separated
// pairs split at their first '='. Only used when the token has no control character (those are rejected before any
// field is looked at, and the marker must not change that).
std::vector<Span> sig_spans(std::string_view token) {
  std::vector<Span> spans;
  std::size_t off = 0;
  token = trim(token, off);
  constexpr std::string_view kPrefix = "SharedAccessSignature";
  if (token.size() <= kPrefix.size()) return spans;
  std::size_t fields_off = off + kPrefix.size();
  const std::string_view fields = trim(token.substr(kPrefix.size()), fields_off);
  std::size_t start = 0;
  while (start <= fields.size()) {
    std::size_t end = fields.find('&', start);
    if (end == std::string_view::npos) end = fields.size();
    const std::string_view pair = fields.substr(start, end - start);
    const std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && hc::iequals(pair.substr(0, eq), "sig") && eq + 1 < pair.size())
      spans.push_back({fields_off + start + eq + 1, pair.size() - eq - 1});
    start = end + 1;
  }
  return spans;
}

bool has_control(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

const char* failure_name(hc::SasFailure f) {
  switch (f) {
    case hc::SasFailure::none: return "none";
    case hc::SasFailure::missing: return "missing";
    case hc::SasFailure::malformed: return "malformed";
    case hc::SasFailure::unknown_key_name: return "unknown_key_name";
    case hc::SasFailure::bad_signature: return "bad_signature";
    case hc::SasFailure::expired: return "expired";
    case hc::SasFailure::wrong_audience: return "wrong_audience";
    case hc::SasFailure::forbidden: return "forbidden";
  }
  return "?";
}

std::string_view reason_for(hc::SasFailure f) {
  switch (f) {
    case hc::SasFailure::none: return "";
    case hc::SasFailure::missing: return hc::kSasReasonMissing;
    case hc::SasFailure::malformed: return hc::kSasReasonMalformed;
    case hc::SasFailure::unknown_key_name:
    case hc::SasFailure::bad_signature: return hc::kSasReasonInvalidSignature;
    case hc::SasFailure::expired: return hc::kSasReasonExpired;
    case hc::SasFailure::wrong_audience: return hc::kSasReasonWrongAudience;
    case hc::SasFailure::forbidden: return "(never from verify_sas_token)";
  }
  return "?";
}

hc::SasCheck verify(std::string_view token, std::string_view ns = kNamespace, std::string_view hc_path = kHc,
                    int64_t now = kNow) {
  return hc::verify_sas_token(token, keys(), ns, hc_path, now);
}

void check_token(const std::string& token) {
  const auto parsed = hc::parse_sas_token(token);
  const auto expiry = hc::sas_token_expiry(token);
  FUZZ_CHECK(parsed.ok() == expiry.has_value(), "token " + fuzz::show(token));
  if (parsed) FUZZ_CHECK(*expiry == parsed->expiry, "token " + fuzz::show(token));

  // The parse error must not depend on the signature text.
  if (!parsed && !has_control(token)) {
    const std::vector<Span> spans = sig_spans(token);
    if (!spans.empty()) {
      std::string marked = token;
      std::vector<std::size_t> lens;
      for (const Span& s : spans) {
        marked.replace(s.pos, s.len, fuzz::marker(s.len));
        lens.push_back(s.len);
      }
      const auto parsed_marked = hc::parse_sas_token(marked);
      FUZZ_CHECK(!parsed_marked.ok() && parsed_marked.error() == parsed.error(),
                 "parse error depends on the signature: " + fuzz::show(parsed.error()) + " for " + fuzz::show(token));
      const std::string probe = fuzz::marker_probe(marked, lens);
      if (!probe.empty())
        FUZZ_CHECK(parsed_marked.error().find(probe) == std::string::npos,
                   "parse error shows the signature: " + fuzz::show(parsed_marked.error()));
    }
  }

  const hc::SasCheck c = verify(token);
  FUZZ_CHECK(c.reason == reason_for(c.failure), std::string("reason for ") + failure_name(c.failure) + ": " + c.reason);
  FUZZ_CHECK(c.ok() == (c.failure == hc::SasFailure::none), "ok()");

  if (!parsed) {
    std::size_t off = 0;
    const bool blank = trim(token, off).empty();
    FUZZ_CHECK(c.failure == (blank ? hc::SasFailure::missing : hc::SasFailure::malformed),
               std::string("unparsable token gave ") + failure_name(c.failure) + ": " + fuzz::show(token));
    return;
  }

  const hc::SasToken& t = parsed.value();
  FUZZ_CHECK(!t.sr.empty() && !t.sig.empty() && !t.se.empty() && !t.skn.empty(), "empty field in " + fuzz::show(token));
  for (char ch : t.se) FUZZ_CHECK(ch >= '0' && ch <= '9', "se " + fuzz::show(t.se));
  {
    std::string digits = t.se;
    digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
    FUZZ_CHECK(digits == (t.expiry == 0 ? "" : std::to_string(t.expiry)), "expiry of se " + fuzz::show(t.se));
  }

  hc::SasFailure expected;
  const auto key = keys().find(std::string_view(t.skn));
  if (key == keys().end()) {
    expected = hc::SasFailure::unknown_key_name;
  } else if (reference_signature(key->second, t.sr, t.se) != t.sig) {
    expected = hc::SasFailure::bad_signature;
  } else if (t.expiry <= kNow) {
    expected = hc::SasFailure::expired;
  } else {
    expected = c.failure == hc::SasFailure::wrong_audience ? c.failure : hc::SasFailure::none;
  }
  FUZZ_CHECK(c.failure == expected, std::string("verdict ") + failure_name(c.failure) + ", expected " +
                                        failure_name(expected) + " for " + fuzz::show(token));
  if (c.failure != hc::SasFailure::missing && c.failure != hc::SasFailure::malformed) {
    FUZZ_CHECK(c.key_name == t.skn && c.expiry == t.expiry, "key name / expiry in the verdict");
  }

  if (c.ok()) {
    FUZZ_CHECK(verify(token, kNamespace, "myhc/sub/path").ok(), "accepted for myhc, not for myhc/sub/path: " + fuzz::show(token));
    FUZZ_CHECK(verify(token, "CONTOSO.SERVICEBUS.WINDOWS.NET").ok(), "namespace host case matters: " + fuzz::show(token));
    FUZZ_CHECK(verify(token, "contoso.servicebus.windows.net:443").ok(), "namespace port matters: " + fuzz::show(token));
    FUZZ_CHECK(verify(token, kNamespace, kHc, t.expiry).failure == hc::SasFailure::expired, "not expired at se");
    auto other = keys();
    other[t.skn] = "another key";
    FUZZ_CHECK(hc::verify_sas_token(token, other, kNamespace, kHc, kNow).failure == hc::SasFailure::bad_signature,
               "accepted with another key: " + fuzz::show(token));
  }
}

}  // namespace

// The fixed key map, namespace and clock accept reference vector V1 (section 9); otherwise the verdict checks above
// would only ever see failures.
void self_test() {
  const std::string v1 =
      "SharedAccessSignature sr=http%3A%2F%2Fcontoso.servicebus.windows.net%2Fmyhc%2F&sig=ubwedyCR%2Bc0sRaVj3hXzIlrfBwZEUeFZ"
      "ihDvvPHriyA%3D&se=1700000000&skn=RootManageSharedAccessKey";
  FUZZ_CHECK(verify(v1).ok(), "reference vector V1 is not accepted");
  FUZZ_CHECK(verify(v1, kNamespace, "otherhc").failure == hc::SasFailure::wrong_audience, "V1 for otherhc");
  FUZZ_CHECK(reference_signature(kKey, "http%3A%2F%2Fcontoso.servicebus.windows.net%2Fmyhc%2F", "1700000000") ==
                 "ubwedyCR+c0sRaVj3hXzIlrfBwZEUeFZihDvvPHriyA=",
             "reference HMAC");
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool tested = (self_test(), true);
  (void)tested;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const int64_t se = kNow + 3600;

  if (input.compare(0, 3, "sr:") == 0) {
    // Sign the raw sr text ourselves.
    const std::string sr = input.substr(3);
    const std::string se_text = std::to_string(se);
    const std::string token = "SharedAccessSignature sr=" + sr + "&sig=" + hc::url_encode(reference_signature(kKey, sr, se_text)) +
                              "&se=" + se_text + "&skn=" + std::string(kKeyName);
    check_token(token);
    std::size_t off = 0;
    const bool plain = !sr.empty() && sr.find('&') == std::string::npos && !has_control(sr) && !is_space(sr.front()) &&
                       trim(sr, off).size() == sr.size();
    if (plain) {
      const auto parsed = hc::parse_sas_token(token);
      FUZZ_CHECK(parsed.ok() && parsed->sr == sr, "signed token does not parse back: " + fuzz::show(token));
      const hc::SasCheck c = verify(token);
      FUZZ_CHECK(c.ok() || c.failure == hc::SasFailure::wrong_audience,
                 std::string("correctly signed token gave ") + failure_name(c.failure) + ": " + fuzz::show(token));
      if (hc::url_decode(sr, false) == hc::sas_resource_uri(kNamespace, kHc))
        FUZZ_CHECK(c.ok(), "the .NET audience form was refused: " + fuzz::show(token));
    }
  } else {
    check_token(input);
  }

  // create_sas_token with the input as the resource URI and as the key name.
  if (input.empty()) return 0;
  const std::string token = hc::create_sas_token(input, "listen", keys().at("listen"), se);
  const auto parsed = hc::parse_sas_token(token);
  FUZZ_CHECK(parsed.ok(), "create_sas_token output does not parse: " + fuzz::show(token));
  FUZZ_CHECK(parsed->sr == hc::url_encode(input) && parsed->skn == "listen" && parsed->expiry == se,
             "create_sas_token round trip: " + fuzz::show(token));
  const hc::SasCheck c = verify(token);
  FUZZ_CHECK(c.ok() || c.failure == hc::SasFailure::wrong_audience,
             std::string("create_sas_token token gave ") + failure_name(c.failure) + ": " + fuzz::show(token));
  const std::string named = hc::create_sas_token(hc::sas_resource_uri(kNamespace, kHc), input, "k", se);
  const auto p2 = hc::parse_sas_token(named);
  FUZZ_CHECK(p2.ok() && p2->skn == input, "key name round trip: " + fuzz::show(named));
  return 0;
}
