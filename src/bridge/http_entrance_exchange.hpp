// One request through a local HTTP entrance, in the shape of Asio's HTTP server `connection`: (100 Continue) ->
// the relay token -> a connection to the relay (the one kept from the last request, or a new one) -> the request head
// with our token -> the body piped to the relay as it arrives, while the answer's head and body are piped back to the
// client as they arrive (a read from one side, written to the other, before the next read: backpressure, one buffer
// each way). Errors before the answer: relay unreachable -> 502, no answer in time -> 504, with a short text and a
// log line carrying the request's id. Each request ends with an access-log line and hcbridge_http_* metrics.
#pragma once

#include "bridge/http_entrance.hpp"
#include "bridge/http_entrance_rules.hpp"
#include "bridge/token_source.hpp"
#include "net/http_body.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace bridge {

class HttpEntranceExchange : public std::enable_shared_from_this<HttpEntranceExchange> {
 public:
  // `early`: what the client sent after the head in the same read (body bytes, maybe the next request).
  HttpEntranceExchange(std::shared_ptr<HttpEntrance> conn, net::http::RequestHead head, std::string early);
  void start();
  void cancel();

 private:
  bool check_request();
  void do_continue();
  void do_token();
  void do_connect();
  void on_connect(std::error_code ec, const std::string& problem);
  void do_send_head();
  void on_head_sent(std::error_code ec);
  void do_read_request_body();
  void on_request_body(std::error_code ec, std::size_t n);
  std::string take_request_body(const char* data, std::size_t size);
  void do_read_response_head();
  void on_response_head(std::error_code ec, std::size_t n);
  bool retry_on_new_connection();
  void on_head_complete(std::size_t used, std::size_t n);
  void do_write_client(std::string data);
  void on_client_written(std::error_code ec);
  void do_read_response_body();
  void on_response_body(std::error_code ec, std::size_t n);
  void respond_error(int status, const std::string& text, const std::string& why);
  // `status`: what the request counts as when no answer was given (502, or 499 when the client went away).
  void abort(const std::string& why, int status = 502);
  void finish();
  void arm_timer(std::chrono::milliseconds after, int status, const char* what);

  std::shared_ptr<HttpEntrance> conn_;
  LocalForwarder& owner_;
  net::http::RequestHead head_;
  std::string early_;
  std::string id_, target_, path_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  asio::steady_timer timer_;
  Subscription token_wait_;
  net::http::RequestFraming framing_;
  BodyCopier request_body_{Framing::none, 0, Framing::none};
  std::string next_request_;  // bytes after this request's body: the start of the next request
  bool keep_alive_ = false;
  std::shared_ptr<RelayHttpConnection> upstream_;
  bool reused_ = false, retried_ = false;
  std::string up_write_;
  std::vector<char> ubuf_;
  net::http::ResponseParser parser_;
  bool got_answer_bytes_ = false;
  BodyCopier response_body_{Framing::none, 0, Framing::none};
  bool relay_keeps_ = false;   // the relay connection may carry the next request
  std::string client_write_;
  int status_ = 0;
  bool request_done_ = false;   // the whole request body was read from the client
  bool answering_ = false;      // the answer's head is on its way to the client: errors can only cut it short now
  bool close_after_ = false;    // the client's connection ends with this answer
  bool reading_client_ = false;
  bool finished_ = false, cancelled_ = false;
};

}  // namespace bridge
