#include <catch2/catch.hpp>

#include "bridge/config_file.hpp"
#include "support/temp_file.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

using namespace bridge;
using testing::contains;
using testing::TempFile;

namespace {

const std::string kSecretKey = "c2VjcmV0S2V5VmFsdWVGb3JUZXN0czAxMjM0NTY3ODk=";
const std::string kSecretSas =
    "SharedAccessSignature sr=sb%3A%2F%2Fns%2Fhc&sig=U2VjcmV0U2lnbmF0dXJlVmFsdWU%3D&se=1999999999&skn=root";

// Parses and expects an error; checks it never contains a secret.
std::string error_of(const std::string& json) {
  auto r = parse_config_json(json, "hcbridge.json");
  REQUIRE_FALSE(r.ok());
  CHECK_FALSE(contains(r.error(), kSecretKey));
  CHECK_FALSE(contains(r.error(), "c2VjcmV0"));
  CHECK_FALSE(contains(r.error(), "U2VjcmV0"));
  return r.error();
}

Config parsed(const std::string& json) {
  auto r = parse_config_json(json, "hcbridge.json");
  INFO((r.ok() ? std::string() : r.error()));
  REQUIRE(r.ok());
  return r.value();
}

const std::string kFull = R"json(// A full example, with every key.
{
  /* the relay */
  "relay": {
    "endpoint": "sb://contoso.servicebus.windows.net/",
    "key_name": "RootManageSharedAccessKey",
    "key_file": "/etc/hcbridge/key",
    "ca_file": "/etc/ssl/certs/ca-certificates.crt",
    "no_auth": false,
  },
  "local_forward": [
    { "hc": "web", "bind": "127.0.0.1:8080" },
    { "hc": "db", "bind": ["127.0.0.1:1433/sql", "[::1]:1433/sql"], "max_connections": 10, "idle_timeout": 300 },
    { "hc": "multi", "bindings": [ { "address": "0.0.0.0", "port": 9000, "port_name": "nine" }, { "port": 9001 } ],
      "raw": false, "relay": { "endpoint": "wss://relay.example.com:8443/", "sas": "x" } },
    { "hc": "rawfwd", "bind": "2222", "raw": true },
  ],
  "remote_forward": [
    { "hc": "web", "target": "localhost:80" },
    { "hc": "db", "targets": [ { "port_name": "sql", "host": "db.internal", "port": 1433 }, { "port": 9100 } ],
      "relay": { "connection_string": "Endpoint=sb://other.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=abc=;EntityPath=db" } },
    { "hc": "named", "target": "8080", "port_name": "http" },
  ],
  "token_ttl": 7200, "keepalive": 15, "connect_timeout": 5.5, "preamble_timeout": 10,
  "backoff_initial": 0.5, "backoff_max": 60, "grace_period": 3, "idle_timeout": 0, "max_connections": 512,
  "log": { "level": "debug", "format": "json" },
  "admin": { "bind": "127.0.0.1:9090" }
}
)json";

}  // namespace

TEST_CASE("config file: a full example with comments and trailing commas", "[config_file]") {
  const Config c = parsed(kFull);
  CHECK(c.relay.endpoint == "sb://contoso.servicebus.windows.net/");
  CHECK(c.relay.key_name == "RootManageSharedAccessKey");
  CHECK(c.relay.key_file == "/etc/hcbridge/key");
  CHECK(c.relay.ca_file == "/etc/ssl/certs/ca-certificates.crt");
  CHECK_FALSE(c.relay.no_auth);

  REQUIRE(c.local_forwards.size() == 4);
  CHECK(c.local_forwards[0].hc == "web");
  REQUIRE(c.local_forwards[0].bindings.size() == 1);
  CHECK(c.local_forwards[0].bindings[0].bind_host == "127.0.0.1");
  CHECK(c.local_forwards[0].bindings[0].port == 8080);
  CHECK(c.local_forwards[0].bindings[0].port_name == "8080");
  CHECK(c.local_forwards[0].origin == "hcbridge.json:12: local_forward[0]");
  REQUIRE(c.local_forwards[1].bindings.size() == 2);
  CHECK(c.local_forwards[1].bindings[1].bind_host == "::1");
  CHECK(c.local_forwards[1].bindings[1].port_name == "sql");
  CHECK(c.local_forwards[1].max_connections == std::optional<std::size_t>(10));
  REQUIRE(c.local_forwards[1].idle_timeout.has_value());
  CHECK(c.local_forwards[1].idle_timeout->count() == 300);
  const auto& multi = c.local_forwards[2];
  REQUIRE(multi.bindings.size() == 2);
  CHECK(multi.bindings[0].bind_host == "0.0.0.0");
  CHECK(multi.bindings[0].port_name == "nine");
  CHECK(multi.bindings[1].bind_host == "127.0.0.1");
  CHECK(multi.bindings[1].port_name == "9001");
  REQUIRE(multi.relay.has_value());
  CHECK(multi.relay->endpoint == "wss://relay.example.com:8443/");
  CHECK(multi.relay->sas == "x");
  CHECK(c.local_forwards[3].raw);
  CHECK(c.local_forwards[3].bindings[0].port == 2222);

  REQUIRE(c.remote_forwards.size() == 3);
  CHECK(c.remote_forwards[0].targets[0].host == "localhost");
  CHECK(c.remote_forwards[0].targets[0].port == 80);
  const auto& db = c.remote_forwards[1];
  REQUIRE(db.targets.size() == 2);
  CHECK(db.targets[0].port_name == "sql");
  CHECK(db.targets[0].host == "db.internal");
  CHECK(db.targets[1].host == "localhost");
  CHECK(db.targets[1].port_name == "9100");
  REQUIRE(db.relay.has_value());
  CHECK(db.relay->endpoint == "sb://other.servicebus.windows.net/");
  CHECK(db.relay->key_name == "listen");
  CHECK(db.relay->key == "abc=");
  CHECK(db.relay->entity_path == "db");
  CHECK(c.remote_forwards[2].targets[0].port_name == "http");
  CHECK(c.remote_forwards[2].targets[0].port == 8080);

  CHECK(c.token_ttl.count() == 7200);
  CHECK(c.keepalive.count() == 15);
  CHECK(c.connect_timeout.count() == 5.5);
  CHECK(c.preamble_timeout.count() == 10);
  CHECK(c.backoff_initial.count() == 0.5);
  CHECK(c.backoff_max.count() == 60);
  CHECK(c.grace_period.count() == 3);
  CHECK(c.idle_timeout.count() == 0);
  CHECK(c.max_connections == 512);
  CHECK(c.log_level == "debug");
  CHECK(c.log_format == "json");
  CHECK(c.admin_bind == "127.0.0.1:9090");
}

TEST_CASE("config file: defaults for an empty object", "[config_file]") {
  const Config c = parsed("{}");
  const Config d;
  CHECK(c.relay.endpoint.empty());
  CHECK(c.local_forwards.empty());
  CHECK(c.remote_forwards.empty());
  CHECK(c.token_ttl == d.token_ttl);
  CHECK(c.keepalive == d.keepalive);
  CHECK(c.max_connections == d.max_connections);
  CHECK(c.log_level == "info");
  CHECK(parsed("\xEF\xBB\xBF{}\n").local_forwards.empty());                                      // UTF-8 BOM
  CHECK(parsed("{ \"relay\": { \"endpoint\": \"\", \"key\": \"\" } }").relay.endpoint.empty());  // "" = unset
}

TEST_CASE("config file: syntax errors carry the line and rapidjson's text", "[config_file]") {
  const std::string e = error_of("{\n  \"token_ttl\": 60\n  \"keepalive\": 5\n}");
  CHECK(contains(e, "hcbridge.json:3: "));
  CHECK(contains(e, "JSON syntax error"));
  CHECK(contains(e, "Missing a comma or '}' after an object member."));
  CHECK(contains(error_of(""), "hcbridge.json:1: JSON syntax error: The document is empty."));
  CHECK(contains(error_of("{}\n{}"), "hcbridge.json:2:"));
  CHECK(contains(error_of("{\n\n  \"a\": tru\n}"), "hcbridge.json:3:"));
  CHECK(contains(error_of("{ /* unterminated comment"), "JSON syntax error"));
  CHECK(contains(error_of("{\"relay\": {\"key\": \"" + kSecretKey), "Missing a closing quotation mark"));
  CHECK(contains(error_of(std::string("{}\0", 3)), "NUL byte"));
  CHECK(contains(error_of("{\"a\": \"\xff\"}"), "Invalid encoding"));
  CHECK(contains(error_of(std::string(100, '[') + std::string(100, ']')), "nested too deeply"));
  CHECK(contains(error_of("{\n\"keepalive\": 5,\n\"keepalive\": 6}"), "hcbridge.json:3: duplicate key 'keepalive'"));
}

TEST_CASE("config file: the top level must be an object", "[config_file]") {
  CHECK(contains(error_of("[]"), "expected a JSON object at the top level, got an array"));
  CHECK(contains(error_of("42"), "got a number"));
  CHECK(contains(error_of("null"), "got null"));
}

TEST_CASE("config file: unknown keys at every level name the key, its path and line", "[config_file]") {
  CHECK(error_of("{\n \"tokn_ttl\": 60\n}") ==
        "hcbridge.json:2: unknown top-level key 'tokn_ttl' (did you mean 'token_ttl'?)");
  CHECK(error_of("{ \"relay\": {\n\n \"endpiont\": \"sb://x/\" } }") ==
        "hcbridge.json:3: relay: unknown key 'endpiont' (did you mean 'endpoint'?)");
  CHECK(error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bind\": \"1\", \"colour\": 1 } ] }") ==
        "hcbridge.json:1: local_forward[0]: unknown key 'colour'");
  CHECK(
      error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bindings\": [ { \"port\": 1, \"adress\": \"x\" } ] } ] }") ==
      "hcbridge.json:1: local_forward[0].bindings[0]: unknown key 'adress' (did you mean 'address'?)");
  CHECK(error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bind\": \"1\", \"relay\": { \"kee\": \"x\" } } ] }") ==
        "hcbridge.json:1: local_forward[0].relay: unknown key 'kee' (did you mean 'key'?)");
  const std::string remote = R"({
  "remote_forward": [
    { "hc": "x",
      "targets": [
        { "port": 80 },
        { "port": 81,
          "prot": 3 }
      ]
    }
  ]
})";
  CHECK(error_of(remote) == "hcbridge.json:7: remote_forward[0].targets[1]: unknown key 'prot' (did you mean 'port'?)");
  CHECK(error_of("{ \"log\": { \"lvl\": \"info\" } }") ==
        "hcbridge.json:1: log: unknown key 'lvl' (did you mean 'level'?)");
  CHECK(error_of("{ \"admin\": { \"port\": 1 } }") == "hcbridge.json:1: admin: unknown key 'port'");
  // A key that looks like a secret is not echoed.
  const std::string hidden = error_of("{ \"" + kSecretKey + "\": 1 }");
  CHECK(contains(hidden, "not shown"));
}

TEST_CASE("config file: wrong types name the path and line", "[config_file]") {
  CHECK(error_of("{\n\"relay\": {\n\"endpoint\": 7 } }") ==
        "hcbridge.json:3: relay.endpoint: expected a string, got a number");
  CHECK(contains(error_of("{ \"relay\": [] }"), "relay: expected an object, got an array"));
  CHECK(
      contains(error_of("{ \"relay\": { \"no_auth\": \"yes\" } }"), "relay.no_auth: expected a boolean, got a string"));
  CHECK(contains(error_of("{ \"relay\": { \"key\": 12345 } }"), "relay.key: expected a string, got a number"));
  CHECK(contains(error_of("{ \"local_forward\": {} }"), "local_forward: expected an array, got an object"));
  CHECK(contains(error_of("{ \"remote_forward\": [ 1 ] }"), "remote_forward[0]: expected an object, got a number"));
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": 1, \"bind\": \"1\" } ] }"),
                 "local_forward[0].hc: expected a string"));
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bind\": 8080 } ] }"),
                 "local_forward[0].bind: expected a string or an array of strings, got a number"));
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bind\": [\"1\", 2] } ] }"),
                 "local_forward[0].bind[1]: expected a string"));
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bindings\": [ { \"port\": \"80\" } ] } ] }"),
                 "local_forward[0].bindings[0].port: expected a number, got a string"));
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bind\": \"1\", \"raw\": 1 } ] }"),
                 "local_forward[0].raw: expected a boolean"));
  CHECK(contains(error_of("{ \"keepalive\": \"30\" }"), "keepalive: expected a number, got a string"));
  CHECK(contains(error_of("{ \"max_connections\": 10.5 }"), "max_connections: expected an integer"));
  CHECK(contains(error_of("{ \"log\": { \"level\": null } }"), "log.level: expected a string, got null"));
  CHECK(contains(error_of("{ \"log\": \"debug\" }"), "log: expected an object"));
  CHECK(contains(error_of("{ \"relay\": { \"ca_file\": \"a\\u0000b\" } }"), "relay.ca_file: must not contain a NUL"));
}

TEST_CASE("config file: out-of-range values name the key", "[config_file]") {
  CHECK(error_of("{\n\"keepalive\": 0 }") == "hcbridge.json:2: keepalive: must be between 1 and 3600 seconds (got 0)");
  CHECK(contains(error_of("{ \"keepalive\": 3601 }"), "keepalive: must be between 1 and 3600"));
  CHECK(contains(error_of("{ \"token_ttl\": 9 }"), "token_ttl: must be between 10 and 2592000"));
  CHECK(contains(error_of("{ \"token_ttl\": 2592001 }"), "token_ttl"));
  CHECK(contains(error_of("{ \"connect_timeout\": 0 }"), "connect_timeout: must be more than 0"));
  CHECK(contains(error_of("{ \"connect_timeout\": -1 }"), "connect_timeout"));
  CHECK(contains(error_of("{ \"preamble_timeout\": 0 }"), "preamble_timeout"));
  CHECK(contains(error_of("{ \"grace_period\": 0 }"), "grace_period"));
  CHECK(contains(error_of("{ \"backoff_initial\": 0 }"), "backoff_initial"));
  CHECK(contains(error_of("{ \"backoff_max\": 1e9 }"), "backoff_max"));
  CHECK(contains(error_of("{ \"idle_timeout\": -1 }"), "idle_timeout: must be between 0 and"));
  CHECK(contains(error_of("{ \"backoff_initial\": 10, \"backoff_max\": 5 }"), "must not exceed backoff_max"));
  CHECK(contains(error_of("{ \"max_connections\": 0 }"), "max_connections: must be between 1 and 1000000"));
  CHECK(contains(error_of("{ \"max_connections\": 1e30 }"), "max_connections"));
  CHECK(contains(error_of("{ \"max_connections\": 18446744073709551615 }"), "max_connections: must be between"));
  CHECK(contains(error_of("{ \"log\": { \"level\": \"loud\" } }"), "log.level: unknown level 'loud'"));
  CHECK(contains(error_of("{ \"log\": { \"format\": \"xml\" } }"),
                 "log.format: unknown format 'xml' (expected text or json)"));
  CHECK(contains(error_of("{ \"admin\": { \"bind\": \"9090\" } }"), "admin.bind:"));
  CHECK(contains(error_of("{ \"admin\": { \"bind\": \"127.0.0.1:0\" } }"), "admin.bind:"));
  const std::string fwd = "{ \"local_forward\": [ { \"hc\": \"a\", \"bind\": \"1\", ";
  CHECK(
      contains(error_of(fwd + "\"max_connections\": 0 } ] }"), "local_forward[0].max_connections: must be between 1"));
  CHECK(contains(error_of(fwd + "\"idle_timeout\": -5 } ] }"), "local_forward[0].idle_timeout: must be between 0"));
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bindings\": [ { \"port\": 70000 } ] } ] }"),
                 "local_forward[0].bindings[0].port: must be between 1 and 65535 (got 70000)"));
  CHECK(contains(error_of("{ \"remote_forward\": [ { \"hc\": \"a\", \"targets\": [ { \"port\": 0 } ] } ] }"),
                 "remote_forward[0].targets[0].port: must be between 1 and 65535"));
}

TEST_CASE("config file: forwards need hc and bindings/targets", "[config_file]") {
  CHECK(error_of("{ \"local_forward\": [\n { \"bind\": \"8080\" } ] }") ==
        "hcbridge.json:2: local_forward[0]: missing required key 'hc' (the hybrid connection name)");
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": \"a\" } ] }"), "local_forward[0]: missing 'bind'"));
  CHECK(contains(error_of("{ \"remote_forward\": [ { \"hc\": \"a\" } ] }"), "remote_forward[0]: missing 'target'"));
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bind\": \"1\", \"bindings\": [] } ] }"),
                 "local_forward[0].bindings: give either bind or bindings, not both"));
  CHECK(contains(error_of("{ \"remote_forward\": [ { \"hc\": \"a\", \"target\": \"1\", \"targets\": [] } ] }"),
                 "give either target or targets"));
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bindings\": [] } ] }"),
                 "must not be an empty array"));
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bind\": [] } ] }"), "must not be an empty array"));
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bindings\": [ {} ] } ] }"),
                 "local_forward[0].bindings[0]: missing required key 'port'"));
  CHECK(contains(error_of("{ \"remote_forward\": [ { \"hc\": \"a\", \"targets\": [ { \"host\": \"x\" } ] } ] }"),
                 "remote_forward[0].targets[0]: missing required key 'port'"));
}

TEST_CASE("config file: bad names, bindings and targets", "[config_file]") {
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": \"a b\", \"bind\": \"1\" } ] }"),
                 "local_forward[0].hc: hybrid connection name 'a b' is invalid"));
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": \"\", \"bind\": \"1\" } ] }"), "it is empty"));
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bind\": \"70000U\" } ] }"),
                 "UDP port '70000' is out of range"));
  CHECK(contains(error_of("{ \"remote_forward\": [ { \"hc\": \"a\", \"targets\": [ { \"port\": -53 } ] } ] }"),
                 "remote_forward[0].targets[0].port: negative port numbers (azbridge's way of writing UDP) are not "
                 "accepted; write \"port\": 53, \"protocol\": \"udp\""));
  CHECK(contains(error_of("{ \"remote_forward\": [ { \"hc\": \"a\", \"targets\": [ { \"port\": 53, \"protocol\": \"sctp\" } ] } ] }"),
                 "remote_forward[0].targets[0].protocol: 'sctp' is not a protocol (expected \"tcp\", \"udp\" or \"unix\")"));
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bind\": [\"1\", \"x:y\"] } ] }"),
                 "local_forward[0].bind[1]: 'x:y': 'y' is not a port number"));
  CHECK(contains(
      error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bindings\": [ { \"port\": 1, \"address\": \"a b\" } ] } ] }"),
      "local_forward[0].bindings[0].address: 'a b' is not a valid host name"));
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bind\": \"1\", \"port_name\": \"\" } ] }"),
                 "local_forward[0].port_name: port name '' is invalid"));
  CHECK(contains(error_of("{ \"remote_forward\": [ { \"hc\": \"a\", \"target\": \"/tmp/sock\" } ] }"),
                 "a Unix socket is written unix:PATH"));
  CHECK(contains(
      error_of(
          "{ \"remote_forward\": [ { \"hc\": \"a\", \"targets\": [ { \"port\": 1, \"port_name\": \"a b\" } ] } ] }"),
      "remote_forward[0].targets[0].port_name: port name 'a b' is invalid"));
}

TEST_CASE("config file: bind/target forms and the forward-level port_name", "[config_file]") {
  const Config c = parsed(R"({
    "local_forward": [
      { "hc": "a", "bind": ["8080", "*:8081", "[::1]:8082/own"], "port_name": "web" },
      { "hc": "b", "bindings": [ { "address": "[::1]", "port": 1 }, { "address": "*", "port": 2 } ] }
    ],
    "remote_forward": [
      { "hc": "a", "target": ["web/localhost:80", "[::1]:81"], "port_name": "dflt" }
    ]
  })");
  const auto& a = c.local_forwards[0].bindings;
  CHECK(a[0].port_name == "web");
  CHECK(a[1].bind_host == "0.0.0.0");
  CHECK(a[1].port_name == "web");
  CHECK(a[2].port_name == "own");
  CHECK(c.local_forwards[1].bindings[0].bind_host == "::1");
  CHECK(c.local_forwards[1].bindings[1].bind_host == "0.0.0.0");
  const auto& t = c.remote_forwards[0].targets;
  CHECK(t[0].port_name == "web");
  CHECK(t[1].host == "::1");
  CHECK(t[1].port_name == "dflt");
}

TEST_CASE("config file: relay objects, connection strings and conflicts", "[config_file]") {
  const Config c = parsed(
      "{ \"relay\": { \"connection_string\": \"Endpoint=sb://ns.servicebus.windows.net/;"
      "SharedAccessKeyName=root;SharedAccessKey=" +
      kSecretKey + "\", \"endpoint\": \"wss://override:443/\" } }");
  CHECK(c.relay.endpoint == "wss://override:443/");  // the object's own fields beat its connection string
  CHECK(c.relay.key_name == "root");
  CHECK(c.relay.key == kSecretKey);

  const Config sas = parsed(
      "{ \"relay\": { \"connection_string\": \"Endpoint=sb://ns/;SharedAccessKeyName=root;"
      "SharedAccessKey=" +
      kSecretKey + "\", \"sas\": \"" + kSecretSas + "\" } }");
  CHECK(sas.relay.sas == kSecretSas);  // a sas replaces the connection string's key
  CHECK(sas.relay.key.empty());
  CHECK(sas.relay.key_name.empty());

  // Errors inside connection strings never echo the key.
  const std::string bad_cs =
      error_of("{ \"relay\": {\n \"connection_string\": \"Endpoint=sb://ns/;SharedAccessKey=" + kSecretKey + "\" } }");
  CHECK(contains(bad_cs, "hcbridge.json:2: relay.connection_string: connection string has SharedAccessKey but no"));
  CHECK(contains(error_of("{ \"relay\": { \"connection_string\": \"" + kSecretKey + "\" } }"),
                 "relay.connection_string"));
  CHECK(contains(
      error_of("{ \"relay\": { \"connection_string\": \"Endpoint=https://x/;SharedAccessKeyName=a;SharedAccessKey=" +
               kSecretKey + "\" } }"),
      "scheme"));
  CHECK(contains(error_of("{ \"relay\": { \"key\": \"" + kSecretKey + "\", \"key_file\": \"/k\" } }"),
                 "relay.key_file: give either key or key_file, not both"));
  CHECK(contains(error_of("{ \"relay\": { \"key_name\": \"r\", \"key\": \"" + kSecretKey + "\", \"sas\": \"" +
                          kSecretSas + "\" } }"),
                 "relay.sas: a pre-issued sas cannot be combined"));
  CHECK(contains(error_of("{ \"relay\": { \"key_name\": \"r\", \"key\": \"" + kSecretKey + "\", \"no_auth\": true } }"),
                 "relay.no_auth: no_auth cannot be combined with credentials"));
  CHECK(contains(error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bind\": \"1\", \"relay\": { \"sas\": \"" +
                          kSecretSas + "\", \"key\": \"" + kSecretKey + "\" } } ] }"),
                 "local_forward[0].relay.sas"));
}

TEST_CASE("config file: no error ever contains a secret value", "[config_file]") {
  // Secrets in every position where a type or value error can be reported.
  const std::string cases[] = {
      "{ \"relay\": { \"key\": [\"" + kSecretKey + "\"] } }",
      "{ \"relay\": { \"sas\": {\"a\": \"" + kSecretSas + "\"} } }",
      "{ \"relay\": { \"endpoint\": \"" + kSecretKey + "\", \"key\": 1 } }",
      "{ \"relay\": { \"key\": \"" + kSecretKey + "\" }, \"relay\": {} }",
      "{ \"relay\": { \"key\": \"" + kSecretKey + "\" }, \"bogus\": 1 }",
      "{ \"relay\": { \"key\": \"" + kSecretKey + "\"\n\"key_name\": \"x\" } }",
      "{ \"relay\": { \"connection_string\": \"Endpoint=sb://ns/;SharedAccessKeyName=r;SharedAccessKey=" + kSecretKey +
          ";SharedAccessSignature=" + kSecretSas + "\" } }",
      "{ \"relay\": { \"connection_string\": \"Endpoint=sb://ns/;" + kSecretKey + "\" } }",
  };
  for (const auto& json : cases) {
    auto r = parse_config_json(json, "f.json");
    if (r.ok()) continue;
    INFO(r.error());
    CHECK_FALSE(contains(r.error(), kSecretKey));
    CHECK_FALSE(contains(r.error(), "c2VjcmV0S2V5"));
    CHECK_FALSE(contains(r.error(), "U2VjcmV0U2lnbmF0dXJl"));
  }
}

TEST_CASE("load_config_file: missing, directory, relative paths", "[config_file]") {
  auto missing = load_config_file("/nonexistent/dir/hcbridge.json");
  REQUIRE_FALSE(missing.ok());
  CHECK(contains(missing.error(), "cannot read config file '/nonexistent/dir/hcbridge.json'"));
  CHECK(contains(missing.error(), "No such file"));
  auto dir = load_config_file("/tmp");
  REQUIRE_FALSE(dir.ok());
  CHECK(contains(dir.error(), "is a directory"));
  CHECK_FALSE(load_config_file("").ok());

  TempFile f(R"({ "relay": { "key_file": "key.txt", "ca_file": "/abs/ca.pem" },
                  "remote_forward": [ { "hc": "a", "target": "80", "relay": { "key_file": "sub/k" } } ] })");
  auto c = load_config_file(f.path);
  REQUIRE(c.ok());
  CHECK(c->source_file == f.path);
  CHECK(c->relay.key_file == "/tmp/key.txt");
  CHECK(c->relay.ca_file == "/abs/ca.pem");
  CHECK(c->remote_forwards[0].relay->key_file == "/tmp/sub/k");

  TempFile bad("{\n\n  \"keepalive\": 0\n}");
  auto e = load_config_file(bad.path);
  REQUIRE_FALSE(e.ok());
  CHECK(e.error() == bad.path + ":3: keepalive: must be between 1 and 3600 seconds (got 0)");
}

TEST_CASE("config file: the shipped example parses and uses every key", "[config_file]") {
  // A missing example is a failure, not a skip: this test must not pass without testing anything.
  const std::string path = std::string(HCB_SOURCE_DIR) + "/config/hcbridge.example.json";
  std::ifstream in(path);
  INFO("example at " << path);
  REQUIRE(in.good());
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto c = parse_config_json(text, "hcbridge.example.json");
  INFO((c.ok() ? std::string() : c.error()));
  REQUIRE(c.ok());
  for (const char* key : {"\"relay\"",
                          "\"endpoint\"",
                          "\"connection_string\"",
                          "\"key_name\"",
                          "\"key\"",
                          "\"key_file\"",
                          "\"sas\"",
                          "\"ca_file\"",
                          "\"no_auth\"",
                          "\"local_forward\"",
                          "\"hc\"",
                          "\"bind\"",
                          "\"bindings\"",
                          "\"address\"",
                          "\"port\"",
                          "\"port_name\"",
                          "\"raw\"",
                          "\"max_connections\"",
                          "\"idle_timeout\"",
                          "\"remote_forward\"",
                          "\"target\"",
                          "\"targets\"",
                          "\"host\"",
                          "\"token_ttl\"",
                          "\"keepalive\"",
                          "\"connect_timeout\"",
                          "\"preamble_timeout\"",
                          "\"backoff_initial\"",
                          "\"backoff_max\"",
                          "\"grace_period\"",
                          "\"log\"",
                          "\"level\"",
                          "\"format\"",
                          "\"admin\""})
    CHECK(contains(text, key));
  CHECK(c->local_forwards.size() == 4);
  CHECK(c->remote_forwards.size() == 3);
  CHECK(c->local_forwards[2].relay->entity_path == "partner");
  CHECK(c->admin_bind == "127.0.0.1:9090");
}

TEST_CASE("config: a file ending inside a UTF-8 sequence is an error, not an overread (fuzz finding)", "[config]") {
  const std::string text("{\"relay\":{\"key_name\":\"\xf0", 23);
  auto r = bridge::parse_config_json(text, "f.json");
  CHECK_FALSE(r.ok());
}

TEST_CASE("config file: UDP as a 'U' suffix or a protocol key, with azbridge's default port names", "[config_file]") {
  const Config c = parsed(R"json({
    "local_forward": [ { "hc": "dns", "bind": ["5353U", "127.0.0.1:5354u/named"] },
                       { "hc": "dns2", "bindings": [ { "address": "::1", "port": 5355, "protocol": "udp" } ] } ],
    "remote_forward": [ { "hc": "dns", "targets": [ { "port": 53, "protocol": "udp" },
                                                    { "port_name": "web", "port": 80, "protocol": "tcp" } ] } ]
  })json");
  REQUIRE(c.local_forwards.size() == 2);
  CHECK(c.local_forwards[0].bindings[0].protocol == Protocol::udp);
  CHECK(c.local_forwards[0].bindings[0].port_name == "5353U");
  CHECK(c.local_forwards[0].bindings[1].port_name == "named");
  CHECK(c.local_forwards[1].bindings[0].protocol == Protocol::udp);
  CHECK(c.local_forwards[1].bindings[0].port_name == "5355U");
  CHECK(c.remote_forwards[0].targets[0].protocol == Protocol::udp);
  CHECK(c.remote_forwards[0].targets[0].port_name == "53U");
  CHECK(c.remote_forwards[0].targets[1].protocol == Protocol::tcp);
  Config raw = parsed(R"json({ "local_forward": [ { "hc": "a", "raw": true, "bind": "5353U" } ] })json");
  std::vector<std::string> warnings;
  auto checked = validate_config(raw, warnings);
  REQUIRE_FALSE(checked.ok());
  CHECK(contains(checked.error(), "raw forward carries TCP only"));
}

TEST_CASE("config file: Unix sockets as protocol unix with path, mode, owner and group, or unix:PATH texts", "[config_file]") {
  const Config c = parsed(R"({
    "local_forward": [
      { "hc": "a", "bindings": [ { "protocol": "unix", "path": "/run/app/in.sock" },
                                 { "protocol": "unix", "path": "/run/app/own.sock", "mode": "0600", "owner": "app",
                                   "group": "app", "port_name": "web" } ] },
      { "hc": "b", "bind": ["unix:/run/b.sock", "named/unix:/run/c.sock"], "port_name": "dflt" }
    ],
    "remote_forward": [
      { "hc": "a", "targets": [ { "protocol": "unix", "path": "/run/pg/.s.PGSQL.5432", "port_name": "pg" },
                                { "protocol": "unix", "path": "/run/docker.sock" } ] },
      { "hc": "b", "target": "api/unix:/run/api.sock" }
    ]
  })");
  const auto& a = c.local_forwards[0].bindings;
  CHECK(a[0].protocol == Protocol::unix_socket);
  CHECK(a[0].socket_path == "/run/app/in.sock");
  CHECK(a[0].port_name == "/run/app/in.sock");  // azbridge's default: the socket text
  CHECK(a[0].socket_file.mode == 0660);
  CHECK(a[1].socket_file.mode == 0600);
  CHECK(a[1].socket_file.owner == "app");
  CHECK(a[1].socket_file.group == "app");
  CHECK(a[1].port_name == "web");
  const auto& b = c.local_forwards[1].bindings;
  CHECK(b[0].port_name == "dflt");  // the forward's port_name applies to a text without its own
  CHECK(b[1].port_name == "named");
  const auto& t = c.remote_forwards[0].targets;
  CHECK(t[0].socket_path == "/run/pg/.s.PGSQL.5432");
  CHECK(t[0].port_name == "pg");
  CHECK(t[1].port_name == "/run/docker.sock");
  CHECK(c.remote_forwards[1].targets[0].socket_path == "/run/api.sock");
}

TEST_CASE("config file: Unix socket mistakes name the key", "[config_file]") {
  const auto local = [](const std::string& binding) {
    return error_of("{ \"local_forward\": [ { \"hc\": \"a\", \"bindings\": [ " + binding + " ] } ] }");
  };
  CHECK(contains(local(R"({ "protocol": "unix" })"), "bindings[0]: missing required key 'path'"));
  CHECK(contains(local(R"({ "protocol": "unix", "path": "/a.sock", "port": 80 })"),
                 "bindings[0].port: 'port' does not apply to a Unix socket"));
  CHECK(contains(local(R"({ "port": 80, "path": "/a.sock" })"), "bindings[0].path: 'path' does not apply to a TCP or UDP port"));
  CHECK(contains(local(R"({ "port": 80, "mode": "0600" })"), "'mode' does not apply"));
  CHECK(contains(local(R"({ "protocol": "unix", "path": "/a.sock", "mode": "0999" })"),
                 "bindings[0].mode: '0999' is not a file mode (expected octal permissions as a string, e.g. \"0660\")"));
  CHECK(contains(local(R"({ "protocol": "unix", "path": "/a.sock", "mode": 660 })"), "bindings[0].mode"));
  CHECK(contains(local(R"({ "protocol": "unix", "path": "/a.sock", "mode": "01777" })"), "is not a file mode"));
  CHECK(contains(local(R"({ "protocol": "unix", "path": "" })"), "bindings[0].path: empty Unix socket path"));
  CHECK(contains(local(R"({ "protocol": "unix", "path": "/a\u0000b" })"), "path: must not contain a NUL character"));
  CHECK(contains(local(R"({ "protocol": "unix", "path": "/)" + std::string(110, 'x') + R"(" })"), "at most 107"));
  CHECK(contains(error_of(R"({ "remote_forward": [ { "hc": "a", "targets": [ { "protocol": "unix", "path": "/a", "host": "x" } ] } ] })"),
                 "targets[0].host: 'host' does not apply to a Unix socket"));
  CHECK(contains(error_of(R"({ "remote_forward": [ { "hc": "a", "targets": [ { "protocol": "unix", "path": "/a", "mode": "0600" } ] } ] })"),
                 "unknown key"));
}
