#include <catch2/catch.hpp>

#include "hc/sas.hpp"
#include "hc/url.hpp"

using namespace hc;

namespace {

// Reference section 9.
const std::string kKeyName = "RootManageSharedAccessKey";
const std::string kKey = "dGhpc2lzYXRlc3RrZXl0aGlzaXNhdGVzdGtleTA9PQ==";
const std::string kNs = "contoso.servicebus.windows.net";
constexpr int64_t kSe = 1700000000;
constexpr int64_t kBefore = kSe - 1;

const std::string kV1 =
    "SharedAccessSignature sr=http%3A%2F%2Fcontoso.servicebus.windows.net%2Fmyhc%2F&sig="
    "ubwedyCR%2Bc0sRaVj3hXzIlrfBwZEUeFZihDvvPHriyA%3D&se=1700000000&skn=RootManageSharedAccessKey";
const std::string kV2 =
    "SharedAccessSignature sr=http%3A%2F%2Fcontoso.servicebus.windows.net%2F&sig="
    "WyTBM6hlqMBC7hFJwPD535rx7mrK3FWYfQM3T1ljpHY%3D&se=1700000000&skn=RootManageSharedAccessKey";
const std::string kV3 =
    "SharedAccessSignature sr=sb%3A%2F%2Fcontoso.servicebus.windows.net%2Fmyhc&sig="
    "xEMv9wA4DhmiIU6b5dI8gc7JHqXWTadW8HBSV2jsxnM%3D&se=1700000000&skn=RootManageSharedAccessKey";
const std::string kV4SrLower = "http%3a%2f%2fcontoso.servicebus.windows.net%2fmyhc%2f";
const std::string kV4Sig = "6c4gXRLi7WMMSWscioks8Hk/d9G6HOpoC4JruEbrj6w=";
const std::string kV5 =
    "SharedAccessSignature sr=http%3A%2F%2Fcontoso.servicebus.windows.net%3A443%2Fmyhc&sig="
    "6eRLvqOzpuUlvyRv86zSEsGaAiyzyHV7ooBKuiCDOWE%3D&se=1700000000&skn=RootManageSharedAccessKey";
const std::string kV6Sig = "GIQZLDbTTLAJ5U9RrKdPrOsQxotoauwptS85fjERezM=";

const std::map<std::string, std::string, std::less<>> kKeys = {{kKeyName, kKey}, {"other", "b3RoZXJrZXk="}};

std::string token_with(const std::string& sr, const std::string& sig_field, const std::string& se = "1700000000",
                       const std::string& skn = kKeyName) {
  return "SharedAccessSignature sr=" + sr + "&sig=" + sig_field + "&se=" + se + "&skn=" + skn;
}

SasCheck verify(const std::string& token, const std::string& hc, int64_t now = kBefore) {
  return verify_sas_token(token, kKeys, kNs, hc, now);
}

}  // namespace

TEST_CASE("create_sas_token reproduces vectors V1-V3 and V5", "[sas]") {
  CHECK(sas_resource_uri("Contoso.ServiceBus.Windows.NET", "myhc") == "http://contoso.servicebus.windows.net/myhc/");
  CHECK(sas_resource_uri("::1", "a/b") == "http://[::1]/a/b/");
  CHECK(sas_resource_uri("localhost:8443", "hc") == "http://localhost:8443/hc/");
  CHECK(create_sas_token(sas_resource_uri(kNs, "myhc"), kKeyName, kKey, kSe) == kV1);
  CHECK(create_sas_token("http://contoso.servicebus.windows.net/", kKeyName, kKey, kSe) == kV2);
  CHECK(create_sas_token("sb://contoso.servicebus.windows.net/myhc", kKeyName, kKey, kSe) == kV3);
  CHECK(create_sas_token("http://contoso.servicebus.windows.net:443/myhc", kKeyName, kKey, kSe) == kV5);
}

TEST_CASE("create_sas_token reproduces the V6 signature", "[sas]") {
  auto t = parse_sas_token(create_sas_token("http://contoso.servicebus.windows.net/myhc", kKeyName, kKey, kSe));
  REQUIRE(t.ok());
  CHECK(t->sig == kV6Sig);
  CHECK(t->sr == "http%3A%2F%2Fcontoso.servicebus.windows.net%2Fmyhc");
}

TEST_CASE("every reference vector verifies for HC myhc", "[sas]") {
  const std::string v4 = token_with(kV4SrLower, url_encode(kV4Sig));
  const std::string v6 = token_with("http%3A%2F%2Fcontoso.servicebus.windows.net%2Fmyhc", url_encode(kV6Sig));
  for (const auto& token : {kV1, kV2, kV3, v4, kV5, v6}) {
    INFO(token);
    const SasCheck c = verify(token, "myhc");
    CHECK(c.ok());
    CHECK(c.failure == SasFailure::none);
    CHECK(c.reason.empty());
    CHECK(c.expiry == kSe);
    CHECK(c.key_name == kKeyName);
  }
}

TEST_CASE("the raw sr is signed: V1's sig does not verify against V4's sr", "[sas]") {
  const std::string v1_sig_field = "ubwedyCR%2Bc0sRaVj3hXzIlrfBwZEUeFZihDvvPHriyA%3D";
  const SasCheck c = verify(token_with(kV4SrLower, v1_sig_field), "myhc");
  CHECK(c.failure == SasFailure::bad_signature);
  CHECK(c.reason == "The token has an invalid signature.");
}

TEST_CASE("reference negatives", "[sas]") {
  SECTION("V1 with se changed has an invalid signature") {
    std::string t = kV1;
    t.replace(t.find("se=1700000000"), 13, "se=1700000001");
    const SasCheck c = verify(t, "myhc");
    CHECK(c.failure == SasFailure::bad_signature);
    CHECK(c.reason == "The token has an invalid signature.");
  }
  SECTION("V1 for another HC has the wrong audience") {
    const SasCheck c = verify(kV1, "otherhc");
    CHECK(c.failure == SasFailure::wrong_audience);
    CHECK(c.reason == "InvalidAudience: The authorization header contains a token with a wrong audience.");
  }
  SECTION("V2 is namespace scope and fits any HC") {
    for (const char* hc : {"myhc", "otherhc", "a/b/c", "MYHC"}) {
      INFO(hc);
      CHECK(verify(kV2, hc).ok());
    }
  }
  SECTION("every vector is expired at or after se") {
    for (const auto& token : {kV1, kV2, kV3, kV5}) {
      for (int64_t now : {kSe, kSe + 1, kSe + 86400}) {
        const SasCheck c = verify(token, "myhc", now);
        CHECK(c.failure == SasFailure::expired);
        CHECK(c.reason == "ExpiredToken: The token is expired.");
        CHECK(c.expiry == kSe);
      }
    }
  }
}

TEST_CASE("sig is url-decoded leniently and '+' stays '+'", "[sas]") {
  // Python's quote(sig) leaves '/' raw; some clients leave '+' and '=' raw.
  CHECK(verify(token_with(kV4SrLower, kV4Sig), "myhc").ok());
  CHECK(verify(token_with("http%3A%2F%2Fcontoso.servicebus.windows.net%2Fmyhc%2F",
                          "ubwedyCR+c0sRaVj3hXzIlrfBwZEUeFZihDvvPHriyA="),
               "myhc")
            .ok());
  CHECK(verify(token_with("http%3A%2F%2Fcontoso.servicebus.windows.net%2Fmyhc%2F",
                          "ubwedyCR%2bc0sRaVj3hXzIlrfBwZEUeFZihDvvPHriyA%3d"),
               "myhc")
            .ok());
  // '+' decoded as space would have to fail; make sure a space does not match.
  CHECK(verify(token_with("http%3A%2F%2Fcontoso.servicebus.windows.net%2Fmyhc%2F",
                          "ubwedyCR%20c0sRaVj3hXzIlrfBwZEUeFZihDvvPHriyA%3D"),
               "myhc")
            .failure == SasFailure::bad_signature);
}

TEST_CASE("unknown key name and wrong key text", "[sas]") {
  std::string unknown = kV1;
  unknown.replace(unknown.find("skn=RootManageSharedAccessKey"), 29, "skn=Nobody");
  const SasCheck u = verify(unknown, "myhc");
  CHECK(u.failure == SasFailure::unknown_key_name);
  CHECK(u.reason == "The token has an invalid signature.");
  CHECK(u.key_name == "Nobody");

  // Key names are matched exactly.
  std::string lower = kV1;
  lower.replace(lower.find("skn=RootManageSharedAccessKey"), 29, "skn=rootmanagesharedaccesskey");
  CHECK(verify(lower, "myhc").failure == SasFailure::unknown_key_name);

  const std::map<std::string, std::string, std::less<>> wrong = {{kKeyName, "d3Jvbmc="}};
  CHECK(verify_sas_token(kV1, wrong, kNs, "myhc", kBefore).failure == SasFailure::bad_signature);

  // The HMAC key is the text, not its base64 decoding.
  const std::map<std::string, std::string, std::less<>> decoded = {
      {kKeyName, "thisisatestkeythisisatestkey0=="}};
  CHECK(verify_sas_token(kV1, decoded, kNs, "myhc", kBefore).failure == SasFailure::bad_signature);
  CHECK(verify_sas_token(kV1, {}, kNs, "myhc", kBefore).failure == SasFailure::unknown_key_name);
}

TEST_CASE("missing and malformed tokens", "[sas]") {
  for (const char* missing : {"", "   "}) {
    const SasCheck c = verify(missing, "myhc");
    CHECK(c.failure == SasFailure::missing);
    CHECK(c.reason == "MissingToken: The authorization header was not provided.");
  }
  const std::vector<std::string> malformed = {
      "Bearer abc",
      "SharedAccessSignature",
      "SharedAccessSignature ",
      "SharedAccessSignaturesr=a&sig=b&se=1&skn=c",
      "sr=a&sig=b&se=1&skn=c",
      "SharedAccessSignature sig=b&se=1&skn=c",
      "SharedAccessSignature sr=a&se=1&skn=c",
      "SharedAccessSignature sr=a&sig=b&skn=c",
      "SharedAccessSignature sr=a&sig=b&se=1",
      "SharedAccessSignature sr=&sig=b&se=1&skn=c",
      "SharedAccessSignature sr=a&sig=b&se=-1&skn=c",
      "SharedAccessSignature sr=a&sig=b&se=1.5&skn=c",
      "SharedAccessSignature sr=a&sig=b&se=99999999999999999999&skn=c",
      "SharedAccessSignature sr=a&sig=b&se=1&skn=c&sr=d",
      "SharedAccessSignature sr=a&sig=b&se=1&skn=c&junk",
      std::string("SharedAccessSignature sr=a&sig=b&se=1&skn=c") + std::string(1, '\0') + "x",
  };
  for (const auto& t : malformed) {
    INFO(t);
    const SasCheck c = verify(t, "myhc");
    CHECK(c.failure == SasFailure::malformed);
    CHECK(c.reason ==
          "MalformedToken: The credentials contained in the authorization header are not in the correct format.");
  }
}

TEST_CASE("parse_sas_token accepts any order, case and extra fields", "[sas]") {
  auto t = parse_sas_token(
      "sharedaccesssignature  SKN=k&SE=42&Sig=a%2Bb%2Fc%3D+&x=y&SR=http%3A%2F%2Fh%2F&&");
  REQUIRE(t.ok());
  CHECK(t->skn == "k");
  CHECK(t->se == "42");
  CHECK(t->expiry == 42);
  CHECK(t->sig == "a+b/c=+");
  CHECK(t->sr == "http%3A%2F%2Fh%2F");
  CHECK(sas_token_expiry(kV1) == std::optional<int64_t>(kSe));
  CHECK_FALSE(sas_token_expiry("garbage").has_value());
  CHECK(sas_token_expiry("SharedAccessSignature sr=a&sig=b&se=0&skn=c") == std::optional<int64_t>(0));
}

TEST_CASE("parse errors never echo the signature", "[sas]") {
  const std::string secret = "Zm9vYmFyU2VjcmV0U2ln";
  for (const std::string& t :
       {"SharedAccessSignature sig=" + secret, "SharedAccessSignature sr=a&sig=" + secret + "&se=x&skn=c",
        "SharedAccessSignature sr=a&sig=" + secret + "&sig=" + secret + "&se=1&skn=c",
        "SharedAccessSignature sr=a&sig=" + secret + "&se=1&skn=c&" + secret, "Bearer " + secret}) {
    auto r = parse_sas_token(t);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), !Catch::Contains(secret));
    const SasCheck c = verify(t, "myhc");
    CHECK_FALSE(c.ok());
    CHECK_THAT(c.reason, !Catch::Contains(secret));
  }
}

TEST_CASE("audience rules", "[sas]") {
  const auto check = [](const std::string& resource, const std::string& hc, const std::string& ns = kNs) {
    const std::string token = create_sas_token(resource, kKeyName, kKey, kSe);
    return verify_sas_token(token, kKeys, ns, hc, kBefore).failure;
  };
  const auto ok = SasFailure::none;
  const auto bad = SasFailure::wrong_audience;
  // Schemes, ports, query, fragment, case.
  CHECK(check("https://contoso.servicebus.windows.net/myhc", "myhc") == ok);
  CHECK(check("ws://contoso.servicebus.windows.net:8080/myhc?x=1#f", "myhc") == ok);
  CHECK(check("WSS://CONTOSO.servicebus.windows.net/MyHc/", "myhc") == ok);
  CHECK(check("sb://contoso.servicebus.windows.net/myhc//", "myhc") == ok);  // Java's doubled slash
  CHECK(check("http://user@contoso.servicebus.windows.net/myhc", "myhc") == ok);
  CHECK(check("ftp://contoso.servicebus.windows.net/myhc", "myhc") == bad);
  CHECK(check("contoso.servicebus.windows.net/myhc", "myhc") == bad);
  // Host.
  CHECK(check("http://other.servicebus.windows.net/myhc", "myhc") == bad);
  CHECK(check("http://contoso.servicebus.windows.net.evil/myhc", "myhc") == bad);
  CHECK(check("http://contoso.servicebus.windows.net/myhc", "myhc", "Contoso.ServiceBus.Windows.Net:8443") == ok);
  CHECK(check("http://localhost:8443/myhc", "myhc", "localhost") == ok);
  CHECK(check("http://[::1]:8443/myhc", "myhc", "[::1]:8443") == ok);
  CHECK(check("http://[::1]/myhc", "myhc", "::1") == ok);
  CHECK(check("http:///myhc", "myhc") == bad);
  CHECK(check(sas_resource_uri("::1", "myhc"), "myhc", "[::1]:9443") == ok);
  // Path: exact, segment prefix, namespace scope.
  CHECK(check("http://contoso.servicebus.windows.net/a/b", "a/b/c") == ok);
  CHECK(check("http://contoso.servicebus.windows.net/a", "a/b/c") == ok);
  CHECK(check("http://contoso.servicebus.windows.net/a/b/c/", "a/b/c") == ok);
  CHECK(check("http://contoso.servicebus.windows.net/a/b", "a/bc") == bad);
  CHECK(check("http://contoso.servicebus.windows.net/a/b/c/d", "a/b/c") == bad);
  CHECK(check("http://contoso.servicebus.windows.net/myhc", "myhcx") == bad);
  CHECK(check("http://contoso.servicebus.windows.net/myhcx", "myhc") == bad);
  CHECK(check("http://contoso.servicebus.windows.net", "anything") == ok);
  CHECK(check("http://contoso.servicebus.windows.net/?x=y", "anything") == ok);
  CHECK(check("http://contoso.servicebus.windows.net/myhc", "/myhc/") == ok);  // hc given with slashes
}

TEST_CASE("checks run in the reference order: signature, expiry, audience", "[sas]") {
  // Expired and wrong audience at once: expiry is reported.
  CHECK(verify(kV1, "otherhc", kSe).failure == SasFailure::expired);
  // Bad signature and expired at once: signature is reported.
  std::string t = kV1;
  t.replace(t.find("se=1700000000"), 13, "se=1600000000");
  CHECK(verify(t, "otherhc", kSe).failure == SasFailure::bad_signature);
}
