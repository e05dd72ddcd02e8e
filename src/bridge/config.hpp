// The daemon's configuration model. It mirrors the config file (docs/configuration.md) and the CLI; both are parsed
// into this one shape, validated once, and the runtime reads only this.
#pragma once

#include "hc/result.hpp"
#include "hc/url.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hc {
struct ConnectionString;
}

namespace bridge {

using Seconds = std::chrono::duration<double>;

// A configured duration as the millisecond count timers and connect options take.
inline std::chrono::milliseconds ms(Seconds s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s.count() * 1000));
}

// Microsoft Entra ID settings (docs/configuration.md, "Entra ID"); empty fields fall back to the AZURE_* environment
// as the Azure SDKs read it (bridge/credentials/entra_credential.hpp).
struct EntraSettings {
  std::string credential;           // auto | client-secret | client-certificate | workload-identity | managed-identity
  std::string tenant_id;
  std::string client_id;            // the app registration, or a user-assigned managed identity
  std::string authority_host;       // default https://login.microsoftonline.com/ (sovereign clouds differ)
  std::string client_secret_file;   // first line: the client secret (instead of AZURE_CLIENT_SECRET)
  std::string client_secret;        // its content, read at validation (secret)
  std::string certificate_file;     // PEM certificate and key (AZURE_CLIENT_CERTIFICATE_PATH)
  std::string assertion_algorithm;  // ps256 (default) | rs256
  std::string federated_token_file; // AZURE_FEDERATED_TOKEN_FILE
  std::string arc_key_directory;    // where the Azure Arc agent writes its challenge files (default
                                    // /var/opt/azcmagent/tokens)
  bool empty() const {
    return credential.empty() && tenant_id.empty() && client_id.empty() && authority_host.empty() &&
           client_secret_file.empty() && certificate_file.empty() && assertion_algorithm.empty() &&
           federated_token_file.empty() && arc_key_directory.empty();
  }
};

// Where the relay is and how to authenticate. Any field may be empty; a forward's own settings override the global ones.
struct RelaySettings {
  std::string endpoint;          // sb://ns.servicebus.windows.net/, wss://host[:port]/ or ws://host[:port]/
  std::string key_name;          // SAS rule name
  std::string key;               // SAS key text (secret)
  std::string key_file;          // file holding the key (first line); preferred over `key` in config files
  std::string sas;               // pre-issued token (secret); cannot be renewed
  std::string ca_file;           // PEM bundle to verify the relay instead of the system store
  bool no_auth = false;          // send without a token (HC with client authorization disabled; senders only)
  std::string auth_mode;         // "sas", "entra" or "" (decided: SAS with a key or token; without one, Entra ID for
                                 // any endpoint but kDefaultEndpoint, which is reached without a token)
  EntraSettings entra;
  std::string entity_path;       // EntityPath of the connection string these settings came from ("" = none); checked
                                 // against the forward's hc by validate_config, not used at run time
  // Whether any SAS credential is given (a key name, key, key file or pre-issued token), complete or not.
  bool has_sas_credentials() const { return !key_name.empty() || !key.empty() || !key_file.empty() || !sas.empty(); }
};

// What a binding or target carries: TCP and Unix stream sockets in azbridge's stream mode, UDP in its datagram mode.
// `http` (local bindings only): a plain-HTTP listener whose requests go to the hybrid connection as HC HTTP requests
// (HttpEntrance); its port name is unused.
enum class Protocol { tcp, udp, unix_socket, http };
const char* protocol_name(Protocol p);  // "tcp", "udp", "unix", "http" (the config file's words)

// A Unix socket binding's file: its permissions, and its owner and group (names or numeric ids; set only when given,
// which needs root unless they are the daemon's own).
struct SocketFileSettings {
  unsigned mode = 0660;
  std::string owner;
  std::string group;
};

// Local forward (sender side): accept TCP (or receive UDP) on these addresses, open a sender WebSocket per client
// (per client address for UDP).
struct LocalBinding {
  std::string bind_host = "127.0.0.1";  // loopback unless told otherwise
  uint16_t port = 0;
  std::string port_name;                // sent in the azbridge preamble; default: the port number as text ("5353U" for UDP),
                                        // for a Unix socket the path as written (azbridge's "socket text")
  Protocol protocol = Protocol::tcp;
  std::string socket_path;              // Unix socket bindings: the path to listen on (bind_host and port unused)
  SocketFileSettings socket_file;
};

// A local forward's HTTP entrance: its bindings with Protocol::http (config file: the local_forward's `http`).
struct HttpEntranceSettings {
  // The relay answers 504 itself when its listener is silent for 60 s; this is for a relay that says nothing at all:
  // no answer head within it -> 504. Also how long a body, either way, may stall before the request is given up.
  Seconds answer_timeout{75};
};

struct LocalForward {
  std::string hc;                       // hybrid connection name
  std::vector<LocalBinding> bindings;
  HttpEntranceSettings http;            // used by its Protocol::http bindings only
  bool raw = false;                     // no azbridge preamble
  std::optional<RelaySettings> relay;   // per-forward override
  std::optional<std::size_t> max_connections;
  std::optional<Seconds> idle_timeout;
  std::string origin;                   // for messages: "-L '8080:web'" or "FILE:LINE: local_forward[0]"
};

// Remote forward (listener side): a control channel per HC; each accepted stream goes to the target its port name picks.
struct RemoteTarget {
  std::string port_name;                // default: the port number as text ("53U" for UDP), the path for a Unix socket
  std::string host = "localhost";
  uint16_t port = 0;
  Protocol protocol = Protocol::tcp;
  std::string socket_path;              // Unix socket targets: the path to connect to (host and port unused)
};

// A published local web server (-H, `http` in a remote forward): the HTTP requests the relay hands this listener
// (HC HTTP request mode) are sent to it. The target URL is base_path + the request's path after the HC name.
struct HttpTarget {
  bool tls = false;                     // https://: the server's certificate is verified unless `insecure`
  std::string host = "localhost";
  uint16_t port = 0;                    // 0: 80 or 443
  std::string base_path;                // "" or "/a/b" (no trailing '/')
  bool insecure = false;                // skip TLS verification (logged as a warning)
  std::string ca_file;                  // PEM bundle to verify it instead of the system store
  bool preserve_host = false;           // send the sender's Host instead of the target's
  Seconds connect_timeout{10};          // connect (and TLS handshake) to the server -> 504
  Seconds response_timeout{55};         // request sent to response head, and body idle -> 504 (the relay waits 60 s)
  // One piece of a streamed answer not taken by the relay within this: the request is aborted and the web server's
  // connection closed. A relay (and its sender) that takes nothing for a minute is stalled, not slow: a piece is at
  // most 64 KiB, so even a 10 KiB/s sender takes one every few seconds.
  Seconds write_timeout{60};
  std::size_t max_requests = 64;        // requests in flight; more are answered 503
};

// How a binding or target shows in messages and logs: "127.0.0.1:8080", "[::1]:5353/udp", "unix:/run/app.sock".
std::string binding_text(const LocalBinding& b);
std::string target_text(const RemoteTarget& t);

struct RemoteForward {
  std::string hc;
  std::vector<RemoteTarget> targets;
  std::optional<HttpTarget> http;       // HTTP request mode; a forward may have targets, http or both
  bool raw = false;                     // no preamble; only one target allowed
  std::optional<RelaySettings> relay;
  std::optional<std::size_t> max_connections;
  std::optional<Seconds> idle_timeout;
  std::string origin;                   // "-T '...'", "-R '...'" or "FILE:LINE: remote_forward[0]"
};

// The outbound HTTP proxy (docs/configuration.md, "Outbound proxy"); resolved against the environment by
// make_proxy_policy (bridge/proxy_settings.hpp).
struct ProxyConfig {
  std::optional<std::string> url;       // --proxy / proxy.url; "none" = off; unset: https_proxy, HTTPS_PROXY, ...
  std::optional<std::string> no_proxy;  // --no-proxy / proxy.no_proxy; unset: no_proxy, NO_PROXY
  std::string credentials_file;         // --proxy-credentials-file / proxy.credentials_file
  std::string credentials;              // its first line, "user:password", read at validation (secret)
  // The proxy variables of the environment (https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY, no_proxy, NO_PROXY) as
  // the command line was parsed: check-config, start and reload all see the same values.
  std::map<std::string, std::string> env;
};

// The AZURE_* / IDENTITY_* / IMDS_* variables the Entra credentials read, captured when the command line is parsed.
using AzureEnv = std::map<std::string, std::string>;
extern const std::array<const char*, 10> kAzureEnvNames;

struct Config {
  RelaySettings relay;
  ProxyConfig proxy;
  AzureEnv azure_env;
  std::vector<LocalForward> local_forwards;
  std::vector<RemoteForward> remote_forwards;

  Seconds token_ttl{3600};              // lifetime of tokens we issue from the key
  Seconds keepalive{30};                // control-channel ping interval (a dead channel is noticed within two), and
                                        // the longest a tunnel goes without sending a frame (keep-alive pong)
  Seconds connect_timeout{20};          // relay connect + TLS + upgrade, and target connects
  Seconds preamble_timeout{30};         // how long a listener waits for the azbridge preamble
  Seconds backoff_initial{1};           // first reconnect delay cap (full jitter below it)
  Seconds backoff_max{30};              // reconnect delay cap
  Seconds grace_period{10};             // SIGTERM: how long open tunnels may drain
  Seconds idle_timeout{0};              // per tunnel, 0 = off
  std::size_t max_connections = 1024;   // per forward, concurrent tunnels (UDP: routes, one per client address)
  Seconds udp_idle_timeout{240};        // a UDP route without a datagram either way for this long ends (azbridge: 4 min)

  std::string log_level = "info";
  std::string log_format = "text";
  std::string admin_bind;               // ADDR:PORT of the admin endpoint, "" = off

  std::string source_file;              // the config file it came from, if any (for reload)
};

// The file descriptors this configuration may hold at once: two per tunnel (UDP route, HTTP request) that every
// forward's max_connections (and max_requests) allows, plus a few per forward (listeners, control channel) and some
// for the process itself. Compared against the open-file limit at start and on reload.
std::size_t descriptors_allowed(const Config& config);

// The default relay when none is configured: a local hcrelay on its default port.
constexpr const char* kDefaultEndpoint = "ws://127.0.0.1:9350/";

// Whether these (merged) settings authenticate with an Entra ID token: auth.mode entra; or, without an explicit mode,
// no SAS credentials and no no_auth, and Entra settings given or an endpoint other than kDefaultEndpoint.
bool uses_entra(const RelaySettings& r);
// No endpoint given (or the built-in one): the local hcrelay, reached without a token.
bool is_default_endpoint(const std::string& endpoint);

// The relay settings a forward uses: its own fields where set, else the global ones.
RelaySettings effective_relay(const Config& config, const std::optional<RelaySettings>& forward_override);

// ---- Loading and validation helpers (config.cpp, config_validate.cpp) ----

// The relay settings a parsed connection string gives (endpoint as "scheme://authority/path", credentials,
// EntityPath); used for -x, HCBRIDGE_CONNECTION_STRING and the config file's connection_string alike.
RelaySettings relay_settings_from(const hc::ConnectionString& cs);

// A number as messages show it: "%.15g" (30, 0.5, 1e+20).
std::string format_number(double v);

// Lays `layer` over `base` (used for file < connection string < flags, and for a forward's override):
//  - endpoint, key_name, ca_file, entity_path: taken from `layer` where non-empty;
//  - credentials are replaced as a set: a layer with `sas` drops the base's key_name/key/key_file; a layer with any of
//    key_name/key/key_file drops the base's sas; `key` and `key_file` replace each other; a layer with credentials but
//    no entity_path drops the base's entity_path;
//  - a layer with no_auth drops all base credentials; a layer with credentials clears the base's no_auth.
void merge_relay_settings(RelaySettings& base, const RelaySettings& layer);

// Range check of a duration setting by its config-file key (token_ttl, keepalive, connect_timeout, preamble_timeout,
// backoff_initial, backoff_max, grace_period, idle_timeout): "" when fine, else e.g.
// "must be between 1 and 3600 seconds (got 0)".
std::string check_duration(std::string_view key, double seconds);
// The same for max_connections (1..1000000).
std::string check_max_connections(double value);
constexpr std::size_t kMaxConnectionsLimit = 1000000;

// localhost, *.localhost, 127.0.0.0/8, ::1 (host as in hc::Uri::host, IPv6 without brackets).
bool is_loopback_host(std::string_view host);

// Checks the whole configuration once, after all sources are merged, and completes it: endpoint defaults to
// kDefaultEndpoint and is normalised to "scheme://authority/", key files are read into `key`, empty port names become
// the port number, "*" binds become "0.0.0.0". Errors are single clear sentences that never contain a secret;
// non-fatal findings are appended to `warnings`.
hc::Result<bool> validate_config(Config& config, std::vector<std::string>& warnings);

// The name a local forward goes by in logs, metrics and /readyz: `L:<hc>`, or, when several local forwards use the
// same hybrid connection, `L:<hc>@<host>:<port>` after the first binding (plus `#N` when even that is shared, as
// with port 0), so their limits, metric series and readiness entries stay apart.
std::string local_forward_name(const Config& config, const LocalForward& forward);

}  // namespace bridge
