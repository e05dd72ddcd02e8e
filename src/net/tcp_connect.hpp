// Resolve + connect with a deadline, for local targets.
#pragma once

#include <asio.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace net {

using ResolveHandler = std::function<void(std::error_code, asio::ip::tcp::resolver::results_type)>;

// asio's resolver runs getaddrinfo on a helper thread: two thread hand-offs per lookup. An IP literal (the relay
// and targets on a LAN, every test and benchmark) needs no lookup, so it completes at once, without that thread.
void async_resolve_host(asio::ip::tcp::resolver& resolver, const std::string& host, uint16_t port,
                        ResolveHandler handler);

void async_tcp_connect(asio::io_context& io, const std::string& host, uint16_t port, std::chrono::milliseconds timeout,
                       std::function<void(std::error_code, asio::ip::tcp::socket)> handler);

}  // namespace net
