#include <catch2/catch.hpp>

#include "bridge/config.hpp"
#include "support/temp_file.hpp"
#include "support/tunnel_config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>

using namespace bridge;
using testing::contains;
using testing::TempFile;

namespace {

const std::string kKey = "dmFsaWRhdGVLZXlTZWNyZXRWYWx1ZTAxMjM0NTY3ODk=";
const std::string kSas = "SharedAccessSignature sr=x&sig=dmFsaWRhdGVTaWdTZWNyZXQ%3D&se=1999999999&skn=root";

bool any_contains(const std::vector<std::string>& list, const std::string& part) {
  for (const auto& s : list)
    if (contains(s, part)) return true;
  return false;
}

Config minimal() {
  Config c;
  LocalForward f;
  f.hc = "web";
  LocalBinding b;
  b.port = 8080;
  b.port_name = "8080";
  f.bindings.push_back(b);
  c.local_forwards.push_back(f);
  return c;
}

RemoteForward remote(const std::string& hc, std::vector<RemoteTarget> targets) {
  RemoteForward f;
  f.hc = hc;
  f.targets = std::move(targets);
  return f;
}

RemoteTarget target(const std::string& name, uint16_t port) {
  RemoteTarget t;
  t.port_name = name;
  t.port = port;
  return t;
}

std::string error_of(Config c) {
  std::vector<std::string> warnings;
  auto r = validate_config(c, warnings);
  REQUIRE_FALSE(r.ok());
  CHECK_FALSE(contains(r.error(), kKey));
  CHECK_FALSE(contains(r.error(), "dmFsaWRhdGV"));
  for (const auto& w : warnings) CHECK_FALSE(contains(w, "dmFsaWRhdGV"));
  return r.error();
}

std::vector<std::string> warnings_of(Config& c) {
  std::vector<std::string> warnings;
  auto r = validate_config(c, warnings);
  INFO((r.ok() ? std::string() : r.error()));
  REQUIRE(r.ok());
  return warnings;
}

}  // namespace

TEST_CASE("validate: nothing to do", "[validate]") {
  Config c;
  CHECK(error_of(c) == "nothing to do: give -L or -T, or local_forward/remote_forward in the config file");
}

TEST_CASE("validate: the endpoint defaults to the local hcrelay, silently", "[validate]") {
  Config c = minimal();
  const auto w = warnings_of(c);
  CHECK(c.relay.endpoint == kDefaultEndpoint);
  CHECK(w.empty());
}

TEST_CASE("validate: endpoint schemes, normalisation and paths", "[validate]") {
  Config sb = minimal();
  sb.relay.endpoint = "sb://Contoso.servicebus.windows.net";
  sb.relay.key_name = "root";
  sb.relay.key = kKey;
  CHECK(warnings_of(sb).empty());
  CHECK(sb.relay.endpoint == "sb://contoso.servicebus.windows.net/");

  Config wss = minimal();
  wss.relay.endpoint = "wss://relay.example.com:8443/";
  wss.relay.no_auth = true;
  CHECK(warnings_of(wss).empty());
  CHECK(wss.relay.endpoint == "wss://relay.example.com:8443/");

  Config https = minimal();
  https.relay.endpoint = "https://x/";
  CHECK(contains(error_of(https), "scheme 'https' is not supported (expected sb://, wss:// or ws://)"));
  CHECK(contains(error_of(https), "relay.endpoint (-e/--endpoint)"));

  Config ftp = minimal();
  ftp.relay.endpoint = "ftp://x/";
  CHECK(contains(error_of(ftp), "relay.endpoint"));

  Config path = minimal();
  path.relay.endpoint = "sb://ns.servicebus.windows.net/;SharedAccessKeyName=r;SharedAccessKey=" + kKey;
  const std::string e = error_of(path);
  CHECK(contains(e, "without a path or query"));

  Config query = minimal();
  query.relay.endpoint = "wss://x/?a=b";
  CHECK(contains(error_of(query), "without a path or query"));

  Config garbage = minimal();
  garbage.relay.endpoint = "not a uri";
  CHECK(contains(error_of(garbage), "relay.endpoint"));
}

TEST_CASE("validate: plain ws:// to a remote host warns", "[validate]") {
  Config c = minimal();
  c.relay.endpoint = "ws://relay.example.com:9350/";
  c.relay.no_auth = true;
  const auto w = warnings_of(c);
  CHECK(any_contains(w, "plain ws:// to relay.example.com: traffic and tokens are not encrypted"));

  Config local = minimal();
  local.relay.endpoint = "ws://localhost:9350/";
  local.relay.no_auth = true;
  CHECK(warnings_of(local).empty());
  Config v6 = minimal();
  v6.relay.endpoint = "ws://[::1]:9350/";
  v6.relay.no_auth = true;
  CHECK(warnings_of(v6).empty());
}

TEST_CASE("validate: no SAS means Entra ID for any given endpoint, but --no-auth and the built-in default mean no token",
          "[validate]") {
  Config c = minimal();
  c.relay.endpoint = "sb://ns.servicebus.windows.net/";
  warnings_of(c);  // valid: managed identity needs no value
  CHECK(uses_entra(effective_relay(c, std::nullopt)));
  c.relay.no_auth = true;
  CHECK_FALSE(uses_entra(effective_relay(c, std::nullopt)));
  Config builtin = minimal();  // no endpoint: the local hcrelay at the built-in default, without a token
  warnings_of(builtin);
  CHECK_FALSE(uses_entra(effective_relay(builtin, std::nullopt)));
  // A loopback endpoint the user gave without SAS is Entra ID; with nothing but the IMDS fallback it is refused with
  // a message that names --no-auth, and --no-auth makes it tokenless.
  Config local = minimal();
  local.relay.endpoint = "ws://127.0.0.1:9400/";
  CHECK(uses_entra(effective_relay(local, std::nullopt)));
  CHECK(contains(error_of(local), "give --no-auth"));
  local.relay.no_auth = true;
  CHECK(warnings_of(local).empty());
  CHECK_FALSE(uses_entra(effective_relay(local, std::nullopt)));
  local.relay.no_auth = false;
  local.relay.auth_mode = "entra";
  CHECK(uses_entra(effective_relay(local, std::nullopt)));
  local.relay.entra.credential = "client-secret";
  CHECK(contains(error_of(local), "needs a tenant id (entra.tenant_id or AZURE_TENANT_ID)"));
}

TEST_CASE("validate: key_name and key go together, sas excludes them", "[validate]") {
  Config name_only = minimal();
  name_only.relay.key_name = "root";
  CHECK(contains(error_of(name_only), "key_name 'root' is set but no key"));

  Config key_only = minimal();
  key_only.relay.key = kKey;
  CHECK(contains(error_of(key_only), "a key is set but no key_name"));

  Config both = minimal();
  both.relay.key_name = "root";
  both.relay.key = kKey;
  both.relay.sas = kSas;
  CHECK(contains(error_of(both), "cannot be combined"));

  Config no_auth = minimal();
  no_auth.relay.no_auth = true;
  no_auth.relay.sas = kSas;
  CHECK(contains(error_of(no_auth), "no_auth cannot be combined"));

  Config sas = minimal();
  sas.relay.sas = kSas;
  CHECK(warnings_of(sas).empty());
}

TEST_CASE("validate: key files", "[validate]") {
  TempFile good("  " + kKey + "  \nsecond line ignored\n", 0600);
  Config c = minimal();
  c.relay.key_name = "root";
  c.relay.key_file = good.path;
  CHECK(warnings_of(c).empty());
  CHECK(c.relay.key == kKey);

  TempFile open(kKey + "\n", 0644);
  Config loose = minimal();
  loose.relay.key_name = "root";
  loose.relay.key_file = open.path;
  const auto w = warnings_of(loose);
  CHECK(any_contains(w, "key file " + open.path + " is readable by other users; run chmod 600 " + open.path));

  TempFile empty(" \n", 0600);
  Config e = minimal();
  e.relay.key_name = "root";
  e.relay.key_file = empty.path;
  CHECK(contains(error_of(e), "is empty"));
  CHECK(contains(error_of(e), "relay.key_file (--key-file)"));

  Config missing = minimal();
  missing.relay.key_name = "root";
  missing.relay.key_file = "/nonexistent/key";
  CHECK(contains(error_of(missing), "cannot read key file '/nonexistent/key'"));

  Config dir = minimal();
  dir.relay.key_name = "root";
  dir.relay.key_file = "/tmp";
  CHECK(contains(error_of(dir), "not a regular file"));

  TempFile long_key(std::string(300, 'k'), 0600);
  Config too_long = minimal();
  too_long.relay.key_name = "root";
  too_long.relay.key_file = long_key.path;
  CHECK(contains(error_of(too_long), "longer than 256"));
}

TEST_CASE("validate: CA file must be readable", "[validate]") {
  Config c = minimal();
  c.relay.endpoint = "wss://relay.example.com/";
  c.relay.no_auth = true;
  c.relay.ca_file = "/nonexistent/ca.pem";
  CHECK(contains(error_of(c), "relay.ca_file (--ca-file): cannot read CA file '/nonexistent/ca.pem'"));

  TempFile ca("-----BEGIN CERTIFICATE-----\n", 0644);
  Config ws = minimal();
  ws.relay.ca_file = ca.path;
  CHECK(any_contains(warnings_of(ws), "is not used: ws://127.0.0.1:9350 is not TLS"));
}

TEST_CASE("validate: per-forward relay overrides are checked the same way", "[validate]") {
  Config c = minimal();
  c.local_forwards[0].origin = "f.json:3: local_forward[0]";
  RelaySettings r;
  r.endpoint = "http://x/";
  c.local_forwards[0].relay = r;
  CHECK(contains(error_of(c), "f.json:3: local_forward[0]: relay.endpoint: scheme 'http' is not supported"));

  // Half of a key pair in the override, the other half global: fine.
  Config half = minimal();
  half.relay.key_name = "root";
  half.relay.key = "globalkey";
  RelaySettings own_key;
  own_key.key = kKey;
  half.local_forwards[0].relay = own_key;
  CHECK(warnings_of(half).empty());
  const RelaySettings eff = effective_relay(half, half.local_forwards[0].relay);
  CHECK(eff.key_name == "root");
  CHECK(eff.key == kKey);

  Config conflict = minimal();
  RelaySettings both;
  both.sas = kSas;
  both.key = kKey;
  conflict.local_forwards[0].relay = both;
  CHECK(contains(error_of(conflict), "local_forward[0]: relay: a pre-issued sas"));

  TempFile key(kKey, 0600);
  Config file = minimal();
  file.relay.key_name = "root";
  RelaySettings with_file;
  with_file.key_file = key.path;
  file.local_forwards[0].relay = with_file;
  CHECK(warnings_of(file).empty());
  CHECK(file.local_forwards[0].relay->key == kKey);
  CHECK(effective_relay(file, file.local_forwards[0].relay).key == kKey);
}

TEST_CASE("validate: EntityPath must match the forward's hc", "[validate]") {
  Config c = minimal();
  c.relay.key_name = "root";
  c.relay.key = kKey;
  c.relay.entity_path = "other";
  CHECK(contains(error_of(c), "EntityPath 'other' does not match the hybrid connection 'web'"));
  c.relay.entity_path = "WEB";  // HC names are case-insensitive
  CHECK(warnings_of(c).empty());

  Config fwd = minimal();
  RelaySettings r;
  r.key_name = "l";
  r.key = kKey;
  r.entity_path = "nope";
  fwd.remote_forwards.push_back(remote("db", {target("80", 80)}));
  fwd.remote_forwards[0].relay = r;
  CHECK(contains(error_of(fwd), "remote_forward[0]: the connection string's EntityPath 'nope'"));
}

TEST_CASE("validate: hc names and port names", "[validate]") {
  Config c = minimal();
  c.local_forwards[0].hc = "bad name";
  CHECK(contains(error_of(c), "local_forward[0]: hybrid connection name 'bad name' is invalid"));

  Config p = minimal();
  p.local_forwards[0].bindings[0].port_name = "a b";
  CHECK(contains(error_of(p), "port name 'a b' is invalid"));

  Config raw = minimal();
  raw.local_forwards[0].raw = true;
  raw.local_forwards[0].bindings[0].port_name = "ignored anyway";
  CHECK(warnings_of(raw).empty());

  Config dflt = minimal();
  dflt.local_forwards[0].bindings[0].port_name.clear();
  dflt.remote_forwards.push_back(remote("r", {target("", 81)}));
  CHECK(warnings_of(dflt).empty());
  CHECK(dflt.local_forwards[0].bindings[0].port_name == "8080");
  CHECK(dflt.remote_forwards[0].targets[0].port_name == "81");

  Config rname = minimal();
  rname.remote_forwards.push_back(remote("r", {target(std::string(256, 'n'), 81)}));
  CHECK(contains(error_of(rname), "remote_forward[0]: port name"));
}

TEST_CASE("validate: bindings and targets", "[validate]") {
  Config dup = minimal();
  dup.local_forwards[0].origin = "-L '8080:web'";
  LocalForward second;
  second.hc = "other";
  second.origin = "-L '127.0.0.1:8080:other'";
  LocalBinding b;
  b.port = 8080;
  second.bindings.push_back(b);
  dup.local_forwards.push_back(second);
  CHECK(error_of(dup) == "-L '127.0.0.1:8080:other': 127.0.0.1:8080 is bound twice (also by -L '8080:web')");

  Config same_port_other_host = minimal();
  second.bindings[0].bind_host = "127.0.0.2";
  same_port_other_host.local_forwards.push_back(second);
  CHECK(warnings_of(same_port_other_host).empty());

  Config v6dup = minimal();
  v6dup.local_forwards[0].bindings[0].bind_host = "::1";
  v6dup.local_forwards[0].bindings.push_back(v6dup.local_forwards[0].bindings[0]);
  CHECK(contains(error_of(v6dup), "[::1]:8080 is bound twice"));

  Config star = minimal();
  star.local_forwards[0].bindings[0].bind_host = "*";
  CHECK(warnings_of(star).empty());
  CHECK(star.local_forwards[0].bindings[0].bind_host == "0.0.0.0");

  Config zero = minimal();
  zero.local_forwards[0].bindings[0].port = 0;
  CHECK(contains(error_of(zero), "port 0 is not allowed"));

  Config nobind = minimal();
  nobind.local_forwards[0].bindings.clear();
  CHECK(contains(error_of(nobind), "no bindings"));

  Config badhost = minimal();
  badhost.local_forwards[0].bindings[0].bind_host = "";
  CHECK(contains(error_of(badhost), "bind address '' is not a valid host name"));

  Config notargets = minimal();
  notargets.remote_forwards.push_back(remote("r", {}));
  CHECK(contains(error_of(notargets), "remote_forward[0]: no targets"));

  Config dupnames = minimal();
  dupnames.remote_forwards.push_back(remote("r", {target("web", 80), target("web", 81)}));
  CHECK(contains(error_of(dupnames), "port name 'web' is used by two targets of hybrid connection 'r'"));

  Config raw_two = minimal();
  raw_two.remote_forwards.push_back(remote("r", {target("a", 80), target("b", 81)}));
  raw_two.remote_forwards[0].raw = true;
  CHECK(contains(error_of(raw_two), "a raw forward has no port names, so it takes exactly one target (got 2)"));

  Config raw_one = minimal();
  raw_one.remote_forwards.push_back(remote("r", {target("a", 80)}));
  raw_one.remote_forwards[0].raw = true;
  CHECK(warnings_of(raw_one).empty());

  Config tport = minimal();
  tport.remote_forwards.push_back(remote("r", {target("a", 0)}));
  CHECK(contains(error_of(tport), "port 0 is not allowed"));

  Config thost = minimal();
  thost.remote_forwards.push_back(remote("r", {target("a", 1)}));
  thost.remote_forwards[0].targets[0].host = "bad host";
  CHECK(contains(error_of(thost), "target host 'bad host'"));
}

TEST_CASE("validate: global ranges name the key and its flag", "[validate]") {
  Config c = minimal();
  c.token_ttl = Seconds(9);
  CHECK(error_of(c) == "token_ttl (--token-ttl): must be between 10 and 2592000 seconds (got 9)");
  c = minimal();
  c.keepalive = Seconds(0);
  CHECK(contains(error_of(c), "keepalive (--keepalive): must be between 1 and 3600"));
  c = minimal();
  c.connect_timeout = Seconds(0);
  CHECK(contains(error_of(c), "connect_timeout (--connect-timeout): must be more than 0"));
  c = minimal();
  c.grace_period = Seconds(-1);
  CHECK(contains(error_of(c), "grace_period (--grace-period)"));
  c = minimal();
  c.idle_timeout = Seconds(-1);
  CHECK(contains(error_of(c), "idle_timeout (--idle-timeout)"));
  c = minimal();
  c.preamble_timeout = Seconds(std::numeric_limits<double>::quiet_NaN());
  CHECK(contains(error_of(c), "preamble_timeout"));
  c = minimal();
  c.backoff_initial = Seconds(40);
  CHECK(contains(error_of(c), "must not exceed backoff_max"));
  c = minimal();
  c.max_connections = 0;
  CHECK(contains(error_of(c), "max_connections (--max-connections)"));
  c = minimal();
  c.log_level = "verbose";
  CHECK(contains(error_of(c), "log.level (--log-level): unknown level 'verbose'"));
  c = minimal();
  c.log_format = "yaml";
  CHECK(contains(error_of(c), "log.format (--log-format)"));
  c = minimal();
  c.admin_bind = "nope";
  CHECK(contains(error_of(c), "admin.bind (--admin)"));
  c = minimal();
  c.local_forwards[0].max_connections = 0;
  CHECK(contains(error_of(c), "local_forward[0]: max_connections must be"));
  c = minimal();
  c.local_forwards[0].idle_timeout = Seconds(-2);
  CHECK(contains(error_of(c), "local_forward[0]: idle_timeout must be"));
  c = minimal();
  c.admin_bind = "0.0.0.0:9090";
  CHECK(any_contains(warnings_of(c), "admin endpoint 0.0.0.0:9090 is reachable from other hosts"));
}

TEST_CASE("merge_relay_settings replaces credentials as a set", "[validate]") {
  RelaySettings base;
  base.endpoint = "sb://a/";
  base.key_name = "root";
  base.key = "k1";
  base.entity_path = "hc1";

  RelaySettings sas_layer;
  sas_layer.sas = "token";
  RelaySettings r = base;
  merge_relay_settings(r, sas_layer);
  CHECK(r.endpoint == "sb://a/");
  CHECK(r.sas == "token");
  CHECK(r.key.empty());
  CHECK(r.key_name.empty());
  CHECK(r.entity_path.empty());

  RelaySettings key_file_layer;
  key_file_layer.key_file = "/k";
  r = base;
  merge_relay_settings(r, key_file_layer);
  CHECK(r.key_name == "root");
  CHECK(r.key.empty());
  CHECK(r.key_file == "/k");

  RelaySettings endpoint_only;
  endpoint_only.endpoint = "wss://b/";
  r = base;
  merge_relay_settings(r, endpoint_only);
  CHECK(r.endpoint == "wss://b/");
  CHECK(r.key == "k1");
  CHECK(r.entity_path == "hc1");

  RelaySettings no_auth;
  no_auth.no_auth = true;
  r = base;
  merge_relay_settings(r, no_auth);
  CHECK(r.no_auth);
  CHECK(r.key.empty());
  CHECK(r.key_name.empty());

  RelaySettings creds;
  creds.key_name = "x";
  r = RelaySettings{};
  r.no_auth = true;
  merge_relay_settings(r, creds);
  CHECK_FALSE(r.no_auth);

  Config c;
  c.relay = base;
  CHECK(effective_relay(c, std::nullopt).key == "k1");
}

TEST_CASE("helpers: is_loopback_host, check_duration", "[validate]") {
  CHECK(is_loopback_host("localhost"));
  CHECK(is_loopback_host("LOCALHOST"));
  CHECK(is_loopback_host("app.localhost"));
  CHECK(is_loopback_host("127.0.0.1"));
  CHECK(is_loopback_host("127.1.2.3"));
  CHECK(is_loopback_host("::1"));
  CHECK(is_loopback_host("[::1]"));
  CHECK(is_loopback_host("::ffff:127.0.0.1"));
  CHECK_FALSE(is_loopback_host("128.0.0.1"));
  CHECK_FALSE(is_loopback_host("example.com"));
  CHECK_FALSE(is_loopback_host("::"));
  CHECK_FALSE(is_loopback_host("notlocalhost"));
  CHECK(check_duration("keepalive", 30).empty());
  CHECK(check_duration("idle_timeout", 0).empty());
  CHECK_FALSE(check_duration("grace_period", 0).empty());
  CHECK_FALSE(check_duration("unknown", 1).empty());
  CHECK(check_duration("http_answer_timeout", 75).empty());
  CHECK(check_duration("http_answer_timeout", 86400).empty());
  CHECK_FALSE(check_duration("http_answer_timeout", 0).empty());
  CHECK_FALSE(check_duration("http_answer_timeout", 86400.5).empty());
  CHECK(check_max_connections(1).empty());
  CHECK_FALSE(check_max_connections(1.5).empty());
}

TEST_CASE("validate: two remote forwards on one hybrid connection are refused", "[validate]") {
  Config c = minimal();
  c.remote_forwards.push_back(remote("dup", {target("a", 1)}));
  c.remote_forwards.push_back(remote("DUP", {target("b", 2)}));
  const std::string e = error_of(c);
  CHECK(contains(e, "is already forwarded by"));
  CHECK(contains(e, "give both targets in one forward"));
}

TEST_CASE("validate: a pre-issued token that is not a SAS token is refused without echoing it", "[validate]") {
  Config c = minimal();
  c.relay.key_name.clear();
  c.relay.key.clear();
  c.relay.sas = "S3cretNotAToken";
  const std::string e = error_of(c);
  CHECK(contains(e, "is not a SAS token"));
  CHECK_FALSE(contains(e, "S3cretNotAToken"));
}

TEST_CASE("local forward names: L:<hc>, or after the first binding when several local forwards share the HC") {
  bridge::Config c;
  const auto forward = [](std::string hc, std::string host, uint16_t port, std::string origin) {
    bridge::LocalForward f;
    f.hc = std::move(hc);
    f.bindings.push_back(testing::port_binding(std::move(host), port, "web"));
    f.origin = std::move(origin);
    return f;
  };
  c.local_forwards = {forward("a", "127.0.0.1", 8080, "1"), forward("b", "::1", 8081, "2"), forward("b", "127.0.0.1", 8082, "3")};
  CHECK(bridge::local_forward_name(c, c.local_forwards[0]) == "L:a");
  CHECK(bridge::local_forward_name(c, c.local_forwards[1]) == "L:b@[::1]:8081");
  CHECK(bridge::local_forward_name(c, c.local_forwards[2]) == "L:b@127.0.0.1:8082");
  // Ephemeral ports: the same first binding twice; the position tells them apart.
  c.local_forwards = {forward("a", "127.0.0.1", 0, "1"), forward("a", "127.0.0.1", 0, "2")};
  CHECK(bridge::local_forward_name(c, c.local_forwards[0]) == "L:a@127.0.0.1:0#1");
  CHECK(bridge::local_forward_name(c, c.local_forwards[1]) == "L:a@127.0.0.1:0#2");
}

TEST_CASE("validate: a Unix socket binding's owner and group must exist, its default name is the path", "[config]") {
  Config c;
  LocalForward f;
  f.hc = "web";
  LocalBinding b;
  b.protocol = Protocol::unix_socket;
  b.socket_path = "/tmp/hcb-validate-unix.sock";
  f.bindings.push_back(b);
  c.local_forwards.push_back(f);
  {
    Config ok = c;
    std::vector<std::string> warnings;
    REQUIRE(validate_config(ok, warnings).ok());
    CHECK(ok.local_forwards[0].bindings[0].port_name == "/tmp/hcb-validate-unix.sock");
  }
  c.local_forwards[0].bindings[0].socket_file.owner = "no-such-user-hcb";
  CHECK(contains(error_of(c), "socket owner: no user 'no-such-user-hcb' on this system"));
  c.local_forwards[0].bindings[0].socket_file.owner = "0";
  c.local_forwards[0].bindings[0].socket_file.group = "no-such-group-hcb";
  CHECK(contains(error_of(c), "socket group: no group 'no-such-group-hcb' on this system"));
}
