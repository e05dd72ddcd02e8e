#include <catch2/catch.hpp>

#include "bridge/cli.hpp"
#include "bridge/config_file.hpp"
#include "support/temp_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace bridge;
using testing::contains;
using testing::TempFile;

namespace {

const std::string kFileKey = "RmlsZUtleVNlY3JldFZhbHVlMDEyMzQ1Njc4OWFiY2Q=";
const std::string kCsKey = "Q29ublN0cmluZ0tleVNlY3JldFZhbHVlMDEyMzQ1Njc=";
const std::string kFlagKey = "RmxhZ0tleVNlY3JldFZhbHVlMDEyMzQ1Njc4OWFiY2Q=";
const std::string kSas = "SharedAccessSignature sr=sb%3A%2F%2Fns&sig=U2FzU2lnbmF0dXJlU2VjcmV0%3D&se=1999999999&skn=r";
const std::vector<std::string> kSecrets = {kFileKey, kCsKey, kFlagKey, kSas, "U2FzU2lnbmF0dXJlU2VjcmV0"};

void check_no_secrets(const CliOutcome& o) {
  for (const auto& s : kSecrets) {
    CHECK_FALSE(contains(o.out, s));
    CHECK_FALSE(contains(o.err, s));
    for (const auto& w : o.warnings) CHECK_FALSE(contains(w, s));
  }
}

CliOutcome run(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {}) {
  CliOutcome o = parse_command_line(args, env);
  check_no_secrets(o);
  return o;
}

CliOutcome run_ok(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {}) {
  CliOutcome o = run(args, env);
  INFO(o.err);
  REQUIRE(o.exit_code == 0);
  REQUIRE(o.action != CliAction::exit);
  return o;
}

CliOutcome run_fail(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {}) {
  CliOutcome o = run(args, env);
  CHECK(o.action == CliAction::exit);
  CHECK(o.exit_code == 2);
  CHECK(contains(o.err, "hcbridge: "));
  CHECK(o.out.empty());
  return o;
}

std::string cs(const std::string& host, const std::string& name, const std::string& key) {
  return "Endpoint=sb://" + host + "/;SharedAccessKeyName=" + name + ";SharedAccessKey=" + key;
}

std::string file_config() {
  return R"({
    // from the file
    "relay": { "endpoint": "sb://file.servicebus.windows.net/", "key_name": "filerule", "key": ")" +
         kFileKey + R"(" },
    "local_forward": [ { "hc": "fromfile", "bind": "127.0.0.1:7000" } ],
    "keepalive": 11,
    "log": { "level": "warn" }
  })";
}

}  // namespace

TEST_CASE("cli: --help and --version exit 0 with text on stdout", "[cli]") {
  for (const char* flag : {"--help", "-h"}) {
    CliOutcome o = run({flag});
    CHECK(o.action == CliAction::exit);
    CHECK(o.exit_code == 0);
    CHECK(contains(o.out, "Usage: hcbridge"));
    CHECK(contains(o.out, "-L"));
    CHECK(contains(o.out, "HCBRIDGE_CONNECTION_STRING"));
    CHECK(o.err.empty());
  }
  CliOutcome v = run({"--version"});
  CHECK(v.action == CliAction::exit);
  CHECK(v.exit_code == 0);
  CHECK(contains(v.out, version_string()));
  CHECK(version_string().rfind("hcbridge ", 0) == 0);
  CHECK(run({"check-config", "--help"}).exit_code == 0);
}

// Each "e.g." line of --help lists forwards (-L/-T/-R/-H, quoted when they hold ';') that a user may copy: every one
// must parse.
TEST_CASE("cli: every example forward in --help is accepted", "[cli]") {
  const std::string help = run({"--help"}).out;
  std::size_t examples = 0;
  for (std::size_t at = help.find("e.g. "); at != std::string::npos; at = help.find("e.g. ", at + 1)) {
    std::istringstream line(help.substr(at + 5, help.find('\n', at) - at - 5));
    std::string flag, expr;
    while (line >> flag >> expr) {
      if (expr.size() > 1 && expr.front() == '"') expr = expr.substr(1, expr.size() - 2);
      CliOutcome o = run({"-K", "k", "-k", "a2V5", flag, expr});
      INFO(flag << " " << expr << ": " << o.err);
      // A socket path is checked against this machine: its directory (/run/app) need not exist here.
      const bool missing_directory = contains(expr, "unix:") && contains(o.err, "does not exist");
      CHECK((o.exit_code == 0 || missing_directory));
      ++examples;
    }
  }
  CHECK(examples >= 12);
}

TEST_CASE("cli: usage errors exit 2 with a hint", "[cli]") {
  CliOutcome unknown = run_fail({"--bogus", "-L", "8080:web"});
  CHECK(contains(unknown.err, "unknown option '--bogus'"));
  CHECK(contains(unknown.err, "Run 'hcbridge --help' for usage."));
  CHECK(contains(run_fail({"-L"}).err, "-L"));  // missing value
  CHECK(contains(run_fail({"-L", "8080:web", "-e"}).err, "--endpoint"));
  CHECK(contains(run_fail({"check-confg", "-L", "8080:web"}).err, "unknown command or argument 'check-confg'"));
  CHECK(contains(run_fail({"-L", "8080:a", "9090:b"}).err, "unexpected argument '9090:b'"));
  CHECK(contains(run_fail({"-K", "r", "-k", "x", "-k", "y", "-L", "1:a"}).err, "--key"));
  CHECK(contains(run_fail({"-e", "", "-L", "1:a"}).err, "--endpoint: the value must not be empty"));
  CHECK(contains(run_fail({"-z"}).err, "unknown option '-z'"));
  CHECK(contains(run_fail({"--no-auth=maybe", "-L", "1:a"}).err, "hcbridge: "));
  CHECK(contains(run_fail({}).err, "nothing to do"));
  CHECK(contains(run_fail({"check-config"}).err, "nothing to do"));
}

TEST_CASE("cli: forwarding expressions", "[cli]") {
  CliOutcome o = run_ok(
      {"-L", "8080:web", "-L", "[::1]:9090/x;127.0.0.2:9090/x:api", "-T", "web:http/80", "-R", "old:localhost:ssh/22"});
  CHECK(o.action == CliAction::run);
  REQUIRE(o.config.local_forwards.size() == 2);
  CHECK(o.config.local_forwards[0].origin == "-L '8080:web'");
  CHECK(o.config.local_forwards[1].bindings.size() == 2);
  REQUIRE(o.config.remote_forwards.size() == 2);
  CHECK(o.config.remote_forwards[0].targets[0].port_name == "http");
  CHECK(o.config.remote_forwards[1].hc == "old");
  CHECK(o.config.remote_forwards[1].targets[0].port_name == "ssh");
  CHECK(o.config.remote_forwards[1].origin == "-R 'old:localhost:ssh/22'");
  CHECK(o.config.relay.endpoint == kDefaultEndpoint);

  CliOutcome bad = run_fail({"-L", "99999:web"});
  CHECK(contains(bad.err, "hcbridge: -L '99999:web': binding '99999': port '99999' is out of range"));
  CHECK(contains(bad.err, "Run 'hcbridge --help'"));
  CHECK(contains(run_fail({"-T", "web"}).err, "hcbridge: -T 'web': missing ':'"));
  CHECK(contains(run_fail({"-R", "web:70000U"}).err, "UDP port '70000' is out of range"));
  CHECK(contains(run_fail({"-L", "5353U:web", "-L", "5353U:api"}).err, "5353U is bound twice"));
  CHECK(contains(run_fail({"-L", "8080:web", "-L", "8080:api"}).err, "is bound twice"));
  CHECK(contains(run_fail({"-T", "web:a/80;a/81"}).err, "port name 'a' is used by two targets"));
}

TEST_CASE("cli: Unix socket forwards, and their mistakes exit 2", "[cli]") {
  char dir_template[] = "/tmp/hcb_unix_XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  const std::string sock = dir + "/in.sock";
  CliOutcome o = run_ok({"-L", "unix:" + sock + ":web", "-L", "api/unix:" + dir + "/api.sock:web", "-T",
                         "web:unix:/run/app.sock;api/unix:/run/api.sock;docker.sock"});
  REQUIRE(o.config.local_forwards.size() == 2);
  CHECK(o.config.local_forwards[0].bindings[0].socket_path == sock);
  CHECK(o.config.local_forwards[0].bindings[0].port_name == sock);
  CHECK(o.config.local_forwards[1].bindings[0].port_name == "api");
  CHECK(local_forward_name(o.config, o.config.local_forwards[0]) == "L:web@unix:" + sock);
  CHECK(o.config.remote_forwards[0].targets[2].socket_path == "docker.sock");

  const std::string plain = dir + "/plain";
  std::ofstream(plain) << "keep";
  CHECK(contains(run_fail({"-L", "unix:" + plain + ":web"}).err, "exists and is not a socket; it is never deleted"));
  CHECK(contains(run_fail({"-L", "unix:" + dir + "/no/such/dir.sock:web"}).err,
                 "the directory '" + dir + "/no/such' of the socket"));
  CHECK(contains(run_fail({"-L", "unix:/tmp/" + std::string(100, 'x') + ".sock:web"}).err, "at most 107"));
  CHECK(contains(run_fail({"-L", "unix:" + sock + ":web", "-L", "unix:" + sock + ":api"}).err,
                 "unix:" + sock + " is bound twice"));
  CHECK(contains(run_fail({"-L", "/run/app.sock:web"}).err, "a Unix socket is written unix:PATH"));
  CHECK(contains(run_fail({"-T", "web:a/unix:/a.sock;a/unix:/b.sock"}).err, "port name 'a' is used by two targets"));
  std::remove(plain.c_str());
  ::rmdir(dir.c_str());
  CHECK(std::ifstream(plain).fail());
}

TEST_CASE("cli: precedence file < -x < individual flags", "[cli]") {
  TempFile file(file_config());

  CliOutcome f = run_ok({"-c", file.path});
  CHECK(f.config.relay.endpoint == "sb://file.servicebus.windows.net/");
  CHECK(f.config.relay.key_name == "filerule");
  CHECK(f.config.relay.key == kFileKey);
  CHECK(f.config.keepalive.count() == 11);
  CHECK(f.config.log_level == "warn");
  CHECK(f.config.source_file == file.path);

  CliOutcome x = run_ok({"-c", file.path, "-x", cs("cs.servicebus.windows.net", "csrule", kCsKey)});
  CHECK(x.config.relay.endpoint == "sb://cs.servicebus.windows.net/");
  CHECK(x.config.relay.key_name == "csrule");
  CHECK(x.config.relay.key == kCsKey);

  CliOutcome flags =
      run_ok({"-c", file.path, "-x", cs("cs.servicebus.windows.net", "csrule", kCsKey), "-e", "wss://flag.example.com/",
              "-K", "flagrule", "-k", kFlagKey, "--keepalive", "7", "--log-level", "debug"});
  CHECK(flags.config.relay.endpoint == "wss://flag.example.com/");
  CHECK(flags.config.relay.key_name == "flagrule");
  CHECK(flags.config.relay.key == kFlagKey);
  CHECK(flags.config.keepalive.count() == 7);
  CHECK(flags.config.log_level == "debug");

  // -K alone keeps the key from below; -s replaces the key pair entirely.
  CliOutcome name_only = run_ok({"-c", file.path, "-K", "other"});
  CHECK(name_only.config.relay.key_name == "other");
  CHECK(name_only.config.relay.key == kFileKey);
  CliOutcome sas = run_ok({"-c", file.path, "-s", kSas});
  CHECK(sas.config.relay.sas == kSas);
  CHECK(sas.config.relay.key.empty());
  CHECK(sas.config.relay.key_name.empty());

  // -L/-T are appended to the file's forwards.
  CliOutcome more = run_ok({"-c", file.path, "-L", "7001:second", "-T", "t:80"});
  REQUIRE(more.config.local_forwards.size() == 2);
  CHECK(more.config.local_forwards[0].hc == "fromfile");
  CHECK(more.config.local_forwards[1].hc == "second");
  CHECK(more.config.remote_forwards.size() == 1);
}

TEST_CASE("cli: HCBRIDGE_CONNECTION_STRING is used only without -x", "[cli]") {
  const std::map<std::string, std::string> env = {
      {"HCBRIDGE_CONNECTION_STRING", cs("env.servicebus.windows.net", "envrule", kCsKey)}, {"OTHER", "x"}};
  CliOutcome e = run_ok({"-L", "1:a"}, env);
  CHECK(e.config.relay.endpoint == "sb://env.servicebus.windows.net/");
  CHECK(e.config.relay.key_name == "envrule");

  CliOutcome x = run_ok({"-L", "1:a", "-x", cs("x.servicebus.windows.net", "xrule", kFlagKey)}, env);
  CHECK(x.config.relay.endpoint == "sb://x.servicebus.windows.net/");
  CHECK(x.config.relay.key_name == "xrule");
  CHECK(x.config.relay.key == kFlagKey);

  CliOutcome empty = run_ok({"-L", "1:a"}, {{"HCBRIDGE_CONNECTION_STRING", ""}});
  CHECK(empty.config.relay.endpoint == kDefaultEndpoint);

  CliOutcome bad =
      run_fail({"-L", "1:a"}, {{"HCBRIDGE_CONNECTION_STRING", "Endpoint=sb://x/;SharedAccessKey=" + kCsKey}});
  CHECK(contains(bad.err, "HCBRIDGE_CONNECTION_STRING: connection string has SharedAccessKey but no"));
}

TEST_CASE("cli: EntityPath in -x must match the forwards", "[cli]") {
  const std::string with_entity = cs("ns.servicebus.windows.net", "r", kCsKey) + ";EntityPath=web";
  CHECK(run_ok({"-x", with_entity, "-L", "8080:web"}).exit_code == 0);
  CliOutcome bad = run_fail({"-x", with_entity, "-L", "8080:api"});
  CHECK(contains(bad.err, "-L '8080:api': the connection string's EntityPath 'web' does not match"));
}

TEST_CASE("cli: credential mistakes are usage errors without secrets", "[cli]") {
  CHECK(contains(run_fail({"-K", "r", "-k", kFlagKey, "--key-file", "/k", "-L", "1:a"}).err,
                 "give either -k/--key or --key-file, not both"));
  CHECK(contains(run_fail({"-K", "r", "-k", kFlagKey, "-s", kSas, "-L", "1:a"}).err, "-s/--sas"));
  CHECK(contains(run_fail({"-s", kSas, "--no-auth", "-L", "1:a"}).err, "--no-auth cannot be combined"));
  CHECK(contains(run_fail({"-k", kFlagKey, "-L", "1:a"}).err, "no key_name"));
  CHECK(contains(run_fail({"-K", "r", "-L", "1:a"}).err, "key_name 'r' is set but no key"));
  // A key given without its option is not echoed.
  CliOutcome forgot = run_fail({"-K", "r", kFlagKey, "-L", "1:a"});
  CHECK(contains(forgot.err, "not shown"));
  CHECK(contains(run_fail({"--kee=" + kFlagKey, "-L", "1:a"}).err, "unknown option '--kee'"));
  CHECK(contains(
      run_fail({"-x",
                "Endpoint=sb://x/;SharedAccessKeyName=r;SharedAccessKey=" + kCsKey + ";SharedAccessSignature=" + kSas,
                "-L", "1:a"})
          .err,
      "-x/--connection-string"));
  CHECK(contains(run_fail({"-x", kCsKey, "-L", "1:a"}).err, "-x/--connection-string"));
  CHECK(contains(run_fail({"-e", "sb://ns/;SharedAccessKey=" + kCsKey, "-L", "1:a"}).err, "without a path"));
  CHECK(contains(run_fail({"-e", "https://ns/", "-L", "1:a"}).err, "scheme 'https'"));
  CHECK(contains(run_fail({"--key-file", "/nonexistent/key", "-K", "r", "-L", "1:a"}).err,
                 "cannot read key file '/nonexistent/key'"));
}

TEST_CASE("cli: numeric flags", "[cli]") {
  CliOutcome o = run_ok({"-L",
                         "1:a",
                         "--token-ttl",
                         "600",
                         "--keepalive",
                         "5",
                         "--connect-timeout",
                         "2.5",
                         "--grace-period",
                         "1",
                         "--idle-timeout",
                         "0",
                         "--max-connections",
                         "50",
                         "--log-format",
                         "json",
                         "--admin",
                         "127.0.0.1:9100",
                         "--ca-file",
                         "/dev/null",
                         "-e",
                         "wss://relay:8443"});
  CHECK(o.config.token_ttl.count() == 600);
  CHECK(o.config.keepalive.count() == 5);
  CHECK(o.config.connect_timeout.count() == 2.5);
  CHECK(o.config.grace_period.count() == 1);
  CHECK(o.config.idle_timeout.count() == 0);
  CHECK(o.config.max_connections == 50);
  CHECK(o.config.log_format == "json");
  CHECK(o.config.admin_bind == "127.0.0.1:9100");
  CHECK(o.config.relay.ca_file == "/dev/null");
  CHECK(o.config.relay.endpoint == "wss://relay:8443/");

  CHECK(contains(run_fail({"-L", "1:a", "--token-ttl", "abc"}).err,
                 "--token-ttl: expected a number of seconds, got 'abc'"));
  CHECK(contains(run_fail({"-L", "1:a", "--token-ttl", "9"}).err, "token_ttl (--token-ttl): must be between 10"));
  CHECK(contains(run_fail({"-L", "1:a", "--keepalive", "nan"}).err, "--keepalive"));
  CHECK(contains(run_fail({"-L", "1:a", "--keepalive", "1e999"}).err, "--keepalive"));
  CHECK(contains(run_fail({"-L", "1:a", "--idle-timeout=-1"}).err, "idle_timeout"));
  CHECK(contains(run_fail({"-L", "1:a", "--max-connections", "0"}).err, "--max-connections"));
  CHECK(contains(run_fail({"-L", "1:a", "--max-connections", "2000000"}).err, "--max-connections"));
  CHECK(contains(run_fail({"-L", "1:a", "--max-connections", "1.5"}).err, "--max-connections"));
  CHECK(contains(run_fail({"-L", "1:a", "--log-level", "loud"}).err, "--log-level"));
  CHECK(contains(run_fail({"-L", "1:a", "--log-format", "xml"}).err, "--log-format"));
  CHECK(contains(run_fail({"-L", "1:a", "--admin", "localhost"}).err, "--admin"));
}

TEST_CASE("cli: config file errors are exit 2 with file and line", "[cli]") {
  TempFile bad("{\n  \"local_forward\": [ { \"hc\": \"a\", \"bind\": \"1\", \"prot\": 1 } ]\n}");
  CliOutcome o = run_fail({"-c", bad.path});
  CHECK(contains(o.err, "hcbridge: " + bad.path + ":2: local_forward[0]: unknown key 'prot'"));
  CHECK(contains(run_fail({"-c", "/nonexistent/hcbridge.json"}).err, "cannot read config file"));
  CHECK(contains(run_fail({"check-config", "-c", "/nonexistent/hcbridge.json"}).err, "cannot read config file"));
}

TEST_CASE("cli: check-config prints the effective configuration with secrets masked", "[cli]") {
  TempFile key_file(kFlagKey + "\n", 0644);
  TempFile file(R"({
    "relay": { "endpoint": "sb://file.servicebus.windows.net/", "key_name": "filerule", "key": ")" +
                kFileKey + R"(" },
    "local_forward": [ { "hc": "a", "bind": "7000",
                         "relay": { "key_name": "fwd", "key_file": ")" +
                key_file.path + R"(" } } ],
    "remote_forward": [ { "hc": "b", "target": "80",
                          "relay": { "connection_string": ")" +
                cs("other.servicebus.windows.net", "o", kCsKey) + R"(" } },
                        { "hc": "c", "target": "81", "relay": { "sas": ")" +
                kSas + R"(" } } ]
  })");
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"check-config", "-c", file.path}, {"-c", file.path, "check-config"}}) {
    CliOutcome o = run(args);  // check_no_secrets covers out, err and warnings
    INFO(o.err);
    REQUIRE(o.action == CliAction::check_config);
    CHECK(o.exit_code == 0);
    CHECK(contains(o.out, "\"key\": \"***\""));
    CHECK(contains(o.out, "\"sas\": \"***\""));
    CHECK(contains(o.out, "\"key_file\": \"" + key_file.path + "\""));
    CHECK(contains(o.out, "\"endpoint\": \"sb://file.servicebus.windows.net/\""));
    CHECK(contains(o.out, "\"key_name\": \"filerule\""));
    CHECK_FALSE(contains(o.out, "SharedAccessSignature"));
    // The key file is readable by others: warned, and the warning names the file but not the key.
    bool warned = false;
    for (const auto& w : o.warnings) warned = warned || contains(w, "chmod 600 " + key_file.path);
    CHECK(warned);
    // The rendering parses back as a config file.
    auto back = parse_config_json(o.out, "rendered");
    INFO((back.ok() ? "" : back.error()));
    REQUIRE(back.ok());
    CHECK(back->local_forwards.size() == 1);
    CHECK(back->remote_forwards.size() == 2);
    CHECK(back->relay.endpoint == "sb://file.servicebus.windows.net/");
  }

  CliOutcome flags = run({"check-config", "-K", "r", "-k", kFlagKey, "-L", "1:a", "--connect-timeout", "0.25"});
  REQUIRE(flags.action == CliAction::check_config);
  CHECK(contains(flags.out, "\"connect_timeout\": 0.25"));
  CHECK(contains(flags.out, "\"key\": \"***\""));
}

TEST_CASE("render_config masks secrets wherever they hide", "[cli]") {
  Config c;
  c.relay.key_name = "r";
  c.relay.key = kFlagKey;
  c.relay.endpoint = "sb://ns/";
  LocalForward f;
  f.hc = "a";
  LocalBinding b;
  b.port = 1;
  b.port_name = kFlagKey;  // nonsense, but must not leak
  f.bindings.push_back(b);
  RelaySettings r;
  r.sas = kSas;
  f.relay = r;
  c.local_forwards.push_back(f);
  c.admin_bind = "x;SharedAccessKey=" + kCsKey;
  const std::string text = render_config(c);
  for (const auto& s : kSecrets) CHECK_FALSE(contains(text, s));
  CHECK(contains(text, "\"sas\": \"***\""));
}

TEST_CASE("cli: a key file readable by anyone but its owner draws a warning, never an error", "[cli]") {
  // Group-readable counts: a group is other users. The warning names the file, never the key.
  for (const mode_t mode : {mode_t{0600}, mode_t{0400}, mode_t{0640}, mode_t{0604}, mode_t{0644}, mode_t{0660}}) {
    TempFile key_file(kFlagKey + "\n", mode);
    CliOutcome o = run({"check-config", "-K", "r", "--key-file", key_file.path, "-L", "1:a"});
    CAPTURE(mode);
    REQUIRE(o.exit_code == 0);
    bool warned = false;
    for (const auto& w : o.warnings) warned = warned || contains(w, "key file " + key_file.path + " is readable by other users");
    CHECK(warned == ((mode & 077) != 0));
  }
}

TEST_CASE("cli: check-config shows the Entra credential each forward uses and where its values came from", "[cli]") {
  const std::string kEntraSecret = "RW50cmFDbGlTZWNyZXRWYWx1ZTAxMjM0NTY3";
  const std::map<std::string, std::string> env{{"AZURE_TENANT_ID", "tenant-9"}, {"AZURE_CLIENT_ID", "client-9"},
                                               {"AZURE_CLIENT_SECRET", kEntraSecret}};
  TempFile file(R"({
    "relay": { "endpoint": "sb://ns.servicebus.windows.net/" },
    "local_forward": [ { "hc": "a", "bind": "7000" },
                       { "hc": "b", "bind": "7001", "relay": { "key_name": "r", "key": ")" + kFileKey + R"(" } } ],
    "remote_forward": [ { "hc": "c", "target": "80", "relay": { "auth": { "mode": "entra" },
                          "entra": { "credential": "managed-identity", "client_id": "mi-1" } } } ]
  })");
  CliOutcome o = run({"check-config", "-c", file.path}, env);
  INFO(o.err);
  REQUIRE(o.action == CliAction::check_config);
  CHECK(contains(o.err, "check-config: L:a authenticates with Entra ID client-secret, tenant tenant-9 (AZURE_TENANT_ID), "
                        "client id client-9 (AZURE_CLIENT_ID)"));
  CHECK(contains(o.err, "secret *** (AZURE_CLIENT_SECRET)"));
  CHECK(contains(o.err, "check-config: L:b authenticates with SAS key 'r'\n"));
  CHECK(contains(o.err, "check-config: T:c authenticates with Entra ID managed-identity via IMDS at "
                        "http://169.254.169.254/metadata/identity/oauth2/token (default), client id mi-1 (entra.client_id)\n"));
  CHECK(contains(o.out, "\"mode\": \"entra\""));
  CHECK_FALSE(contains(o.out, kEntraSecret));
  CHECK_FALSE(contains(o.err, kEntraSecret));
  // A missing value is a usage error naming it.
  CliOutcome bad = run_fail({"-e", "sb://ns.servicebus.windows.net/", "--auth", "entra", "-L", "7000:a"},
                            {{"AZURE_TENANT_ID", "t"}, {"AZURE_CLIENT_CERTIFICATE_PATH", "/nonexistent.pem"}});
  CHECK(contains(bad.err, "needs a client id (entra.client_id or AZURE_CLIENT_ID)"));
  CHECK(contains(run_fail({"--auth", "kerberos", "-L", "7000:a"}).err, "--auth must be sas or entra"));
}
