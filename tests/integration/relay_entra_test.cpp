// hcrelay's Entra ID branch: JWTs signed by a key the test makes, roles from an assignment table.
#include "relay_fixture.hpp"

#include "relay/entra_auth.hpp"
#include "support/test_jwt.hpp"

#include <cstdio>
#include <fstream>

#include <unistd.h>

using testing::ControlReader;
using testing::RelayFixture;
using testing::run_until;

namespace {

const std::string kTid = "aaaaaaaa-0000-4000-8000-000000000001";
const std::string kListenerOid = "00000000-0000-4000-8000-00000000000a";
const std::string kSenderOid = "00000000-0000-4000-8000-00000000000b";
const std::string kNobodyOid = "00000000-0000-4000-8000-00000000000c";
const std::string kOwnerOid = "00000000-0000-4000-8000-00000000000d";

const testing::TestSigningKey& issuer_key() {
  static const auto k = testing::TestSigningKey::generate("relay-test-key");
  return k;
}

std::shared_ptr<const relay::EntraAuth> entra_auth() {
  auto auth = std::make_shared<relay::EntraAuth>();
  auth->keys = hc::parse_jwks(testing::jwks_of(issuer_key())).value();
  auth->roles = hc::parse_entra_roles(R"({"tenant_id":")" + kTid + R"(","assignments":[
      {"principal":")" + kListenerOid + R"(","role":"Listener","scope":"/"},
      {"principal":")" + kSenderOid + R"(","role":"Sender","scope":"myhc"},
      {"principal":")" + kOwnerOid + R"(","role":"Owner","scope":"/"}]})")
                    .value();
  auth->policy.tenant_id = kTid;
  return auth;
}

std::string jwt(const std::string& oid, int64_t ttl, const std::string& tid = kTid,
                const std::string& aud = "https://relay.azure.net") {
  const auto now = static_cast<int64_t>(std::time(nullptr));
  return issuer_key().token(R"({"alg":"RS256","typ":"JWT","kid":"relay-test-key"})",
                            testing::entra_claims(tid, oid, now - 5, now + ttl, aud));
}

std::string make_tmp_dir() {
  char tmpl[] = "/tmp/hcb-entra-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  return tmpl;
}

std::shared_ptr<ControlReader> open_listener(RelayFixture& f, const std::string& hc, const std::string& token) {
  auto c = f.connect_and_wait(f.listen_url(hc), token);
  REQUIRE_FALSE(c->ec);
  auto reader = std::make_shared<ControlReader>(c->result.ws);
  reader->start();
  return reader;
}

}  // namespace

TEST_CASE("relay entra: a listener with the Listener role connects, a sender with the Sender role is offered to it") {
  RelayFixture f([](relay::RelayConfig& c) { c.entra = entra_auth(); });
  auto control = open_listener(f, "myhc", jwt(kListenerOid, 3600));
  auto sender = f.connect(f.connect_url("myhc"), jwt(kSenderOid, 3600));
  REQUIRE(run_until(f.io, [&] { return !control->messages.empty(); }));
  CHECK(hc::parse_control_message(control->messages[0]).ok());
  // SAS keeps working beside Entra.
  auto sas = f.connect_and_wait(f.listen_url("myhc"), f.token("myhc"));
  CHECK_FALSE(sas->ec);
}

TEST_CASE("relay entra: a missing role gets 403 naming the role, a bad token 401") {
  RelayFixture f([](relay::RelayConfig& c) { c.entra = entra_auth(); });
  auto nobody = f.connect_and_wait(f.listen_url("myhc"), jwt(kNobodyOid, 3600));
  CHECK(nobody->result.http_status == 403);
  CHECK_THAT(nobody->result.reason, Catch::Contains("Azure Relay Listener"));
  // The sender holds Sender on myhc only: not Listener, and nothing on another HC.
  auto wrong_right = f.connect_and_wait(f.listen_url("myhc"), jwt(kSenderOid, 3600));
  CHECK(wrong_right->result.http_status == 403);
  auto wrong_hc = f.connect_and_wait(f.connect_url("otherhc"), jwt(kSenderOid, 3600));
  CHECK(wrong_hc->result.http_status == 403);
  CHECK_THAT(wrong_hc->result.reason, Catch::Contains("Azure Relay Sender"));

  auto foreign = f.connect_and_wait(f.listen_url("myhc"), jwt(kListenerOid, 3600, "bbbbbbbb-0000-4000-8000-000000000002"));
  CHECK(foreign->result.http_status == 401);
  CHECK_THAT(foreign->result.reason, Catch::Contains("InvalidIssuer"));
  auto audience = f.connect_and_wait(f.listen_url("myhc"), jwt(kListenerOid, 3600, kTid, "https://vault.azure.net"));
  CHECK(audience->result.http_status == 401);
  CHECK_THAT(audience->result.reason, Catch::Contains("InvalidAudience"));
  auto expired = f.connect_and_wait(f.listen_url("myhc"), jwt(kListenerOid, -10));
  CHECK(expired->result.http_status == 401);
  const auto stranger = testing::TestSigningKey::generate("relay-test-key");
  const auto now = static_cast<int64_t>(std::time(nullptr));
  auto forged = f.connect_and_wait(
      f.listen_url("myhc"), stranger.token(R"({"alg":"RS256","kid":"relay-test-key"})",
                                           testing::entra_claims(kTid, kListenerOid, now, now + 3600)));
  CHECK(forged->result.http_status == 401);
  CHECK_THAT(forged->result.reason, Catch::Contains("invalid signature"));
}

TEST_CASE("relay entra: the channel closes with 1008 at exp, a renewToken JWT of the same principal extends it") {
  RelayFixture f([](relay::RelayConfig& c) { c.entra = entra_auth(); });
  auto expiring = open_listener(f, "myhc", jwt(kListenerOid, 2));
  auto renewed = open_listener(f, "other", jwt(kListenerOid, 2));
  renewed->ws->async_write_text(hc::build_renew_token_message(jwt(kListenerOid, 3600)), [](std::error_code) {});
  REQUIRE(run_until(f.io, [&] { return expiring->has_ended; }, std::chrono::seconds(6)));
  CHECK(expiring->ws->close_code() == 1008);
  run_until(f.io, [] { return false; }, std::chrono::milliseconds(1500));
  CHECK_FALSE(renewed->has_ended);
}

TEST_CASE("relay entra: a renewToken of another principal or a bad JWT closes the channel with 1008") {
  RelayFixture f([](relay::RelayConfig& c) { c.entra = entra_auth(); });
  auto swapped = open_listener(f, "myhc", jwt(kListenerOid, 3600));
  // The owner may listen too, so only the principal differs.
  swapped->ws->async_write_text(hc::build_renew_token_message(jwt(kOwnerOid, 3600)), [](std::error_code) {});
  auto garbage = open_listener(f, "myhc", jwt(kListenerOid, 3600));
  garbage->ws->async_write_text(hc::build_renew_token_message("e30.e30.sig"), [](std::error_code) {});
  REQUIRE(run_until(f.io, [&] { return swapped->has_ended && garbage->has_ended; }));
  CHECK(swapped->ws->close_code() == 1008);
  CHECK_THAT(swapped->ws->close_reason(), Catch::Contains("another principal"));
  CHECK(garbage->ws->close_code() == 1008);
  CHECK_THAT(garbage->ws->close_reason(), Catch::Contains("MalformedToken"));
}

TEST_CASE("relay entra: --entra-jwks and --entra-roles files load, and their mistakes are named") {
  const std::string dir = make_tmp_dir();
  const std::string jwks = dir + "/jwks.json", roles = dir + "/roles.json";
  std::ofstream(jwks) << testing::jwks_of(issuer_key());
  std::ofstream(roles) << R"({"tenant_id":")" + kTid + R"(","assignments":[]})";
  auto ok = relay::load_entra_auth(jwks, roles);
  REQUIRE(ok.ok());
  CHECK(ok.value()->policy.tenant_id == kTid);
  CHECK(relay::load_entra_auth(dir + "/missing.json", roles).error().find("--entra-jwks") != std::string::npos);
  std::ofstream(roles) << R"({"assignments":[]})";
  CHECK(relay::load_entra_auth(jwks, roles).error().find("tenant_id") != std::string::npos);
  std::remove(jwks.c_str());
  std::remove(roles.c_str());
  rmdir(dir.c_str());
}
