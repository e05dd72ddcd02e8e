// The configuration model's own behaviour (config.hpp): how bindings, targets and forwards are named, and how the
// relay settings of several sources resolve into those a forward uses. Checking a whole configuration is in
// config_validate.cpp.
#include "bridge/config.hpp"

#include "hc/connection_string.hpp"
#include "hc/url.hpp"
#include "net/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdio>

namespace bridge {

const char* protocol_name(Protocol p) {
  switch (p) {
    case Protocol::udp: return "udp";
    case Protocol::unix_socket: return "unix";
    case Protocol::http: return "http";
    case Protocol::tcp: break;
  }
  return "tcp";
}

std::string binding_text(const LocalBinding& b) {
  if (b.protocol == Protocol::unix_socket) return "unix:" + b.socket_path;
  if (b.protocol == Protocol::http) return "http://" + net::host_for_url(b.bind_host) + ":" + std::to_string(b.port);
  return net::host_for_url(b.bind_host) + ":" + std::to_string(b.port) + (b.protocol == Protocol::udp ? "/udp" : "");
}

std::string target_text(const RemoteTarget& t) {
  if (t.protocol == Protocol::unix_socket) return "unix:" + t.socket_path;
  return net::host_for_url(t.host) + ":" + std::to_string(t.port) + (t.protocol == Protocol::udp ? "/udp" : "");
}

std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

RelaySettings relay_settings_from(const hc::ConnectionString& cs) {
  RelaySettings r;
  r.endpoint = cs.endpoint.scheme + "://" + cs.endpoint.authority() + cs.endpoint.target();
  r.key_name = cs.key_name;
  r.key = cs.key;
  r.sas = cs.sas;
  r.entity_path = cs.entity_path;
  // As the .NET SDK's RelayConnectionStringBuilder: "Authentication=Managed Identity" selects managed identity.
  if (hc::iequals(cs.authentication, "Managed Identity") || hc::iequals(cs.authentication, "ManagedIdentity")) {
    r.auth_mode = "entra";
    r.entra.credential = "managed-identity";
  }
  return r;
}

void merge_relay_settings(RelaySettings& base, const RelaySettings& layer) {
  if (!layer.endpoint.empty()) base.endpoint = layer.endpoint;
  if (!layer.ca_file.empty()) base.ca_file = layer.ca_file;
  const bool key_kind = !layer.key_name.empty() || !layer.key.empty() || !layer.key_file.empty();
  const bool sas_kind = !layer.sas.empty();
  if (layer.no_auth) {
    base.key_name.clear();
    base.key.clear();
    base.key_file.clear();
    base.sas.clear();
    base.entity_path.clear();
    base.no_auth = true;
  }
  if (key_kind || sas_kind) {
    base.no_auth = false;
    if (layer.entity_path.empty()) base.entity_path.clear();
  }
  if (sas_kind) {
    base.key_name.clear();
    base.key.clear();
    base.key_file.clear();
    base.sas = layer.sas;
  }
  if (key_kind) base.sas.clear();
  if (!layer.key_name.empty()) base.key_name = layer.key_name;
  // key and key_file replace each other; a validated layer has both (the file's content is in key).
  if (!layer.key.empty() || !layer.key_file.empty()) {
    base.key = layer.key;
    base.key_file = layer.key_file;
  }
  if (!layer.entity_path.empty()) base.entity_path = layer.entity_path;
  // Authentication: a layer that picks SAS (or no token) drops the base's Entra choice, one that picks Entra drops
  // the base's SAS credentials; Entra values are taken one by one (a forward may change only the client id).
  if (key_kind || sas_kind || layer.no_auth) base.auth_mode.clear();
  const bool entra_kind = layer.auth_mode == "entra" || !layer.entra.empty();
  if (entra_kind && !key_kind && !sas_kind) {
    base.key_name.clear();
    base.key.clear();
    base.key_file.clear();
    base.sas.clear();
    base.no_auth = false;
  }
  if (!layer.auth_mode.empty()) base.auth_mode = layer.auth_mode;
  EntraSettings& e = base.entra;
  const EntraSettings& l = layer.entra;
  for (auto [to, from] : {std::pair{&e.credential, &l.credential}, {&e.tenant_id, &l.tenant_id},
                          {&e.client_id, &l.client_id}, {&e.authority_host, &l.authority_host},
                          {&e.certificate_file, &l.certificate_file}, {&e.assertion_algorithm, &l.assertion_algorithm},
                          {&e.federated_token_file, &l.federated_token_file},
                          {&e.arc_key_directory, &l.arc_key_directory}})
    if (!from->empty()) *to = *from;
  if (!l.client_secret_file.empty() || !l.client_secret.empty()) {
    e.client_secret_file = l.client_secret_file;
    e.client_secret = l.client_secret;
  }
}

const std::array<const char*, 10> kAzureEnvNames = {
    "AZURE_TENANT_ID",      "AZURE_CLIENT_ID",    "AZURE_CLIENT_SECRET",     "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "AZURE_POD_IDENTITY_AUTHORITY_HOST", "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",      "IMDS_ENDPOINT"};

bool uses_entra(const RelaySettings& r) {
  if (r.no_auth || r.auth_mode == "sas") return false;
  if (r.auth_mode == "entra") return true;
  if (r.has_sas_credentials()) return false;
  if (!r.entra.empty()) return true;
  // No SAS and no explicit choice: Entra ID (as azbridge and the SDKs do), for every endpoint the user gave, loopback
  // included; unauthenticated access takes --no-auth. Only the built-in default (no endpoint given: the local hcrelay
  // hcbridge looks for) is reached without a token.
  return !is_default_endpoint(r.endpoint);
}

std::size_t descriptors_allowed(const Config& config) {
  std::size_t n = 32;
  for (const auto& f : config.local_forwards)
    n += 2 * f.max_connections.value_or(config.max_connections) + f.bindings.size() + 2;
  for (const auto& f : config.remote_forwards) {
    n += 2 * f.max_connections.value_or(config.max_connections) + 2;
    if (f.http) n += 2 * f.http->max_requests;
  }
  return n;
}

bool is_default_endpoint(const std::string& endpoint) {
  return endpoint.empty() || endpoint == kDefaultEndpoint;
}

RelaySettings effective_relay(const Config& config, const std::optional<RelaySettings>& forward_override) {
  RelaySettings r = config.relay;
  if (forward_override) merge_relay_settings(r, *forward_override);
  return r;
}

bool is_loopback_host(std::string_view host) {
  std::string h = hc::ascii_lower(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (!h.empty() && h.back() == '.') h.pop_back();
  if (h == "localhost") return true;
  if (h.size() > 10 && h.compare(h.size() - 10, 10, ".localhost") == 0) return true;
  in_addr a4{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) return a6.s6_addr[12] == 127;
  }
  return false;
}

std::string local_forward_name(const Config& config, const LocalForward& forward) {
  const std::string base = "L:" + forward.hc;
  const auto first_binding = [](const LocalForward& f) {
    if (f.bindings.empty()) return std::string();
    const LocalBinding& b = f.bindings.front();
    if (b.protocol == Protocol::unix_socket) return "unix:" + b.socket_path;
    return net::host_for_url(b.bind_host) + ":" + std::to_string(b.port);
  };
  const auto shares_hc = std::count_if(config.local_forwards.begin(), config.local_forwards.end(),
                                       [&](const LocalForward& f) { return f.hc == forward.hc; });
  if (shares_hc < 2) return base;
  const std::string mine = first_binding(forward);
  std::size_t twins = 0, position = 0;
  for (const auto& f : config.local_forwards) {
    if (f.hc != forward.hc || first_binding(f) != mine) continue;
    ++twins;
    if (position == 0 && f.origin == forward.origin) position = twins;
  }
  return base + "@" + mine + (twins > 1 ? "#" + std::to_string(position) : std::string());
}

}  // namespace bridge
