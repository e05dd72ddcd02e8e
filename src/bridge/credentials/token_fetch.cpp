#include "bridge/credentials/token_fetch.hpp"

#include "hc/crypto.hpp"
#include "hc/guid.hpp"
#include "hc/url.hpp"

#include <rapidjson/document.h>

#include <sys/stat.h>

#include <ctime>
#include <fstream>
#include <sstream>

namespace bridge {
namespace {

constexpr std::size_t kMaxArcKeyFile = 4096;
constexpr std::size_t kMaxFederatedToken = 64 * 1024;

// A JSON number or a decimal string (IMDS and App Service send numbers as strings).
std::optional<int64_t> number_or_text(const rapidjson::Value& v) {
  if (v.IsInt64()) return v.GetInt64();
  if (v.IsNumber()) return static_cast<int64_t>(v.GetDouble());
  if (!v.IsString() || v.GetStringLength() == 0 || v.GetStringLength() > 18) return std::nullopt;
  int64_t n = 0;
  for (const char* p = v.GetString(); *p; ++p) {
    if (*p < '0' || *p > '9') return std::nullopt;
    n = n * 10 + (*p - '0');
  }
  return n;
}

std::string text_member(const rapidjson::Value& o, const char* name, std::size_t max) {
  auto it = o.FindMember(name);
  if (it == o.MemberEnd() || !it->value.IsString()) return {};
  std::string s(it->value.GetString(), it->value.GetStringLength());
  if (s.size() > max) s = s.substr(0, max) + "...";
  for (char& c : s)
    if (c == '\r' || c == '\n') c = ' ';
  return s;
}

bool transient_status(int status) {
  return status == 404 || status == 408 || status == 410 || status == 429 || status >= 500;
}

hc::Result<std::string> read_small_file(const std::string& path, std::size_t max, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return hc::fail(std::string("cannot read the ") + what + " " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > max) return hc::fail(std::string("the ") + what + " " + path + " is too large");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  if (text.empty()) return hc::fail(std::string("the ") + what + " " + path + " is empty");
  return text;
}

std::string form(const std::vector<hc::QueryParam>& params) { return hc::build_query(params); }

}  // namespace

FetchOutcome parse_token_answer(int status, std::string_view body, int64_t now) {
  FetchOutcome out;
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  const bool object = !doc.HasParseError() && doc.IsObject();
  if (status != 200) {
    out.transient = transient_status(status);
    out.problem = "answered " + std::to_string(status);
    if (object) {
      const std::string error = text_member(doc, "error", 100);
      const std::string description = text_member(doc, "error_description", 300);
      if (!error.empty()) out.problem += " " + error;
      if (!description.empty()) out.problem += ": " + description;
    }
    return out;
  }
  if (!object) {
    out.problem = "answered 200 with a body that is not a JSON object";
    return out;
  }
  auto token = doc.FindMember("access_token");
  if (token == doc.MemberEnd() || !token->value.IsString() || token->value.GetStringLength() == 0) {
    out.problem = "answered 200 without an access_token";
    return out;
  }
  std::optional<int64_t> expiry;
  if (auto on = doc.FindMember("expires_on"); on != doc.MemberEnd()) expiry = number_or_text(on->value);
  if (!expiry)
    if (auto in = doc.FindMember("expires_in"); in != doc.MemberEnd())
      if (auto seconds = number_or_text(in->value)) expiry = now + *seconds;
  if (!expiry || *expiry <= now) {
    out.problem = "answered 200 without a usable expires_in/expires_on";
    return out;
  }
  out.ok = true;
  out.token = FetchedToken{std::string(token->value.GetString(), token->value.GetStringLength()), now, *expiry};
  return out;
}

hc::Result<std::string> checked_arc_key_file(const std::string* www_authenticate, const std::string& key_directory) {
  if (!www_authenticate) return hc::fail("the Arc challenge has no WWW-Authenticate header");
  const std::string& h = *www_authenticate;
  const auto eq = h.find("realm=");
  if (h.compare(0, 6, "Basic ") != 0 || eq == std::string::npos)
    return hc::fail("the Arc challenge is not 'Basic realm=<key file>'");
  std::string path = h.substr(eq + 6);
  if (path.size() >= 2 && path.front() == '"' && path.back() == '"') path = path.substr(1, path.size() - 2);
  const auto slash = path.rfind('/');
  std::string dir = key_directory;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  // Directly inside the agent's directory, no way out of it, and a .key name: anything else is a rogue endpoint
  // trying to make us read (and send) another file.
  if (slash == std::string::npos || path.substr(0, slash) != dir || path.find("..") != std::string::npos)
    return hc::fail("the Arc challenge names a key file outside " + dir);
  if (path.size() < 5 || path.compare(path.size() - 4, 4, ".key") != 0 || slash + 5 > path.size())
    return hc::fail("the Arc challenge names a file that is not a .key file");
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return hc::fail("the Arc key file named by the challenge is not a regular file");
  if (static_cast<std::size_t>(st.st_size) > kMaxArcKeyFile)
    return hc::fail("the Arc key file named by the challenge is larger than 4096 bytes");
  return path;
}

std::shared_ptr<TokenFetch> TokenFetch::start(asio::io_context& io, const EntraCredential& credential,
                                              const FetchContext& context, Handler handler) {
  auto fetch = std::make_shared<TokenFetch>(io, credential, context, std::move(handler));
  fetch->do_request({});
  return fetch;
}

TokenFetch::TokenFetch(asio::io_context& io, const EntraCredential& credential, const FetchContext& context,
                       Handler handler)
    : io_(io), credential_(credential), context_(context), handler_(std::move(handler)) {}

void TokenFetch::cancel() {
  if (request_) request_->cancel();
  handler_ = nullptr;
}

hc::Result<net::HttpRequestOptions> TokenFetch::build_request(const std::string& arc_secret) const {
  const EntraCredential& c = credential_;
  net::HttpRequestOptions o;
  o.timeout = context_.timeout;
  if (c.kind == EntraKind::managed_identity) {
    static const char* const kApiVersions[] = {"2018-02-01", "2020-06-01", "2019-08-01"};
    std::vector<hc::QueryParam> q{{"api-version", kApiVersions[static_cast<int>(c.source)]},
                                  {"resource", kRelayResource}};
    if (!c.client_id.empty()) q.push_back({"client_id", c.client_id});
    o.url = c.managed_endpoint + (c.managed_endpoint.find('?') == std::string::npos ? "?" : "&") + form(q);
    if (c.source == ManagedSource::app_service) o.headers.add("X-IDENTITY-HEADER", c.identity_header);
    else o.headers.add("Metadata", "true");
    if (!arc_secret.empty()) o.headers.add("Authorization", "Basic " + arc_secret);
    return o;  // never through the proxy (IMDS "isn't intended to be used behind a proxy")
  }
  std::vector<hc::QueryParam> f{{"grant_type", "client_credentials"}, {"client_id", c.client_id}};
  const std::string url = c.token_url();
  if (c.kind == EntraKind::client_secret) {
    f.push_back({"client_secret", c.client_secret});
  } else {
    std::string assertion;
    if (c.kind == EntraKind::client_certificate) {
      auto cert = load_client_certificate(c.certificate_file);  // re-read: a renewed certificate is picked up
      if (!cert) return hc::fail(cert.error());
      assertion = build_client_assertion(cert.value(), c.client_id, url, c.algorithm,
                                         static_cast<int64_t>(std::time(nullptr)), hc::new_guid());
    } else {
      auto federated = read_small_file(c.federated_token_file, kMaxFederatedToken, "federated token file");
      if (!federated) return hc::fail(federated.error());  // re-read every time: the kubelet rotates it
      assertion = std::move(federated.value());
    }
    f.push_back({"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"});
    f.push_back({"client_assertion", assertion});
  }
  f.push_back({"scope", kRelayScope});
  o.method = "POST";
  o.url = url;
  o.headers.add("Content-Type", "application/x-www-form-urlencoded");
  o.body = form(f);
  o.tls = context_.tls;
  o.proxy = context_.proxy;
  return o;
}

void TokenFetch::do_request(const std::string& arc_secret) {
  sent_at_ = static_cast<int64_t>(std::time(nullptr));
  auto options = build_request(arc_secret);
  if (!options) {
    FetchOutcome out;
    out.problem = options.error();
    return asio::post(io_, [self = shared_from_this(), out] { self->finish(out); });
  }
  request_ = net::HttpRequest::start(
      io_, std::move(options.value()),
      [self = shared_from_this()](std::error_code ec, net::HttpResponse answer, std::string problem) {
        self->on_answer(ec, std::move(answer), problem);
      });
}

void TokenFetch::on_answer(std::error_code ec, net::HttpResponse answer, const std::string& problem) {
  request_.reset();
  if (ec) {
    FetchOutcome out;
    out.transient = true;
    out.problem = problem;
    return finish(out);
  }
  if (answer.status == 401 && credential_.source == ManagedSource::arc &&
      credential_.kind == EntraKind::managed_identity && !challenged_)
    return do_arc_challenge(answer);
  finish(parse_token_answer(answer.status, answer.body, sent_at_));
}

void TokenFetch::do_arc_challenge(const net::HttpResponse& answer) {
  challenged_ = true;
  auto file = checked_arc_key_file(answer.headers.find("WWW-Authenticate"), credential_.arc_key_directory);
  hc::Result<std::string> secret = file ? read_small_file(file.value(), kMaxArcKeyFile, "Arc key file")
                                        : hc::Result<std::string>(hc::fail(file.error()));
  if (!secret) {
    FetchOutcome out;
    out.problem = secret.error();
    return finish(out);
  }
  do_request(secret.value());
}

void TokenFetch::finish(FetchOutcome outcome) {
  if (!handler_) return;
  auto handler = std::move(handler_);
  handler_ = nullptr;
  handler(std::move(outcome));
}

}  // namespace bridge
