#include <catch2/catch.hpp>

#include "hc/connection_string.hpp"

using namespace hc;

namespace {
const char* const kKey = "dGhpc2lzYXRlc3RrZXl0aGlzaXNhdGVzdGtleTA9PQ==";
const char* const kSas =
    "SharedAccessSignature sr=http%3A%2F%2Fcontoso.servicebus.windows.net%2Fmyhc%2F&sig="
    "ubwedyCR%2Bc0sRaVj3hXzIlrfBwZEUeFZihDvvPHriyA%3D&se=1700000000&skn=RootManageSharedAccessKey";
}  // namespace

TEST_CASE("parse_connection_string reads the standard form", "[connection_string]") {
  const std::string text = std::string("Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName="
                                       "RootManageSharedAccessKey;SharedAccessKey=") +
                           kKey + ";EntityPath=myhc";
  auto r = parse_connection_string(text);
  REQUIRE(r.ok());
  CHECK(r->endpoint.scheme == "sb");
  CHECK(r->endpoint.host == "contoso.servicebus.windows.net");
  CHECK(r->endpoint.port == 443);
  CHECK(r->entity_path == "myhc");
  CHECK(r->key_name == "RootManageSharedAccessKey");
  CHECK(r->key == kKey);  // '=' padding kept: split at the first '='
  CHECK(r->has_key());
  CHECK_FALSE(r->has_sas());
  CHECK(r->sas.empty());
  CHECK(r->operation_timeout.empty());
}

TEST_CASE("parse_connection_string tolerates case, order, whitespace and empty parts", "[connection_string]") {
  const std::string text = std::string(" ;; entitypath = a/b ; sharedaccesskey =") + kKey +
                           " ;  ENDPOINT=wss://Localhost:8443 ;SHAREDACCESSKEYNAME= k1;OperationTimeout=00:01:00;"
                           "Authentication=Managed Identity;";
  auto r = parse_connection_string(text);
  REQUIRE(r.ok());
  CHECK(r->endpoint.scheme == "wss");
  CHECK(r->endpoint.host == "localhost");
  CHECK(r->endpoint.port == 8443);
  CHECK(r->entity_path == "a/b");
  CHECK(r->key_name == "k1");
  CHECK(r->key == kKey);
  CHECK(r->operation_timeout == "00:01:00");
}

TEST_CASE("parse_connection_string takes a pre-issued SAS", "[connection_string]") {
  auto r = parse_connection_string(std::string("Endpoint=ws://127.0.0.1:9000/;EntityPath=myhc;SharedAccessSignature=") +
                                   kSas);
  REQUIRE(r.ok());
  CHECK(r->sas == kSas);
  CHECK(r->has_sas());
  CHECK_FALSE(r->has_key());
  CHECK(r->endpoint.port == 9000);
  CHECK_FALSE(r->endpoint.tls());

  auto anon = parse_connection_string("Endpoint=sb://ns/");
  REQUIRE(anon.ok());
  CHECK_FALSE(anon->has_key());
  CHECK_FALSE(anon->has_sas());
}

TEST_CASE("parse_connection_string errors name the problem", "[connection_string]") {
  struct Case {
    std::string text;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"", "no Endpoint"},
      {"EntityPath=x", "no Endpoint"},
      {"Endpoint=sb://ns/;Foo=bar", "Foo"},
      {"Endpoint=sb://ns/;EntityPath", "part 2 has no '='"},
      {"Endpoint=sb://ns/;endpoint=sb://other/", "duplicate"},
      {"Endpoint=", "Endpoint"},
      {"Endpoint=sb://ns/;EntityPath=", "EntityPath"},
      {"Endpoint=ftp://ns/", "ftp"},
      {"Endpoint=https://ns/", "https"},
      {"Endpoint=sb://ns:0/", "port"},
      {"Endpoint=sb://ns/;SharedAccessKeyName=k", "no SharedAccessKey"},
      {std::string("Endpoint=sb://ns/;SharedAccessKey=") + kKey, "no SharedAccessKeyName"},
      {std::string("Endpoint=sb://ns/;SharedAccessKeyName=k;SharedAccessKey=") + kKey + ";SharedAccessSignature=" +
           kSas,
       "must not combine"},
      {std::string("Endpoint=sb://ns/;SharedAccessKeyName=") + std::string(257, 'n') + ";SharedAccessKey=" + kKey,
       "longer than 256"},
      {"=x;Endpoint=sb://ns/", "empty key"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto r = parse_connection_string(c.text);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::Contains(c.expect));
  }
}

TEST_CASE("parse_connection_string never echoes secrets", "[connection_string]") {
  const std::string key = "S3cr3tKeyValueThatMustNotLeak0123456789abc=";
  const std::string sig = "SharedAccessSignature sr=x&sig=T0pS3cr3tSignatureValue%3D&se=1&skn=k";
  const std::vector<std::string> bad = {
      "Endpoint=sb://ns/;SharedAccessKey=" + key,
      "SharedAccessKey=" + key,
      "SharedAccessKey=" + key + ";Endpoint=ftp://x/",
      "Endpoint=sb://ns/;SharedAccessKeyName=a;SharedAccessKey=" + key + ";SharedAccessKey=" + key,
      "Endpoint=sb://ns/;SharedAccessKeyName=a;SharedAccessKey=" + key + ";Bogus=1",
      "Endpoint=sb://ns/;SharedAccessKeyName=a;SharedAccessKey=" + key + ";SharedAccessSignature=" + sig,
      "Endpoint=sb://ns/;" + key,  // a key pasted without its name
      "Endpoint=sb://ns/;SharedAccessSignature=" + sig + ";SharedAccessKey=" + key,
      "Endpoint=sb://ns/;SharedAccessSignature=" + sig + ";SharedAccessSignature=" + sig,
      "Endpoint=sb://ns/;SharedAccessSignature=" + sig + ";x",
      "SharedAccessSignature=" + sig,
      "Endpoint=sb://ns/;SharedAccessKeyName=" + std::string(300, 'n') + ";SharedAccessKey=" + key,
      "Endpoint=sb://ns/;SharedAccessKeyName=a;SharedAccessKey=" + std::string(300, 'k'),
  };
  for (const auto& text : bad) {
    INFO(text);
    auto r = parse_connection_string(text);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), !Catch::Contains("S3cr3t"));
    CHECK_THAT(r.error(), !Catch::Contains("T0pS3cr3t"));
    CHECK_THAT(r.error(), !Catch::Contains("kkkkkkkk"));
  }
}

TEST_CASE("masked hides key and signature", "[connection_string]") {
  auto r = parse_connection_string(std::string("Endpoint=sb://ns.example:5671/;EntityPath=hc;SharedAccessKeyName=k1;"
                                               "SharedAccessKey=") +
                                   kKey + ";OperationTimeout=00:00:30");
  REQUIRE(r.ok());
  const std::string m = masked(r.value());
  CHECK(m == "Endpoint=sb://ns.example:5671/;EntityPath=hc;SharedAccessKeyName=k1;SharedAccessKey=***;"
             "OperationTimeout=00:00:30");
  CHECK_THAT(m, !Catch::Contains(kKey));
  // The masked text parses again (secret replaced by the placeholder).
  auto again = parse_connection_string(m);
  REQUIRE(again.ok());
  CHECK(again->key == "***");

  auto s = parse_connection_string(std::string("Endpoint=sb://ns/;SharedAccessSignature=") + kSas);
  REQUIRE(s.ok());
  const std::string ms = masked(s.value());
  CHECK(ms == "Endpoint=sb://ns/;SharedAccessSignature=***");
  CHECK_THAT(ms, !Catch::Contains("ubwedy"));
}

TEST_CASE("unknown keys are named only when they look like key names", "[connection_string]") {
  auto typo = parse_connection_string("Endpoint=sb://ns/;SharedAccesKey=abc");
  REQUIRE_FALSE(typo.ok());
  CHECK_THAT(typo.error(), Catch::Contains("'SharedAccesKey'"));
  CHECK_THAT(typo.error(), !Catch::Contains("abc"));
  auto pasted = parse_connection_string("Endpoint=sb://ns/;;dGhpc2lzYXRlc3RrZXl0aGlz/+9=");
  REQUIRE_FALSE(pasted.ok());
  CHECK(pasted.error() == "connection string part 3 has an unknown key");
}
