#include "bridge/token_source.hpp"

#include "hc/sas.hpp"

#include <catch2/catch.hpp>

namespace {
bridge::RelaySettings with_key() {
  bridge::RelaySettings r;
  r.key_name = "root";
  r.key = "a2V5a2V5a2V5";
  return r;
}
}  // namespace

TEST_CASE("token source: tokens from the key verify at the relay for that hybrid connection") {
  asio::io_context io;
  bridge::SasTokenSource tokens(io, with_key(), "ns.example.net", bridge::Seconds(3600));
  const std::string t = tokens.token_for("myhc", 1700000000);
  std::map<std::string, std::string, std::less<>> keys{{"root", "a2V5a2V5a2V5"}};
  CHECK(hc::verify_sas_token(t, keys, "ns.example.net", "myhc", 1700000100).ok());
  CHECK_FALSE(hc::verify_sas_token(t, keys, "ns.example.net", "other", 1700000100).ok());
  CHECK(tokens.expiry_for("myhc") == 1700003600);
}

TEST_CASE("token source: a token is reused until 80% of its life, then replaced") {
  asio::io_context io;
  bridge::SasTokenSource tokens(io, with_key(), "ns.example.net", bridge::Seconds(100));
  const std::string first = tokens.token_for("hc", 1000);
  CHECK(tokens.token_for("hc", 1079) == first);
  const std::string second = tokens.token_for("hc", 1080);
  CHECK(second != first);
  CHECK(tokens.expiry_for("hc") == 1180);
}

TEST_CASE("token source: a pre-issued token is used as is and is not renewable") {
  asio::io_context io;
  bridge::RelaySettings r;
  r.sas = hc::create_sas_token("http://ns.example.net/hc/", "root", "k", 1700000500);
  bridge::SasTokenSource tokens(io, r, "ns.example.net", bridge::Seconds(3600));
  CHECK(tokens.token_for("hc", 1) == r.sas);
  CHECK_FALSE(tokens.renewable());
  REQUIRE(tokens.fixed_expiry().has_value());
  CHECK(*tokens.fixed_expiry() == 1700000500);
}

TEST_CASE("token source: no credentials means no token") {
  asio::io_context io;
  bridge::SasTokenSource tokens(io, bridge::RelaySettings{}, "127.0.0.1", bridge::Seconds(3600));
  CHECK(tokens.token_for("hc", 1).empty());
  CHECK_FALSE(tokens.has_credentials());
}
