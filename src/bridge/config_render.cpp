#include "bridge/config_render.hpp"

#include "bridge/credentials/entra_credential.hpp"
#include "bridge/proxy_settings.hpp"
#include "hc/url.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <vector>

namespace bridge {

namespace {

using Writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void write_string(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

void write_seconds(Writer& w, const char* key, Seconds s) {
  w.Key(key);
  const double v = s.count();
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15) {
    w.Int64(static_cast<int64_t>(v));
  } else {
    w.Double(v);
  }
}

// The proxy in effect (from the flags, the file or the environment), password masked: "none" when dials are direct.
void write_proxy(Writer& w, const ProxyConfig& p) {
  auto policy = make_proxy_policy(p);
  w.Key("proxy");
  w.StartObject();
  if (policy) {
    write_string(w, "url", policy.value()->proxy ? policy.value()->proxy->masked() : "none");
    write_string(w, "no_proxy", policy.value()->bypass.to_string());
  }
  if (!p.credentials_file.empty()) write_string(w, "credentials_file", p.credentials_file);
  w.EndObject();
}

void write_relay(Writer& w, const RelaySettings& r, bool global) {
  w.StartObject();
  if (!r.endpoint.empty()) write_string(w, "endpoint", r.endpoint);
  if (!r.key_name.empty()) write_string(w, "key_name", r.key_name);
  if (!r.key_file.empty()) {
    write_string(w, "key_file", r.key_file);
  } else if (!r.key.empty()) {
    write_string(w, "key", "***");
  }
  if (!r.sas.empty()) write_string(w, "sas", "***");
  if (!r.ca_file.empty()) write_string(w, "ca_file", r.ca_file);
  if (global || r.no_auth) {
    w.Key("no_auth");
    w.Bool(r.no_auth);
  }
  if (!r.auth_mode.empty()) {
    w.Key("auth");
    w.StartObject();
    write_string(w, "mode", r.auth_mode);
    w.EndObject();
  }
  if (!r.entra.empty()) {
    const EntraSettings& e = r.entra;
    w.Key("entra");
    w.StartObject();
    for (auto [key, value] : {std::pair{"credential", &e.credential}, {"tenant_id", &e.tenant_id},
                              {"client_id", &e.client_id}, {"authority_host", &e.authority_host},
                              {"client_secret_file", &e.client_secret_file}, {"certificate_file", &e.certificate_file},
                              {"assertion_algorithm", &e.assertion_algorithm},
                              {"federated_token_file", &e.federated_token_file},
                              {"arc_key_directory", &e.arc_key_directory}})
      if (!value->empty()) write_string(w, key, *value);
    w.EndObject();
  }
  w.EndObject();
}

// How a forward authenticates, as resolved from its settings and the environment: "SAS key 'root'", "no token",
// or the Entra ID credential with where each value came from (secrets masked).
std::string describe_relay_authentication(const Config& c, const RelaySettings& r) {
  if (uses_entra(r)) {
    auto credential = resolve_entra_credential(r.entra, c.azure_env);
    return credential ? credential->describe() : "Entra ID: " + credential.error();
  }
  if (!r.sas.empty()) return "a pre-issued SAS token";
  if (!r.key_name.empty()) return "SAS key " + hc::quote_for_message(r.key_name, 80);
  return "no token";
}

template <class Forward>
void write_forward_common(Writer& w, const Forward& f) {
  w.Key("raw");
  w.Bool(f.raw);
  if (f.relay) {
    w.Key("relay");
    write_relay(w, *f.relay, false);
  }
  if (f.max_connections) {
    w.Key("max_connections");
    w.Uint64(*f.max_connections);
  }
  if (f.idle_timeout) write_seconds(w, "idle_timeout", *f.idle_timeout);
}

// Replaces the value after each `marker` (up to ; & " whitespace) by ***.
void mask_after(std::string& text, const std::string& marker) {
  std::size_t pos = 0;
  while ((pos = text.find(marker, pos)) != std::string::npos) {
    const std::size_t start = pos + marker.size();
    std::size_t end = start;
    while (end < text.size() && text[end] != ';' && text[end] != '&' && text[end] != '"' && text[end] != ' ' &&
           text[end] != '\n')
      ++end;
    text.replace(start, end - start, "***");
    pos = start + 3;
  }
}

void mask_value(std::string& text, const std::string& secret) {
  if (secret.size() < 6) return;  // too short to find safely; never written anyway
  std::size_t pos = 0;
  while ((pos = text.find(secret, pos)) != std::string::npos) {
    text.replace(pos, secret.size(), "***");
    pos += 3;
  }
}

void write_local_forwards(Writer& w, const std::vector<LocalForward>& forwards) {
  w.Key("local_forward");
  w.StartArray();
  for (const auto& f : forwards) {
    w.StartObject();
    write_string(w, "hc", f.hc);
    w.Key("bindings");
    w.StartArray();
    for (const auto& b : f.bindings) {
      w.StartObject();
      if (b.protocol == Protocol::unix_socket) {
        write_string(w, "path", b.socket_path);
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", b.socket_file.mode);
        write_string(w, "mode", mode);
        if (!b.socket_file.owner.empty()) write_string(w, "owner", b.socket_file.owner);
        if (!b.socket_file.group.empty()) write_string(w, "group", b.socket_file.group);
      } else {
        write_string(w, "address", b.bind_host);
        w.Key("port");
        w.Uint(b.port);
      }
      write_string(w, "port_name", b.port_name);
      if (b.protocol != Protocol::tcp) write_string(w, "protocol", protocol_name(b.protocol));
      w.EndObject();
    }
    w.EndArray();
    const auto is_http = [](const LocalBinding& b) { return b.protocol == Protocol::http; };
    if (std::any_of(f.bindings.begin(), f.bindings.end(), is_http)) {  // an entrance's settings, where it has one
      w.Key("http");
      w.StartObject();
      write_seconds(w, "answer_timeout", f.http.answer_timeout);
      w.EndObject();
    }
    write_forward_common(w, f);
    w.EndObject();
  }
  w.EndArray();
}

void write_http(Writer& w, const HttpTarget& t) {
  w.Key("http");
  w.StartObject();
  const bool ipv6 = t.host.find(':') != std::string::npos;
  write_string(w, "url", std::string(t.tls ? "https://" : "http://") + (ipv6 ? "[" + t.host + "]" : t.host) + ":" +
                             std::to_string(t.port) + t.base_path);
  w.Key("insecure");
  w.Bool(t.insecure);
  if (!t.ca_file.empty()) write_string(w, "ca_file", t.ca_file);
  w.Key("preserve_host");
  w.Bool(t.preserve_host);
  write_seconds(w, "connect_timeout", t.connect_timeout);
  write_seconds(w, "response_timeout", t.response_timeout);
  write_seconds(w, "write_timeout", t.write_timeout);
  w.Key("max_requests");
  w.Uint64(t.max_requests);
  w.EndObject();
}

void write_remote_forwards(Writer& w, const std::vector<RemoteForward>& forwards) {
  w.Key("remote_forward");
  w.StartArray();
  for (const auto& f : forwards) {
    w.StartObject();
    write_string(w, "hc", f.hc);
    if (f.http) write_http(w, *f.http);
    if (f.targets.empty()) {
      write_forward_common(w, f);
      w.EndObject();
      continue;
    }
    w.Key("targets");
    w.StartArray();
    for (const auto& t : f.targets) {
      w.StartObject();
      write_string(w, "port_name", t.port_name);
      if (t.protocol == Protocol::unix_socket) {
        write_string(w, "path", t.socket_path);
      } else {
        write_string(w, "host", t.host);
        w.Key("port");
        w.Uint(t.port);
      }
      if (t.protocol != Protocol::tcp) write_string(w, "protocol", protocol_name(t.protocol));
      w.EndObject();
    }
    w.EndArray();
    write_forward_common(w, f);
    w.EndObject();
  }
  w.EndArray();
}

// Timeouts, limits, log and admin: the top-level keys after the forwards.
void write_settings(Writer& w, const Config& c) {
  write_seconds(w, "token_ttl", c.token_ttl);
  write_seconds(w, "keepalive", c.keepalive);
  write_seconds(w, "connect_timeout", c.connect_timeout);
  write_seconds(w, "preamble_timeout", c.preamble_timeout);
  write_seconds(w, "backoff_initial", c.backoff_initial);
  write_seconds(w, "backoff_max", c.backoff_max);
  write_seconds(w, "grace_period", c.grace_period);
  write_seconds(w, "idle_timeout", c.idle_timeout);
  write_seconds(w, "udp_idle_timeout", c.udp_idle_timeout);
  w.Key("max_connections");
  w.Uint64(c.max_connections);
  w.Key("log");
  w.StartObject();
  write_string(w, "level", c.log_level);
  write_string(w, "format", c.log_format);
  w.EndObject();
  w.Key("admin");
  w.StartObject();
  write_string(w, "bind", c.admin_bind);
  w.EndObject();
  write_proxy(w, c.proxy);
}

// Defence in depth: no secret value may survive, whatever field it ended up in.
void mask_secrets(std::string& text, const Config& c) {
  for (const char* marker : {"SharedAccessKey=", "SharedAccessSignature=", "SharedAccessSignature ", "sig="})
    mask_after(text, marker);
  std::vector<const RelaySettings*> relays{&c.relay};
  for (const auto& f : c.local_forwards)
    if (f.relay) relays.push_back(&*f.relay);
  for (const auto& f : c.remote_forwards)
    if (f.relay) relays.push_back(&*f.relay);
  for (const RelaySettings* r : relays) {
    mask_value(text, r->key);
    mask_value(text, r->sas);
    mask_value(text, r->entra.client_secret);
  }
  for (const char* secret_variable : {"AZURE_CLIENT_SECRET", "IDENTITY_HEADER"})
    if (auto it = c.azure_env.find(secret_variable); it != c.azure_env.end()) mask_value(text, it->second);
  mask_value(text, c.proxy.credentials);
  if (auto policy = make_proxy_policy(c.proxy); policy && policy.value()->proxy)
    mask_value(text, policy.value()->proxy->password);
}

}  // namespace

std::string describe_authentication(const Config& c) {
  std::string out;
  auto line = [&](const std::string& name, const std::optional<RelaySettings>& layer) {
    out += "check-config: " + name + " authenticates with " + describe_relay_authentication(c, effective_relay(c, layer)) +
           "\n";
  };
  for (const auto& f : c.local_forwards) line(local_forward_name(c, f), f.relay);
  for (const auto& f : c.remote_forwards) line("T:" + f.hc, f.relay);
  return out;
}

std::string render_config(const Config& c) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.SetIndent(' ', 2);
  w.StartObject();
  w.Key("relay");
  write_relay(w, c.relay, true);
  write_local_forwards(w, c.local_forwards);
  write_remote_forwards(w, c.remote_forwards);
  write_settings(w, c);
  w.EndObject();
  std::string text = std::string(buffer.GetString(), buffer.GetSize()) + "\n";
  mask_secrets(text, c);
  return text;
}

}  // namespace bridge
