#include <catch2/catch.hpp>

#include "bridge/config.hpp"
#include "bridge/credentials/entra_credential.hpp"
#include "bridge/credentials/token_fetch.hpp"
#include "hc/connection_string.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

using namespace bridge;

namespace {

const std::string kClientSecret = "ZW50cmFVbml0Q2xpZW50U2VjcmV0VmFsdWU";  // registered in tests/support/test_secrets.txt
const std::string kIdentityHeader = "ZW50cmFVbml0SWRlbnRpdHlIZWFkZXI";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

AzureEnv app_env() {
  return {{"AZURE_TENANT_ID", "tenant-1"}, {"AZURE_CLIENT_ID", "client-1"}};
}

EntraCredential resolved(const EntraSettings& s, const AzureEnv& env) {
  auto c = resolve_entra_credential(s, env);
  INFO((c ? "" : c.error()));
  REQUIRE(c);
  return c.value();
}

std::string error_of(const EntraSettings& s, const AzureEnv& env) {
  auto c = resolve_entra_credential(s, env);
  return c ? "" : c.error();
}

}  // namespace

TEST_CASE("entra auto: secret, then certificate, then workload identity, then managed identity", "[entra]") {
  AzureEnv env = app_env();
  env["AZURE_CLIENT_SECRET"] = kClientSecret;
  env["AZURE_CLIENT_CERTIFICATE_PATH"] = "/etc/hcbridge/cert.pem";
  env["AZURE_FEDERATED_TOKEN_FILE"] = "/var/run/secrets/azure/tokens/azure-identity-token";
  EntraCredential c = resolved({}, env);
  CHECK(c.kind == EntraKind::client_secret);
  CHECK(c.client_secret == kClientSecret);
  CHECK(c.token_url() == "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token");
  CHECK(c.origin["client_id"] == "AZURE_CLIENT_ID");
  env.erase("AZURE_CLIENT_SECRET");
  CHECK(resolved({}, env).kind == EntraKind::client_certificate);
  CHECK(resolved({}, env).algorithm == AssertionAlgorithm::ps256);
  env.erase("AZURE_CLIENT_CERTIFICATE_PATH");
  CHECK(resolved({}, env).kind == EntraKind::workload_identity);
  env.erase("AZURE_FEDERATED_TOKEN_FILE");
  EntraCredential mi = resolved({}, env);
  CHECK(mi.kind == EntraKind::managed_identity);
  CHECK(mi.source == ManagedSource::imds);
  CHECK(mi.managed_endpoint == "http://169.254.169.254/metadata/identity/oauth2/token");
  CHECK(mi.client_id == "client-1");  // a user-assigned identity
}

TEST_CASE("entra managed identity: App Service, then Arc, then IMDS (host overridable)", "[entra]") {
  AzureEnv env{{"IDENTITY_ENDPOINT", "http://127.0.0.1:41000/msi/token"}, {"IDENTITY_HEADER", kIdentityHeader},
               {"IMDS_ENDPOINT", "http://127.0.0.1:41001"}};
  EntraCredential app = resolved({}, env);
  CHECK(app.source == ManagedSource::app_service);
  CHECK(app.identity_header == kIdentityHeader);
  env.erase("IDENTITY_HEADER");
  EntraCredential arc = resolved({}, env);
  CHECK(arc.source == ManagedSource::arc);
  CHECK(arc.arc_key_directory == "/var/opt/azcmagent/tokens");
  EntraSettings s;
  s.arc_key_directory = "/tmp/keys";
  CHECK(resolved(s, env).arc_key_directory == "/tmp/keys");
  AzureEnv pod{{"AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:41002/"}};
  EntraCredential imds = resolved({}, pod);
  CHECK(imds.source == ManagedSource::imds);
  CHECK(imds.managed_endpoint == "http://127.0.0.1:41002/metadata/identity/oauth2/token");
  CHECK(contains(imds.describe(), "AZURE_POD_IDENTITY_AUTHORITY_HOST"));
  CHECK(contains(imds.describe(), "system-assigned"));
  CHECK_FALSE(contains(app.describe(), kIdentityHeader));
}

TEST_CASE("entra: an explicit credential needs its values, errors name them and never a secret", "[entra]") {
  EntraSettings s;
  s.credential = "client-secret";
  CHECK(contains(error_of(s, {}), "needs a tenant id (entra.tenant_id or AZURE_TENANT_ID)"));
  CHECK(contains(error_of(s, {{"AZURE_TENANT_ID", "t"}}), "needs a client id (entra.client_id or AZURE_CLIENT_ID)"));
  CHECK(contains(error_of(s, app_env()), "needs a secret (entra.client_secret_file or AZURE_CLIENT_SECRET)"));
  s.credential = "client-certificate";
  CHECK(contains(error_of(s, app_env()), "needs a certificate file"));
  s.credential = "workload-identity";
  CHECK(contains(error_of(s, app_env()), "needs a token file"));
  s.credential = "password";
  CHECK(contains(error_of(s, app_env()), "is not one of auto, client-secret"));
  EntraSettings insecure;
  insecure.authority_host = "http://login.example/";
  AzureEnv env = app_env();
  env["AZURE_CLIENT_SECRET"] = kClientSecret;
  CHECK(contains(error_of(insecure, env), "authority_host (entra.authority_host) must be an https:// URL"));
  EntraSettings bad_tenant;
  bad_tenant.tenant_id = "a/../b";
  CHECK(contains(error_of(bad_tenant, env), "tenant id (entra.tenant_id) may hold only"));
  EntraSettings rs;
  rs.credential = "client-certificate";
  rs.certificate_file = "/c.pem";
  rs.assertion_algorithm = "rs256";
  CHECK(resolved(rs, app_env()).algorithm == AssertionAlgorithm::rs256);
  EntraCredential c = resolved({}, env);
  CHECK(contains(c.describe(), "secret *** (AZURE_CLIENT_SECRET)"));
  CHECK_FALSE(contains(c.describe(), kClientSecret));
}

TEST_CASE("entra: config values win over the environment, sovereign authority", "[entra]") {
  EntraSettings s;
  s.tenant_id = "cfg-tenant";
  s.client_id = "cfg-client";
  s.authority_host = "https://login.chinacloudapi.cn";
  AzureEnv env = app_env();
  env["AZURE_CLIENT_SECRET"] = kClientSecret;
  EntraCredential c = resolved(s, env);
  CHECK(c.token_url() == "https://login.chinacloudapi.cn/cfg-tenant/oauth2/v2.0/token");
  CHECK(c.origin["tenant_id"] == "entra.tenant_id");
}

TEST_CASE("entra: Authentication=Managed Identity in a connection string, per-forward mix with SAS", "[entra]") {
  auto cs = hc::parse_connection_string("Endpoint=sb://ns.servicebus.windows.net/;Authentication=Managed Identity");
  REQUIRE(cs);
  RelaySettings r = relay_settings_from(cs.value());
  CHECK(uses_entra(r));
  CHECK(r.entra.credential == "managed-identity");

  Config config;
  config.relay.endpoint = "sb://ns.servicebus.windows.net/";
  config.relay.key_name = "root";
  config.relay.key = "a2V5";
  RelaySettings entra_forward;
  entra_forward.auth_mode = "entra";
  entra_forward.entra.client_id = "client-2";
  const RelaySettings mixed = effective_relay(config, entra_forward);
  CHECK(uses_entra(mixed));
  CHECK(mixed.key.empty());
  CHECK_FALSE(uses_entra(effective_relay(config, std::nullopt)));

  Config entra_global;
  entra_global.relay.endpoint = "sb://ns.servicebus.windows.net/";
  entra_global.relay.auth_mode = "entra";
  RelaySettings sas_forward;
  sas_forward.key_name = "root";
  sas_forward.key = "a2V5";
  CHECK_FALSE(uses_entra(effective_relay(entra_global, sas_forward)));
}

TEST_CASE("entra: without SAS, every endpoint but the built-in one means Entra ID, loopback included", "[entra]") {
  RelaySettings r;
  CHECK_FALSE(uses_entra(r));  // no endpoint: the local hcrelay on its default port
  r.endpoint = kDefaultEndpoint;
  CHECK_FALSE(uses_entra(r));  // the same endpoint written out
  for (const char* endpoint : {"ws://127.0.0.1:9351/", "wss://localhost:9350/", "sb://ns.servicebus.windows.net/"}) {
    r.endpoint = endpoint;
    CAPTURE(endpoint);
    CHECK(uses_entra(r));
  }
  r.no_auth = true;
  CHECK_FALSE(uses_entra(r));
}

TEST_CASE("token answers: numbers or strings, expires_on preferred, OAuth errors kept, transient ones marked", "[entra]") {
  auto ok = parse_token_answer(200, R"({"token_type":"Bearer","expires_in":3599,"access_token":"a.b.c"})", 1000);
  REQUIRE(ok.ok);
  CHECK(ok.token.token == "a.b.c");
  CHECK(ok.token.expiry == 4599);
  auto imds = parse_token_answer(200, R"({"access_token":"x","expires_in":"86399","expires_on":"90000"})", 1000);
  REQUIRE(imds.ok);
  CHECK(imds.token.expiry == 90000);
  auto refused = parse_token_answer(401, R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."})", 1);
  CHECK_FALSE(refused.ok);
  CHECK_FALSE(refused.transient);
  CHECK(refused.problem == "answered 401 invalid_client: AADSTS7000215: Invalid client secret provided.");
  CHECK(parse_token_answer(429, "", 1).transient);
  CHECK(parse_token_answer(503, "<html>", 1).transient);
  CHECK(parse_token_answer(410, "{}", 1).transient);
  CHECK(parse_token_answer(200, R"({"expires_in":10})", 1).problem == "answered 200 without an access_token");
  CHECK(contains(parse_token_answer(200, R"({"access_token":"x"})", 1).problem, "expires_in"));
  CHECK(contains(parse_token_answer(200, R"({"access_token":"x","expires_on":"soon"})", 1).problem, "expires_in"));
  CHECK(contains(parse_token_answer(200, "not json", 1).problem, "not a JSON object"));
}

TEST_CASE("Arc challenge: the realm must be a small .key file directly in the agent's directory", "[entra]") {
  char dir_template[] = "/tmp/hcb-arc-XXXXXX";
  REQUIRE(mkdtemp(dir_template));
  const std::string dir = dir_template;
  const std::string good = dir + "/0b1c.key";
  std::ofstream(good) << "c2VjcmV0";
  const std::string big = dir + "/big.key";
  std::ofstream(big) << std::string(5000, 'x');
  const std::string other = dir + "/notes.txt";
  std::ofstream(other) << "x";
  auto check = [&](const std::string& header) { return checked_arc_key_file(&header, dir); };
  CHECK(check("Basic realm=" + good).value() == good);
  CHECK(contains(check("Basic realm=/etc/shadow").error(), "outside"));
  CHECK(contains(check("Basic realm=" + dir + "/../etc.key").error(), "outside"));
  CHECK(contains(check("Basic realm=" + dir + "/sub/x.key").error(), "outside"));
  CHECK(contains(check("Basic realm=" + other).error(), "not a .key file"));
  CHECK(contains(check("Basic realm=" + big).error(), "larger than 4096 bytes"));
  CHECK(contains(check("Basic realm=" + dir + "/missing.key").error(), "not a regular file"));
  CHECK(contains(check("Bearer x").error(), "not 'Basic realm="));
  CHECK(contains(checked_arc_key_file(nullptr, dir).error(), "no WWW-Authenticate"));
  for (const auto& f : {good, big, other}) std::remove(f.c_str());
  rmdir(dir.c_str());
}
