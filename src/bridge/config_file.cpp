#include "bridge/config_file.hpp"

#include "bridge/config_forwards.hpp"
#include "bridge/config_reader.hpp"
#include "bridge/json_tree.hpp"
#include "hc/url.hpp"
#include "net/address.hpp"
#include "net/no_proxy.hpp"
#include "net/proxy_url.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace bridge {

namespace {

constexpr std::size_t kMaxFileSize = 1 << 20;

const std::array<const char*, 7> kLogLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};

bool read_durations(ConfigReader& r, const JNode& n, Config& c) {
  struct Duration {
    const char* key;
    Seconds* target;
  };
  const std::array<Duration, 9> durations = {{{"token_ttl", &c.token_ttl},
                                              {"keepalive", &c.keepalive},
                                              {"connect_timeout", &c.connect_timeout},
                                              {"preamble_timeout", &c.preamble_timeout},
                                              {"backoff_initial", &c.backoff_initial},
                                              {"backoff_max", &c.backoff_max},
                                              {"grace_period", &c.grace_period},
                                              {"idle_timeout", &c.idle_timeout},
                                              {"udp_idle_timeout", &c.udp_idle_timeout}}};
  for (const auto& d : durations)
    if (const JNode* v = n.member(d.key))
      if (!r.get_duration(*v, d.key, d.key, *d.target)) return false;
  if (c.backoff_initial > c.backoff_max) {
    const JNode* v = n.member("backoff_initial");
    const char* key = v != nullptr ? "backoff_initial" : "backoff_max";
    if (v == nullptr) v = n.member("backoff_max");
    return r.fail(*v, key,
                  "backoff_initial (" + format_number(c.backoff_initial.count()) + " s) must not exceed backoff_max (" +
                      format_number(c.backoff_max.count()) + " s)");
  }
  return true;
}

bool read_log(ConfigReader& r, const JNode& v, Config& c) {
  if (!r.expect(v, JNode::Kind::object, "log")) return false;
  if (!r.check_keys(v, "log", {"level", "format"})) return false;
  if (const JNode* l = v.member("level")) {
    if (!r.get_string(*l, "log.level", c.log_level)) return false;
    if (std::find_if(kLogLevels.begin(), kLogLevels.end(), [&](const char* x) { return c.log_level == x; }) ==
        kLogLevels.end())
      return r.fail(*l, "log.level",
                    "unknown level " + hc::quote_for_message(c.log_level) +
                        " (expected trace, debug, info, warn, error, critical or off)");
  }
  if (const JNode* f = v.member("format")) {
    if (!r.get_string(*f, "log.format", c.log_format)) return false;
    if (c.log_format != "text" && c.log_format != "json")
      return r.fail(*f, "log.format", "unknown format " + hc::quote_for_message(c.log_format) + " (expected text or json)");
  }
  return true;
}

bool read_admin(ConfigReader& r, const JNode& v, Config& c) {
  if (!r.expect(v, JNode::Kind::object, "admin")) return false;
  if (!r.check_keys(v, "admin", {"bind"})) return false;
  if (const JNode* b = v.member("bind")) {
    if (!r.get_string(*b, "admin.bind", c.admin_bind)) return false;
    if (!c.admin_bind.empty()) {
      auto hp = net::parse_host_port(c.admin_bind);
      if (!hp) return r.fail(*b, "admin.bind", hp.error() + " (expected ADDR:PORT, e.g. 127.0.0.1:9090)");
    }
  }
  return true;
}

// proxy.url / proxy.no_proxy are checked here so that a bad value names its line; an empty string is "not set".
bool read_proxy(ConfigReader& r, const JNode& v, Config& c) {
  if (!r.expect(v, JNode::Kind::object, "proxy")) return false;
  if (!r.check_keys(v, "proxy", {"url", "no_proxy", "credentials_file"})) return false;
  std::string text;
  if (const JNode* u = v.member("url")) {
    if (!r.get_string(*u, "proxy.url", text)) return false;
    if (!text.empty() && !hc::iequals(text, "none"))
      if (auto url = net::parse_proxy_url(text); !url) return r.fail(*u, "proxy.url", url.error());
    if (!text.empty()) c.proxy.url = text;
  }
  if (const JNode* n = v.member("no_proxy")) {
    if (!r.get_string(*n, "proxy.no_proxy", text)) return false;
    if (auto list = net::NoProxy::parse(text); !list) return r.fail(*n, "proxy.no_proxy", list.error());
    if (!text.empty()) c.proxy.no_proxy = text;
  }
  if (const JNode* f = v.member("credentials_file"))
    if (!r.get_string(*f, "proxy.credentials_file", c.proxy.credentials_file)) return false;
  return true;
}

bool read_proxy_section(ConfigReader& r, const JNode& top, Config& c) {
  const JNode* v = top.member("proxy");
  return v == nullptr || read_proxy(r, *v, c);
}

bool read_relay_section(ConfigReader& r, const JNode& top, Config& c) {
  const JNode* v = top.member("relay");
  return v == nullptr || r.relay(*v, "relay", c.relay);
}

bool read_max_connections_section(ConfigReader& r, const JNode& top, Config& c) {
  const JNode* v = top.member("max_connections");
  return v == nullptr || r.get_max_connections(*v, "max_connections", c.max_connections);
}

bool read_log_section(ConfigReader& r, const JNode& top, Config& c) {
  const JNode* v = top.member("log");
  return v == nullptr || read_log(r, *v, c);
}

bool read_admin_section(ConfigReader& r, const JNode& top, Config& c) {
  const JNode* v = top.member("admin");
  return v == nullptr || read_admin(r, *v, c);
}

// The top level, one row per section: the keys it owns and how it reads them from the top-level object. Sections are
// read in table order (the first error wins); the keys, in this order, are what "did you mean" considers.
struct Section {
  std::vector<const char*> keys;
  bool (*read)(ConfigReader& r, const JNode& top, Config& c);
};

const std::vector<Section>& sections() {
  static const std::vector<Section> table = {
      {{"relay"}, read_relay_section},
      {{"local_forward"}, read_local_forwards},
      {{"remote_forward"}, read_remote_forwards},
      {{"token_ttl", "keepalive", "connect_timeout", "preamble_timeout", "backoff_initial", "backoff_max",
        "grace_period", "idle_timeout", "udp_idle_timeout"},
       read_durations},
      {{"max_connections"}, read_max_connections_section},
      {{"log"}, read_log_section},
      {{"admin"}, read_admin_section},
      {{"proxy"}, read_proxy_section},
  };
  return table;
}

bool read_config(ConfigReader& r, const JNode& top, Config& c) {
  if (top.kind != JNode::Kind::object)
    return r.fail(top, "", std::string("expected a JSON object at the top level, got ") + kind_name(top.kind));
  std::vector<const char*> allowed;
  for (const Section& s : sections()) allowed.insert(allowed.end(), s.keys.begin(), s.keys.end());
  if (!r.check_keys(top, "", allowed)) return false;
  for (const Section& s : sections())
    if (!s.read(r, top, c)) return false;
  return true;
}

std::string dirname_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {};
  return slash == 0 ? "/" : path.substr(0, slash);
}

void resolve_relative(std::string& path, const std::string& dir) {
  if (path.empty() || path.front() == '/' || dir.empty()) return;
  path = dir == "/" ? "/" + path : dir + "/" + path;
}

void resolve_paths(RelaySettings& r, const std::string& dir) {
  resolve_relative(r.key_file, dir);
  resolve_relative(r.ca_file, dir);
}

}  // namespace

hc::Result<Config> parse_config_json(std::string_view text, std::string_view source_name) {
  const LineIndex lines(text, source_name);
  auto tree = parse_json_tree(text, lines);
  if (!tree) return hc::fail(tree.error());
  Config config;
  ConfigReader reader(lines);
  if (!read_config(reader, tree.value(), config)) return hc::fail(reader.error());
  return config;
}

hc::Result<Config> load_config_file(const std::string& path) {
  const std::string shown = hc::quote_for_message(path, 200);
  if (path.empty()) return hc::fail("config file name is empty");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return hc::fail("cannot read config file " + shown + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return hc::fail("config file " + shown + " is a directory");
  if (!S_ISREG(st.st_mode)) return hc::fail("config file " + shown + " is not a regular file");
  if (static_cast<std::size_t>(st.st_size) > kMaxFileSize)
    return hc::fail("config file " + shown + " is larger than 1 MiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) return hc::fail("cannot read config file " + shown + ": " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return hc::fail("cannot read config file " + shown);
  const std::string text = buffer.str();
  if (text.size() > kMaxFileSize) return hc::fail("config file " + shown + " is larger than 1 MiB");
  auto config = parse_config_json(text, path);
  if (!config) return config;
  config->source_file = path;
  const std::string dir = dirname_of(path);
  resolve_paths(config->relay, dir);
  for (auto& f : config->local_forwards)
    if (f.relay) resolve_paths(*f.relay, dir);
  for (auto& f : config->remote_forwards)
    if (f.relay) resolve_paths(*f.relay, dir);
  resolve_relative(config->proxy.credentials_file, dir);
  return config;
}

}  // namespace bridge
