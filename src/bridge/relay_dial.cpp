#include "bridge/relay_dial.hpp"

#include "hc/url.hpp"
#include "net/proxy_connect.hpp"

#include <ctime>

namespace bridge {

std::shared_ptr<net::PendingConnect> async_sender_connect(asio::io_context& io, const RelayContext& relay,
                                                          net::ClientOptions options, const std::string& hc,
                                                          const std::string& tracking_id, net::ConnectHandler handler) {
  const auto& ep = relay.endpoint;
  const std::string token = relay.tokens->token_for(hc, static_cast<int64_t>(std::time(nullptr)));
  if (!token.empty()) options.headers.add("ServiceBusAuthorization", token);
  return net::async_ws_connect(io, hc::connect_url(ep.tls(), ep.host, ep.port, hc, tracking_id), std::move(options),
                               std::move(handler));
}

const char* sender_connect_failure(std::error_code ec, const net::ConnectResult& result) {
  if (ec == net::ConnectError::http_status) return result.http_status == 404 ? "no_listener" : "relay_refused";
  const char* proxy_word = net::proxy_error_word(ec);
  return *proxy_word ? proxy_word : "relay_unreachable";
}

std::string describe_sender_failure(std::error_code ec, const net::ConnectResult& result) {
  if (ec == net::ConnectError::http_status) return std::to_string(result.http_status) + " " + result.reason;
  return result.reason.empty() ? ec.message() : result.reason;
}

}  // namespace bridge
