// Opening a WebSocket as a client: net::async_dial (TCP, directly or through an HTTP CONNECT proxy), TLS with SNI and
// peer verification for the WebSocket's host (never the proxy's), HTTP upgrade. One deadline covers all of it. The result says what the server answered, so callers can tell 401 from 404 from a dead network.
#pragma once

#include "net/dialer.hpp"
#include "net/http_head.hpp"
#include "net/websocket.hpp"

#include <asio/ssl.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace net {

struct ClientOptions {
  std::shared_ptr<asio::ssl::context> tls;  // required for wss:// URLs
  http::Headers headers;                    // extra upgrade headers (e.g. ServiceBusAuthorization)
  std::chrono::milliseconds timeout{20000};
  std::shared_ptr<const ProxyPolicy> proxy;  // null: direct; else the policy decides for this URL's host and port
  WebSocket::Options ws;
};

struct ConnectResult {
  std::shared_ptr<WebSocket> ws;  // set on success
  int http_status = 0;            // the server's status when it refused the upgrade; 0 when there was no answer
  std::string reason;             // the server's reason phrase, or what went wrong (a proxy named masked)
  http::Headers response_headers;
};

using ConnectHandler = std::function<void(std::error_code, ConnectResult)>;

enum class ConnectError { http_status = 1, bad_handshake, bad_url };
const std::error_category& connect_category();
inline std::error_code make_error_code(ConnectError e) { return {static_cast<int>(e), connect_category()}; }

// cancel(): the handler then runs with operation_aborted.
using PendingConnect = PendingDial;

// `url` is ws://host[:port]/target or wss://...; http(s) and sb schemes are not accepted here.
std::shared_ptr<PendingConnect> async_ws_connect(asio::io_context& io, const std::string& url, ClientOptions options,
                                                 ConnectHandler handler);

}  // namespace net

namespace std {
template <>
struct is_error_code_enum<net::ConnectError> : true_type {};
}  // namespace std
