// Resolve + connect with a deadline, for local targets.
#pragma once

#include <asio.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace net {

void async_tcp_connect(asio::io_context& io, const std::string& host, uint16_t port, std::chrono::milliseconds timeout,
                       std::function<void(std::error_code, asio::ip::tcp::socket)> handler);

}  // namespace net
