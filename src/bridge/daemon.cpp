#include "bridge/daemon.hpp"

#include "bridge/metric_families.hpp"
#include "bridge/proxy_settings.hpp"
#include "net/tls.hpp"
#include "ops/logging.hpp"

#include <spdlog/spdlog.h>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

#ifndef HCBRIDGE_VERSION
#define HCBRIDGE_VERSION "0.1.0"
#endif

namespace bridge {
namespace {

std::string relay_identity(const RelaySettings& r) {
  std::ostringstream o;
  o << r.endpoint << '\x1f' << r.key_name << '\x1f' << r.key << '\x1f' << r.sas << '\x1f' << r.ca_file << '\x1f'
    << r.no_auth << '\x1f' << r.auth_mode;
  const EntraSettings& e = r.entra;
  for (const std::string* v : {&e.credential, &e.tenant_id, &e.client_id, &e.authority_host, &e.client_secret_file,
                               &e.client_secret, &e.certificate_file, &e.assertion_algorithm, &e.federated_token_file,
                               &e.arc_key_directory})
    o << '\x1f' << *v;
  return o.str();
}

std::string globals_identity(const Config& c) {
  std::ostringstream o;
  o << c.token_ttl.count() << ',' << c.keepalive.count() << ',' << c.connect_timeout.count() << ','
    << c.preamble_timeout.count() << ',' << c.backoff_initial.count() << ',' << c.backoff_max.count() << ','
    << c.idle_timeout.count() << ',' << c.max_connections;
  // Every relay dial goes through the proxy policy: a change to it (or to the proxy environment captured with it)
  // must restart the forwards, or a reload would keep dialling the old proxy.
  const ProxyConfig& p = c.proxy;
  o << '\x1f' << p.url.value_or("\x1e") << '\x1f' << p.no_proxy.value_or("\x1e") << '\x1f' << p.credentials_file
    << '\x1f' << p.credentials;
  for (const auto& [name, value] : p.env) o << '\x1f' << name << '=' << value;
  for (const auto& [name, value] : c.azure_env) o << '\x1e' << name << '=' << value;
  return o.str();
}

std::string limits_identity(const std::optional<std::size_t>& max, const std::optional<Seconds>& idle) {
  return (max ? std::to_string(*max) : "-") + "," + (idle ? std::to_string(idle->count()) : "-");
}

// Process facts for /metrics, read from /proc at scrape time.
void process_metrics(ops::Metrics& m) {
  {
    std::ifstream status("/proc/self/status");  // closed before the fds are counted
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) m.set("process_resident_memory_bytes", {}, std::stod(line.substr(6)) * 1024);
    }
  }
  // Every entry of /proc/self/fd but ".", ".." and the fd the listing itself holds open.
  std::size_t fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    const std::string own = std::to_string(dirfd(d));
    while (const dirent* e = readdir(d)) {
      const std::string_view name = e->d_name;
      if (name != "." && name != ".." && name != own) ++fds;
    }
    closedir(d);
  }
  m.set("process_open_fds", {}, static_cast<double>(fds));
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    m.set("process_max_fds", {}, static_cast<double>(limit.rlim_cur));
}

}  // namespace

std::string forward_identity(const Config& config, const LocalForward& f) {
  std::ostringstream o;
  o << "L|" << local_forward_name(config, f) << '|' << f.raw << '|';  // a new name (a second forward on the HC) restarts it
  for (const auto& b : f.bindings)
    o << binding_text(b) << '/' << b.port_name << '/' << protocol_name(b.protocol) << '/' << b.socket_file.mode << '/'
      << b.socket_file.owner << '/' << b.socket_file.group << ';';
  o << "|H" << f.http.answer_timeout.count();
  o << '|' << relay_identity(effective_relay(config, f.relay)) << '|' << limits_identity(f.max_connections, f.idle_timeout)
    << '|' << globals_identity(config);
  return o.str();
}

std::string forward_identity(const Config& config, const RemoteForward& f) {
  std::ostringstream o;
  o << "T|" << f.hc << '|' << f.raw << '|';
  for (const auto& t : f.targets) o << t.port_name << '/' << target_text(t) << '/' << protocol_name(t.protocol) << ';';
  if (const auto& h = f.http)
    o << "|H" << h->tls << h->host << ':' << h->port << h->base_path << '/' << h->insecure << h->ca_file << '/' << h->preserve_host << '/'
      << h->connect_timeout.count() << '/' << h->response_timeout.count() << '/' << h->write_timeout.count() << '/'
      << h->max_requests;
  o << '|' << relay_identity(effective_relay(config, f.relay)) << '|' << limits_identity(f.max_connections, f.idle_timeout)
    << '|' << globals_identity(config);
  return o.str();
}

Daemon::Daemon(asio::io_context& io, Config config)
    : io_(io), config_(std::make_shared<const Config>(std::move(config))), metrics_(std::make_shared<ops::Metrics>()),
      tunnels_(std::make_shared<TunnelRegistry>(metrics_)),
      grace_timer_(io) {
  start_time_ = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  describe_metric_families(*metrics_);
  metrics_->set("hcbridge_build_info", {{"version", HCBRIDGE_VERSION}}, 1);
  metrics_->set("hcbridge_start_time_seconds", {}, start_time_);
}

Daemon::~Daemon() {
  // The registry and forwarders may outlive us in pending callbacks; none of them may call back into this object.
  tunnels_->set_on_change(nullptr);
  for (auto& l : local_) l->stop();
  for (auto& r : remote_) r->stop();
  stop_token_sources();
}

hc::Result<RelayContext> Daemon::relay_context(const Config& config, const RelaySettings& settings) {
  RelayContext ctx;
  auto uri = hc::parse_uri(settings.endpoint.empty() ? std::string(kDefaultEndpoint) : settings.endpoint);
  if (!uri) return hc::fail("relay endpoint: " + uri.error());
  ctx.endpoint = uri.value();
  if (ctx.endpoint.tls()) {
    auto& tls = tls_by_ca_[settings.ca_file];
    if (!tls) {
      auto made = net::make_client_tls_context(settings.ca_file);
      if (!made) return hc::fail(made.error());
      tls = made.value();
    }
    ctx.tls = tls;
  }
  auto proxy = make_proxy_policy(config.proxy);
  if (!proxy) return hc::fail(proxy.error());
  ctx.proxy = proxy.value();
  auto tokens = token_source(config, settings, ctx);
  if (!tokens) return hc::fail(tokens.error());
  ctx.tokens = tokens.value();
  return ctx;
}

hc::Result<std::shared_ptr<TokenSource>> Daemon::token_source(const Config& config, const RelaySettings& settings,
                                                              const RelayContext& ctx) {
  if (!uses_entra(settings))
    return std::shared_ptr<TokenSource>(std::make_shared<SasTokenSource>(io_, settings, ctx.endpoint.host, config.token_ttl));
  auto credential = resolve_entra_credential(settings.entra, config.azure_env);
  if (!credential) return hc::fail(credential.error());
  // The token endpoint's TLS is verified like the relay's: the system store (SSL_CERT_FILE) or the --ca-file bundle.
  auto& tls = tls_by_ca_[settings.ca_file];
  if (!tls) {
    auto made = net::make_client_tls_context(settings.ca_file);
    if (!made) return hc::fail(made.error());
    tls = made.value();
  }
  const std::string key = credential->identity() + '\x1d' + settings.ca_file + '\x1d' + globals_identity(config);
  if (auto existing = entra_sources_[key].lock()) return std::shared_ptr<TokenSource>(existing);
  FetchContext fetch{tls, ctx.proxy, ms(config.connect_timeout)};
  auto source = std::make_shared<EntraTokenSource>(io_, credential.value(), fetch, metrics_);
  entra_sources_[key] = source;
  source->start();
  return std::shared_ptr<TokenSource>(source);
}

void Daemon::stop_token_sources() {
  for (auto& [key, weak] : entra_sources_)
    if (auto source = weak.lock()) source->stop();
}

std::optional<StartError> Daemon::start() {
  const Config& c = *config_;
  if (auto proxy = make_proxy_policy(c.proxy); proxy && proxy.value()->proxy)
    spdlog::info("relay dials go through a {}", describe_proxy_policy(*proxy.value()));
  for (const auto& f : c.remote_forwards) {
    auto ctx = relay_context(c, effective_relay(c, f.relay));
    if (!ctx) return StartError{2, "remote forward '" + f.hc + "': " + ctx.error()};
    auto r = std::make_shared<RemoteForwarder>(io_, config_, f, ctx.value(), tunnels_);
    identity_[r.get()] = forward_identity(c, f);
    declare_forward_metrics(*metrics_, r->name(), ForwardSide::remote);
    remote_.push_back(r);
  }
  for (const auto& f : c.local_forwards) {
    auto ctx = relay_context(c, effective_relay(c, f.relay));
    if (!ctx) return StartError{2, "local forward '" + f.hc + "': " + ctx.error()};
    auto forwarder = std::make_shared<LocalForwarder>(io_, config_, f, ctx.value(), tunnels_);
    auto started = forwarder->start();
    if (!started) {
      for (auto& l : local_) l->stop();
      return StartError{1, started.error()};
    }
    identity_[forwarder.get()] = forward_identity(c, f);
    declare_forward_metrics(*metrics_, forwarder->name(), ForwardSide::local);
    local_.push_back(forwarder);
  }
  // Control channels connect in the background; a relay that is down at start-up is retried like any other failure.
  for (auto& r : remote_) r->start();
  return std::nullopt;
}

// What a reload does: the running forwarders sorted into kept and dropped by their identity, the identities only the
// new configuration has (a multiset: two identical forwards are two forwards), and the forwarders built for those.
struct Daemon::ReloadPlan {
  std::vector<std::shared_ptr<LocalForwarder>> keep_local, drop_local, new_local;
  std::vector<std::shared_ptr<RemoteForwarder>> keep_remote, drop_remote, new_remote;
  std::size_t kept = 0;
  std::multiset<std::string> added;
};

namespace {

// Sorts `running` into `keep` (its identity is still wanted: taken out of `wanted`) and `drop`.
template <class Forwarder>
void sort_running(const std::vector<std::shared_ptr<Forwarder>>& running,
                  const std::map<const void*, std::string>& identity, std::multiset<std::string>& wanted,
                  std::size_t& kept, std::vector<std::shared_ptr<Forwarder>>& keep,
                  std::vector<std::shared_ptr<Forwarder>>& drop) {
  for (const auto& f : running) {
    const auto known = identity.find(f.get());
    auto it = wanted.find(known == identity.end() ? std::string() : known->second);
    if (it == wanted.end()) {
      drop.push_back(f);
      continue;
    }
    ++kept;
    wanted.erase(it);
    keep.push_back(f);
  }
}

// Calls `build(forward, identity)` for each of `forwards` whose identity is in `added` (taking it out), in order;
// the first error stops it.
template <class Forward, class Build>
std::optional<std::string> build_added(const Config& next, const std::vector<Forward>& forwards,
                                       std::multiset<std::string>& added, const Build& build) {
  for (const auto& f : forwards) {
    std::string id = forward_identity(next, f);
    auto it = added.find(id);
    if (it == added.end()) continue;  // unchanged: kept
    added.erase(it);
    if (auto error = build(f, std::move(id))) return error;
  }
  return std::nullopt;
}

}  // namespace

Daemon::ReloadPlan Daemon::plan_reload(const Config& next) {
  ReloadPlan plan;
  for (const auto& f : next.local_forwards) plan.added.insert(forward_identity(next, f));
  for (const auto& f : next.remote_forwards) plan.added.insert(forward_identity(next, f));
  sort_running(local_, identity_, plan.added, plan.kept, plan.keep_local, plan.drop_local);
  sort_running(remote_, identity_, plan.added, plan.kept, plan.keep_remote, plan.drop_remote);
  return plan;
}

std::optional<std::string> Daemon::build_added_forwards(const std::shared_ptr<const Config>& next, ReloadPlan& plan) {
  auto error = build_added(*next, next->local_forwards, plan.added,
                           [&](const LocalForward& f, std::string id) -> std::optional<std::string> {
                             auto ctx = relay_context(*next, effective_relay(*next, f.relay));
                             if (!ctx) return "local forward '" + f.hc + "': " + ctx.error();
                             auto l = std::make_shared<LocalForwarder>(io_, next, f, ctx.value(), tunnels_);
                             auto started = l->start();
                             if (!started) return started.error();
                             identity_[l.get()] = std::move(id);
                             plan.new_local.push_back(l);
                             return std::nullopt;
                           });
  if (error) return error;
  return build_added(*next, next->remote_forwards, plan.added,
                     [&](const RemoteForward& f, std::string id) -> std::optional<std::string> {
                       auto ctx = relay_context(*next, effective_relay(*next, f.relay));
                       if (!ctx) return "remote forward '" + f.hc + "': " + ctx.error();
                       auto r = std::make_shared<RemoteForwarder>(io_, next, f, ctx.value(), tunnels_);
                       identity_[r.get()] = std::move(id);
                       plan.new_remote.push_back(r);
                       return std::nullopt;
                     });
}

hc::Result<std::string> Daemon::roll_back(const ReloadPlan& plan, const std::string& why) {
  for (auto& l : plan.new_local) l->stop();
  for (auto& l : plan.drop_local) {
    auto again = l->start();
    if (!again) spdlog::error("reload: could not restore {}: {}", l->name(), again.error());
  }
  metrics_->add("hcbridge_config_reloads_total", {{"result", "failed"}});
  return hc::fail(why);
}

void Daemon::commit_reload(const ReloadPlan& plan, std::shared_ptr<const Config> next) {
  // Stop what goes (its open tunnels drain on their own), start what comes.
  for (auto& r : plan.drop_remote) r->stop();
  // Removed forwards leave no state gauges behind (their tunnels' counts stay: they are history); new ones are
  // exported at 0 from now on. Forgotten first: a changed forward comes back under the same name.
  for (auto& l : plan.drop_local) {
    identity_.erase(l.get());
    forget_forward_metrics(*metrics_, l->name(), ForwardSide::local);
  }
  for (auto& r : plan.drop_remote) {
    identity_.erase(r.get());
    forget_forward_metrics(*metrics_, r->name(), ForwardSide::remote);
  }
  for (auto& l : plan.new_local) declare_forward_metrics(*metrics_, l->name(), ForwardSide::local);
  for (auto& r : plan.new_remote) declare_forward_metrics(*metrics_, r->name(), ForwardSide::remote);
  for (auto& r : plan.new_remote) r->start();
  local_ = plan.keep_local;
  local_.insert(local_.end(), plan.new_local.begin(), plan.new_local.end());
  remote_ = plan.keep_remote;
  remote_.insert(remote_.end(), plan.new_remote.begin(), plan.new_remote.end());
  config_ = std::move(next);
  if (auto level = spdlog::level::from_str(config_->log_level); level != spdlog::level::off || config_->log_level == "off")
    spdlog::default_logger()->set_level(level);
}

hc::Result<std::string> Daemon::reload(Config next_config) {
  if (shutting_down_) return hc::fail("shutting down");
  auto next = std::make_shared<const Config>(std::move(next_config));
  if (next->admin_bind != config_->admin_bind)
    spdlog::warn("reload: admin.bind changed; the admin endpoint keeps its old address until a restart");
  ReloadPlan plan = plan_reload(*next);
  // Local forwards that go release their ports first, so a changed forward can bind the same port again.
  for (auto& l : plan.drop_local) l->stop();
  if (auto error = build_added_forwards(next, plan)) return roll_back(plan, *error);
  commit_reload(plan, std::move(next));
  metrics_->add("hcbridge_config_reloads_total", {{"result", "ok"}});
  return std::to_string(plan.kept) + " forward(s) unchanged, " +
         std::to_string(plan.drop_local.size() + plan.drop_remote.size()) + " stopped, " +
         std::to_string(plan.new_local.size() + plan.new_remote.size()) + " started";
}

std::vector<ForwardState> Daemon::forward_states() const {
  std::vector<ForwardState> out;
  for (const auto& l : local_) {
    std::string detail = "listening on";
    for (const auto& ep : l->local_endpoints()) detail += " " + ep.address().to_string() + ":" + std::to_string(ep.port());
    for (const auto& ep : l->udp_endpoints()) detail += " " + ep.address().to_string() + ":" + std::to_string(ep.port()) + "/udp";
    for (const auto& path : l->socket_paths()) detail += " unix:" + path;
    out.push_back({l->name(), l->listening(), l->listening() ? detail : "not listening"});
  }
  for (const auto& r : remote_)
    out.push_back({r->name(), r->connected(),
                   r->connected()                ? std::string("control channel connected")
                   : *r->last_failure() == '\0' ? std::string("control channel down")
                                                 : std::string("control channel down (") + r->last_failure() + ")"});
  return out;
}

bool Daemon::ready() const {
  for (const auto& s : forward_states())
    if (!s.up) return false;
  return !shutting_down_;
}

std::string Daemon::status_line() const {
  const auto states = forward_states();
  std::size_t up = 0;
  for (const auto& s : states) up += s.up ? 1 : 0;
  std::string line = std::to_string(up) + "/" + std::to_string(states.size()) + " forwards up, " +
                     std::to_string(tunnels_->size()) + " tunnels open";
  if (up < states.size()) {
    line += "; down:";
    for (const auto& s : states)
      if (!s.up) line += " " + s.name;
  }
  return line;
}

std::string Daemon::readiness_json() const {
  std::string body = std::string("{\"ready\":") + (ready() ? "true" : "false") + ",\"forwards\":[";
  bool first = true;
  for (const auto& s : forward_states()) {
    if (!first) body += ",";
    first = false;
    body += "{\"name\":\"" + ops::json_escape(s.name) + "\",\"up\":" + (s.up ? "true" : "false") + ",\"detail\":\"" +
            ops::json_escape(s.detail) + "\"}";
  }
  body += "],\"tokens\":[";
  // Each Entra ID credential in use: whether its token is valid, for how long, and the last fetch problem (never the
  // token). A token endpoint that is down shows here while the forwards stay up on the current token.
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  first = true;
  for (const auto& [key, weak] : entra_sources_) {
    auto source = weak.lock();
    if (!source) continue;
    if (!first) body += ",";
    first = false;
    const int64_t left = source->ready() ? source->expiry_for("") - now : 0;
    body += "{\"credential\":\"" + std::string(entra_kind_name(source->kind())) + "\",\"valid\":" +
            (left > 0 ? "true" : "false") + ",\"expires_in\":" + std::to_string(std::max<int64_t>(0, left)) +
            ",\"fetches_ok\":" + std::to_string(source->fetches_ok()) + ",\"fetches_failed\":" +
            std::to_string(source->fetches_failed()) + ",\"last_problem\":\"" + ops::json_escape(source->last_problem()) +
            "\"}";
  }
  body += "]}\n";
  return body;
}

std::string Daemon::render_metrics() {
  for (const auto& s : forward_states()) metrics_->set("hcbridge_forward_up", {{"forward", s.name}}, s.up ? 1 : 0);
  process_metrics(*metrics_);
  return metrics_->render();
}

void Daemon::shutdown(std::function<void()> on_done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  on_drained_ = std::move(on_done);
  for (auto& l : local_) l->stop();
  for (auto& r : remote_) r->stop();
  stop_token_sources();
  tunnels_->datagrams()->end_all("shutdown");  // UDP has nothing to drain: only the routes' close frames are awaited
  if (tunnels_->size() > 0) {
    spdlog::info("shutting down: waiting up to {:.0f} s for {} open tunnel(s) to finish", config_->grace_period.count(),
                 tunnels_->size());
  }
  tunnels_->set_on_change([this] { check_drained(); });
  tunnels_->datagrams()->set_on_change([this] { check_drained(); });
  grace_timer_.expires_after(ms(config_->grace_period));
  grace_timer_.async_wait([this](std::error_code ec) {
    if (ec) return;
    if (tunnels_->size() > 0) spdlog::warn("grace period over: aborting {} tunnel(s)", tunnels_->size());
    tunnels_->abort_all("shutdown");
    grace_over_ = true;  // UDP close handshakes still pending are not waited for any longer either
    check_drained();
  });
  check_drained();
}

void Daemon::abort_now() {
  tunnels_->abort_all("shutdown");
  check_drained();
}

void Daemon::check_drained() {
  if (!shutting_down_ || tunnels_->size() > 0 || !on_drained_) return;
  if (!grace_over_ && !tunnels_->datagrams()->quiet()) return;
  grace_timer_.cancel();
  auto cb = std::move(on_drained_);
  on_drained_ = nullptr;
  asio::post(io_, cb);
}

}  // namespace bridge
