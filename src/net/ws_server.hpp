// The server half of the WebSocket handshake, split in two steps so a relay can look at the request (path, query,
// token) and then decide: upgrade now, hold it (a sender waiting for its listener), or answer with an HTTP error.
#pragma once

#include "net/http_head.hpp"
#include "net/websocket.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace net {

struct IncomingRequest {
  std::unique_ptr<Stream> stream;
  http::RequestHead head;
  std::string leftover;  // bytes after the head (frames the client sent early)
  tcp::endpoint peer;
};
using IncomingRequestPtr = std::shared_ptr<IncomingRequest>;

// TLS handshake (when the stream is TLS) and the request head, under one deadline.
void async_read_request(std::unique_ptr<Stream> stream, std::chrono::milliseconds timeout,
                        std::function<void(std::error_code, IncomingRequestPtr, std::string /*problem*/)> handler);

// The next request on a kept-alive connection (HTTP/1.1 persistence): no TLS handshake, `buffered` (bytes the previous
// exchange read past its request: pipelining) parsed first, `timeout` the idle limit for the whole next head.
void async_read_next_request(std::unique_ptr<Stream> stream, std::string buffered, std::chrono::milliseconds timeout,
                             std::function<void(std::error_code, IncomingRequestPtr, std::string /*problem*/)> handler);

// Answers 101 and turns the request into a WebSocket (server role).
void async_accept_upgrade(IncomingRequestPtr request, const http::Headers& extra, WebSocket::Options options,
                          std::function<void(std::error_code, std::shared_ptr<WebSocket>)> handler);

// Answers with a non-101 status and closes the connection.
void async_reject(IncomingRequestPtr request, int status, std::string_view reason, std::function<void()> done = {});
// Writes a whole prepared response (head and body, "Connection: close") and closes the connection gracefully.
void async_respond(IncomingRequestPtr request, std::string response_bytes, std::function<void()> done = {});

}  // namespace net
