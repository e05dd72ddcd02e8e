// The proxy settings of the daemon: --proxy / --no-proxy / --proxy-credentials-file, the config file's proxy section,
// the environment (https_proxy... and no_proxy...), their precedence, check-config's output, and that a proxy
// password never shows in any output.
#include <catch2/catch.hpp>

#include "bridge/cli.hpp"
#include "bridge/config_file.hpp"
#include "bridge/proxy_settings.hpp"
#include "support/temp_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

using namespace bridge;
using testing::contains;
using testing::TempFile;

namespace {

const std::string kProxySecret = "Pr0xyS3cret@:%";          // as the user knows it
const std::string kProxySecretEncoded = "Pr0xyS3cret%40%3A%25";  // as written in a URL
const std::string kFileProxySecret = "F1leProxyS3cret:x";

using Env = std::map<std::string, std::string>;

CliOutcome run(std::vector<std::string> args, const Env& env = {}) {
  args.insert(args.end(), {"-e", "wss://relay.example:443/", "--no-auth", "-T", "hc:80"});
  CliOutcome o = parse_command_line(args, env);
  for (const auto& s : {kProxySecret, kProxySecretEncoded, kFileProxySecret}) {
    CHECK_FALSE(contains(o.out, s));
    CHECK_FALSE(contains(o.err, s));
    for (const auto& w : o.warnings) CHECK_FALSE(contains(w, s));
  }
  return o;
}

std::shared_ptr<const net::ProxyPolicy> policy_of(const CliOutcome& o) {
  INFO(o.err);
  REQUIRE(o.exit_code == 0);
  auto p = make_proxy_policy(o.config.proxy);
  REQUIRE(p);
  return p.value();
}

}  // namespace

TEST_CASE("proxy: --proxy wins over the environment, 'none' turns it off, the environment in curl's order") {
  const Env env = {{"HTTPS_PROXY", "http://env-upper:3128"}, {"ALL_PROXY", "http://all:1"}};
  CHECK(policy_of(run({}, env))->proxy->host == "env-upper");
  CHECK(policy_of(run({}, {{"ALL_PROXY", "all:1"}}))->source == "ALL_PROXY");
  CHECK(policy_of(run({"--proxy", "flag:8080"}, env))->proxy->host == "flag");
  CHECK_FALSE(policy_of(run({"--proxy", "none"}, env))->proxy);
  CHECK_FALSE(policy_of(run({}))->proxy);
  CHECK(policy_of(run({}, {{"https_proxy", "lower:1"}, {"HTTPS_PROXY", "upper:1"}}))->proxy->host == "lower");
  // Only the variables the policy reads are taken from the environment.
  CHECK(run({}, env).config.proxy.env.count("HTTPS_PROXY") == 1);
}

TEST_CASE("proxy: the config file's proxy section, overridden by the flags") {
  TempFile file(R"({ "proxy": { "url": "http://file-proxy:3128", "no_proxy": ".corp.example, 10.0.0.0/8" } })");
  auto p = policy_of(run({"-c", file.path}, {{"HTTPS_PROXY", "http://env:1"}, {"NO_PROXY", "env.example"}}));
  CHECK(p->proxy->host == "file-proxy");
  CHECK(p->source == "--proxy/proxy.url");
  CHECK(p->route("relay.corp.example", 443) == nullptr);
  CHECK(p->route("env.example", 443) != nullptr);  // the file's list replaces NO_PROXY
  p = policy_of(run({"-c", file.path, "--proxy", "http://flag:1", "--no-proxy", "env.example"}));
  CHECK(p->proxy->host == "flag");
  CHECK(p->route("relay.corp.example", 443) != nullptr);
  CHECK(p->route("env.example", 443) == nullptr);

  TempFile bad(R"({ "proxy": {
      "url": "socks5://x:1" } })");
  auto o = run({"-c", bad.path});
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains(":2: proxy.url") && Catch::Contains("SOCKS"));
  TempFile unknown(R"({ "proxy": { "uri": "x" } })");
  CHECK_THAT(run({"-c", unknown.path}).err, Catch::Contains("proxy") && Catch::Contains("'uri'"));
}

TEST_CASE("proxy: bad values are usage errors naming their source (exit 2), the password never echoed") {
  auto o = run({"--proxy", "https://user:" + kProxySecretEncoded + "@p:443"});
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains("--proxy: proxy URL: https:// proxies"));
  o = run({}, {{"HTTPS_PROXY", "socks5://p:1080"}});
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains("HTTPS_PROXY: proxy URL: SOCKS"));
  o = run({"--no-proxy", "10.0.0.0/40"});
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains("--no-proxy: no-proxy entry '10.0.0.0/40'"));
  o = run({}, {{"HTTPS_PROXY", "p:1"}, {"no_proxy", "a*b"}});
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains("no_proxy: "));
}

TEST_CASE("proxy: credentials from the URL or a file, check-config shows the proxy masked and each relay's route") {
  auto o = run({"check-config", "--proxy", "http://alice:" + kProxySecretEncoded + "@proxy.corp:3128"},
               {{"NO_PROXY", "other.example"}});
  REQUIRE(o.exit_code == 0);
  CHECK(policy_of(o)->proxy->password == kProxySecret);
  CHECK_THAT(o.out, Catch::Contains(R"("url": "http://alice:***@proxy.corp:3128")"));
  CHECK_THAT(o.out, Catch::Contains(R"("no_proxy": "other.example")"));
  CHECK_THAT(o.err, Catch::Contains("check-config: proxy: http://alice:***@proxy.corp:3128 (--proxy/proxy.url)"));
  CHECK_THAT(o.err, Catch::Contains("check-config: relay relay.example:443: via http://alice:***@proxy.corp:3128"));
  o = run({"check-config", "--proxy", "proxy.corp:3128", "--no-proxy", "*.example"});
  CHECK_THAT(o.err, Catch::Contains("relay relay.example:443: direct (matches --no-proxy/proxy.no_proxy)"));

  TempFile creds("bob:" + kFileProxySecret + "\n", 0600);
  o = run({"check-config", "--proxy", "http://proxy.corp:3128", "--proxy-credentials-file", creds.path});
  REQUIRE(o.exit_code == 0);
  CHECK(policy_of(o)->proxy->user == "bob");
  CHECK(policy_of(o)->proxy->password == kFileProxySecret);
  CHECK(o.warnings.empty());
  TempFile open_creds("bob:" + kFileProxySecret + "\n", 0644);
  o = run({"--proxy", "http://proxy.corp:3128", "--proxy-credentials-file", open_creds.path});
  REQUIRE(o.exit_code == 0);
  REQUIRE(o.warnings.size() == 1);
  CHECK_THAT(o.warnings[0], Catch::Contains("proxy credentials file") && Catch::Contains("readable by other users"));
  o = run({"--proxy", "http://proxy.corp:3128", "--proxy-credentials-file", "/nonexistent/creds"});
  CHECK(o.exit_code == 2);
  CHECK_THAT(o.err, Catch::Contains("proxy.credentials_file (--proxy-credentials-file): cannot read proxy credentials file"));
}
