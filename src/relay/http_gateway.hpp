// hcrelay's HTTP request mode (reference 1.7, 3.2-3.6, 5.3): plain HTTP(S) requests to /HC[/suffix] are authorised,
// cleaned of what the service strips, and handed to one of the HC's listeners as `request` messages; the listeners'
// rendezvous dials (sb-hc-action=request) and control-channel `response`s are routed back to them by id.
#pragma once

#include "net/websocket.hpp"
#include "net/ws_server.hpp"
#include "relay/config.hpp"
#include "relay/routing.hpp"

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace relay {

class ControlChannel;
class HttpExchange;

class HttpGateway {
 public:
  using Listeners = std::map<std::string, std::vector<std::shared_ptr<ControlChannel>>>;

  // `next_request` gets each further request read on a kept-alive sender connection (as a freshly read one: it may be
  // anything the relay serves), or the error that ended the wait for it.
  using NextRequest = std::function<void(std::error_code, const net::IncomingRequestPtr&, const std::string& problem)>;
  HttpGateway(const RelayConfig& config, const Listeners& listeners, NextRequest next_request);
  ~HttpGateway();

  // A request that is not a WebSocket upgrade and not under /$hc/: the HTTP sender path.
  void handle_request(const net::IncomingRequestPtr& request, bool tls);
  // sb-hc-action=request: a listener dialling the rendezvous of one of our requests.
  void handle_rendezvous(const net::IncomingRequestPtr& request, const HcRequest& hcr, net::WebSocket::Options options);
  // Routes a new control channel's `response` messages here.
  void attach(ControlChannel& channel);
  // Requests waiting on a listener that left get 502.
  void listener_gone(const ControlChannel& channel);
  void stop();
  std::size_t in_flight() const { return exchanges_.size(); }
  // Connections held: senders being answered and kept-alive ones waiting for their next request.
  std::size_t connections() const { return exchanges_.size() + kept_; }

 private:
  void answer_error(const net::IncomingRequestPtr& request, int status, const char* code, const std::string& message);
  std::shared_ptr<ControlChannel> pick_listener(const std::string& hc_name);
  void finished(HttpExchange& exchange);
  void keep(net::IncomingRequestPtr sender);

  const RelayConfig& config_;
  const Listeners& listeners_;
  NextRequest next_request_;
  std::size_t kept_ = 0;  // kept-alive sender connections waiting for their next request
  std::map<std::string, std::shared_ptr<HttpExchange>> exchanges_;  // by request id
  std::map<const ControlChannel*, std::size_t> per_listener_;
  std::mt19937_64 rng_{std::random_device{}()};
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace relay
