// The azbridge stream preamble on a live WebSocket, for both roles. Bytes that arrive in the same message after the
// preamble (or after the reply) are payload and are handed back so the tunnel writes them first.
#pragma once

#include "hc/preamble.hpp"
#include "net/websocket.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace bridge {

struct PreambleRequest {
  hc::PreambleMode mode = hc::PreambleMode::stream;
  std::string port_name;
  std::string leftover;  // payload that followed the preamble
  std::string error;     // set when the preamble was bad (the parser's text)
  std::string reply_on_error;  // what azbridge answers for that error ("" = close without reply)
};

// Listener side: reads the sender's preamble, within `timeout`.
void async_read_preamble(const std::shared_ptr<net::WebSocket>& ws, std::chrono::milliseconds timeout,
                         std::function<void(std::error_code, PreambleRequest)> handler);

// Sender side: sends the preamble for `port_name` and waits for the listener's 3-byte reply, within `timeout`.
// On success the handler gets the payload that followed the reply. A refusal is reported as an error text.
// `mode` datagram (UDP) accepts only the reply {1,0,1}, stream only {1,0,0}.
void async_send_preamble(const std::shared_ptr<net::WebSocket>& ws, const std::string& port_name,
                         std::chrono::milliseconds timeout,
                         std::function<void(std::error_code, std::string leftover, std::string refusal)> handler,
                         hc::PreambleMode mode = hc::PreambleMode::stream);

// Listener side: sends a reply (accepted or one of the refusals).
void async_send_reply(const std::shared_ptr<net::WebSocket>& ws, std::string reply,
                      std::function<void(std::error_code)> handler);

}  // namespace bridge
