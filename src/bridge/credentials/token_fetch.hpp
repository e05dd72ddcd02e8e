// One Entra ID token fetch (reference egress-and-identity.md 2.2): the request for the credential's kind, the Arc
// challenge when there is one, and the answer read into a token and its expiry. A small class in the shape of every
// handshake here: start(), then one do_x/on_x pair per step, held alive by its pending request.
#pragma once

#include "bridge/credentials/entra_credential.hpp"
#include "net/http_request.hpp"

#include <asio.hpp>

#include <functional>
#include <memory>
#include <string>

namespace bridge {

struct FetchedToken {
  std::string token;  // secret
  int64_t issued = 0;
  int64_t expiry = 0;
};

// How a fetch ended: `transient` failures (network, 404 from IMDS, 408, 410, 429, 5xx) are retried quietly while a
// token lives; others (a refused client, a bad answer) need an operator and are logged as errors.
struct FetchOutcome {
  bool ok = false;
  FetchedToken token;
  bool transient = false;
  std::string problem;  // for logs: status, the OAuth error and its description; never a token or secret
};

// {access_token, expires_in | expires_on (numbers or strings, as IMDS sends them)} at 200; else the OAuth error.
FetchOutcome parse_token_answer(int status, std::string_view body, int64_t now);

// The realm of an Arc 401 challenge, accepted only when it names a regular "*.key" file of at most 4096 bytes directly
// inside `key_directory`; checked before the file is read. Errors name the rule that failed.
hc::Result<std::string> checked_arc_key_file(const std::string* www_authenticate, const std::string& key_directory);

struct FetchContext {
  std::shared_ptr<asio::ssl::context> tls;          // for the https token endpoint
  std::shared_ptr<const net::ProxyPolicy> proxy;    // token endpoint only; managed identity endpoints never use it
  std::chrono::milliseconds timeout{10000};
};

class TokenFetch : public std::enable_shared_from_this<TokenFetch> {
 public:
  using Handler = std::function<void(FetchOutcome)>;
  static std::shared_ptr<TokenFetch> start(asio::io_context& io, const EntraCredential& credential,
                                           const FetchContext& context, Handler handler);
  void cancel();

  TokenFetch(asio::io_context& io, const EntraCredential& credential, const FetchContext& context, Handler handler);

 private:
  void do_request(const std::string& arc_secret);
  void on_answer(std::error_code ec, net::HttpResponse answer, const std::string& problem);
  void do_arc_challenge(const net::HttpResponse& answer);
  hc::Result<net::HttpRequestOptions> build_request(const std::string& arc_secret) const;
  void finish(FetchOutcome outcome);

  asio::io_context& io_;
  const EntraCredential credential_;
  FetchContext context_;
  Handler handler_;
  std::shared_ptr<net::HttpRequest> request_;
  bool challenged_ = false;
  // When the request was sent: expires_in counts from here (as MSAL does), never from the answer's arrival, so a slow
  // answer or a second boundary crossed on the way cannot make us think a token lives longer than the issuer says.
  int64_t sent_at_ = 0;
};

}  // namespace bridge
