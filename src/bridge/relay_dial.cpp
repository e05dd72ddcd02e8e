#include "bridge/relay_dial.hpp"

#include "hc/url.hpp"
#include "net/proxy_connect.hpp"

#include <ctime>

namespace bridge {

namespace {

constexpr const char* kNoToken = "no relay token within the connect timeout (the Entra ID token is still being fetched)";

std::shared_ptr<net::PendingConnect> dial_now(asio::io_context& io, const RelayContext& relay, net::ClientOptions options,
                                              const std::string& hc, const std::string& tracking_id,
                                              net::ConnectHandler handler) {
  const auto& ep = relay.endpoint;
  const std::string token = relay.tokens->token_for(hc, static_cast<int64_t>(std::time(nullptr)));
  if (!token.empty()) options.headers.add("ServiceBusAuthorization", token);
  return net::async_ws_connect(io, hc::connect_url(ep.tls(), ep.host, ep.port, hc, tracking_id), std::move(options),
                               std::move(handler));
}

// A sender connect made while the relay's first token is still being fetched (an Entra ID token at start-up): it
// waits for the token, within the connect deadline, and then dials, so a client that arrives early is served rather
// than refused. The timer holds the object until it fires or is cancelled; the token wait holds it weakly.
class TokenWaitDial : public net::PendingConnect, public std::enable_shared_from_this<TokenWaitDial> {
 public:
  TokenWaitDial(asio::io_context& io, const RelayContext& relay, net::ClientOptions options, std::string hc,
                std::string tracking_id, net::ConnectHandler handler)
      : io_(io), relay_(relay), options_(std::move(options)), hc_(std::move(hc)), tracking_id_(std::move(tracking_id)),
        handler_(std::move(handler)), timer_(io) {}

  void start() {
    timer_.expires_after(options_.timeout);
    timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->on_timeout();
    });
    waiting_ = relay_.tokens->when_ready([weak = weak_from_this()] {
      if (auto self = weak.lock()) self->on_token_ready();
    });
  }

  void cancel() override {
    if (inner_) return inner_->cancel();
    complete(asio::error::operation_aborted, "cancelled while waiting for the relay token");
  }

 private:
  void on_token_ready() {
    if (!handler_) return;
    waiting_.reset();
    timer_.cancel();
    inner_ = dial_now(io_, relay_, std::move(options_), hc_, tracking_id_, std::move(handler_));
  }

  void on_timeout() {
    complete(asio::error::timed_out, kNoToken);
  }

  void complete(std::error_code ec, std::string why) {
    if (!handler_) return;
    waiting_.reset();
    timer_.cancel();
    net::ConnectResult result;
    result.reason = std::move(why);
    auto handler = std::move(handler_);
    handler_ = nullptr;
    handler(ec, std::move(result));
  }

  asio::io_context& io_;
  RelayContext relay_;
  net::ClientOptions options_;
  std::string hc_, tracking_id_;
  net::ConnectHandler handler_;
  asio::steady_timer timer_;
  Subscription waiting_;
  std::shared_ptr<net::PendingConnect> inner_;
};

}  // namespace

std::shared_ptr<net::PendingConnect> async_sender_connect(asio::io_context& io, const RelayContext& relay,
                                                          net::ClientOptions options, const std::string& hc,
                                                          const std::string& tracking_id, net::ConnectHandler handler) {
  if (relay.tokens->ready())
    return dial_now(io, relay, std::move(options), hc, tracking_id, std::move(handler));
  auto wait = std::make_shared<TokenWaitDial>(io, relay, std::move(options), hc, tracking_id, std::move(handler));
  wait->start();
  return wait;
}

const char* sender_connect_failure(std::error_code ec, const net::ConnectResult& result) {
  if (ec == net::ConnectError::http_status) return result.http_status == 404 ? "no_listener" : "relay_refused";
  if (ec == asio::error::timed_out && result.reason == kNoToken) return "no_token";
  const char* proxy_word = net::proxy_error_word(ec);
  return *proxy_word ? proxy_word : "relay_unreachable";
}

std::string describe_sender_failure(std::error_code ec, const net::ConnectResult& result) {
  if (ec == net::ConnectError::http_status) return std::to_string(result.http_status) + " " + result.reason;
  return result.reason.empty() ? ec.message() : result.reason;
}

}  // namespace bridge
