// Control-channel JSON messages: accept, request, renewToken, response (reference section 3).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "hc/result.hpp"

namespace hc {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct AcceptMessage {
  std::string address;
  std::string id;
  HeaderList connect_headers;
  std::string remote_address;
  int remote_port = 0;
};

struct RequestMessage {
  std::string address;
  std::string id;
  std::string request_target;
  std::string method;
  HeaderList request_headers;
  std::string remote_address;  // the sender as the relay saw it ("" when not given)
  int remote_port = 0;
  bool body = false;
  bool rendezvous_only = false;  // true when method is absent
};

struct RenewTokenMessage {
  std::string token;
};

struct ResponseMessage {
  std::string request_id;
  int status_code = 0;
  std::string status_description;
  HeaderList response_headers;
  bool body = false;
};

struct UnknownMessage {
  std::string name;
};

using ControlMessage = std::variant<AcceptMessage, RequestMessage, RenewTokenMessage, ResponseMessage, UnknownMessage>;

constexpr std::size_t kMaxControlMessageSize = 64 * 1024;

// Never throws; malformed, truncated, oversized or wrongly typed input gives an error naming the problem.
// An unknown message name is not an error (UnknownMessage), as .NET ignores unknown commands.
Result<ControlMessage> parse_control_message(std::string_view json);

// Builders emit compact JSON; invalid UTF-8 in any string is replaced with U+FFFD so the result is
// always a valid WebSocket text message.
// {"accept":{"address":..,"id":..,"connectHeaders":{..},"remoteEndpoint":{"address":..,"port":..}}}
// (remoteEndpoint omitted when remote_address is empty)
std::string build_accept_message(const AcceptMessage& m);
// {"renewToken":{"token":"..."}}
std::string build_renew_token_message(std::string_view token);
// {"response":{"requestId":..,"statusCode":N,["statusDescription":..,]"responseHeaders":{..},"body":b}}
std::string build_response_message(const ResponseMessage& m);
// rendezvous_only: {"request":{"address":..,"id":..}}; otherwise all fields ("address" omitted when empty,
// "remoteEndpoint" when remote_address is empty).
std::string build_request_message(const RequestMessage& m);

}  // namespace hc
