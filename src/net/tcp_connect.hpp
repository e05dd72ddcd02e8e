// Resolve + connect with a deadline: the one TCP dial every outbound connection starts with (local targets directly;
// relay and token endpoints through net::async_dial, which adds the optional HTTP proxy on top).
#pragma once

#include <asio.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace net {

using ResolveHandler = std::function<void(std::error_code, asio::ip::tcp::resolver::results_type)>;
using TcpConnectHandler = std::function<void(std::error_code, asio::ip::tcp::socket)>;

// asio's resolver runs getaddrinfo on a helper thread: two thread hand-offs per lookup. An IP literal (the relay
// and targets on a LAN, every test and benchmark) needs no lookup, so it completes at once, without that thread.
void async_resolve_host(asio::ip::tcp::resolver& resolver, const std::string& host, uint16_t port,
                        ResolveHandler handler);

// Every TCP connection we make or accept: TCP_NODELAY (frames and small replies leave at once), and TCP keep-alive
// probes after 60 s without traffic, every 10 s, 6 unanswered ending the connection. A peer that vanished without a
// FIN (a laptop that slept, a host that lost power, a NAT that forgot the flow) is then noticed about two minutes
// after it went silent, instead of its tunnel being held open for ever: hcbridge's own keep-alive frames keep the
// relay side of a quiet tunnel open, so nothing else would end it.
void tune_tcp_socket(asio::ip::tcp::socket& socket);

// A dial in progress. cancel(), called on the io_context's thread, makes the handler run with operation_aborted (once;
// never after it already ran), and a connect not yet started is never started.
class PendingDial {
 public:
  virtual ~PendingDial() = default;
  virtual void cancel() = 0;
};

// The handler runs exactly once: with a connected socket (TCP_NODELAY set), or with an error (resolve, connect,
// timed_out, operation_aborted) and a closed socket. The returned handle may be dropped when no cancel is needed.
std::shared_ptr<PendingDial> async_tcp_connect(asio::io_context& io, const std::string& host, uint16_t port,
                                               std::chrono::milliseconds timeout, TcpConnectHandler handler);

}  // namespace net
