// net::http RequestParser / ResponseParser, the upgrade checks and the serialisers.
// Invariants:
//  - each parser fed the whole input, byte by byte, and in chunks of an input-chosen size ends in the same status,
//    consumes the same bytes, and yields the same head or error; finished parsers take nothing more;
//  - a parser with a small size limit agrees with the default one on heads that fit, and refuses larger ones;
//  - a parsed head serialised again (start line + "Name: value" lines) parses to the same head;
//  - build_upgrade_request / build_upgrade_response / build_response fed the parsed headers (and input bytes as
//    host, target and reason) produce heads that parse, carry no injected header, and pass check_upgrade_*;
//  - check_upgrade_request / check_upgrade_response never crash on anything that parsed.
#include "fuzz_check.hpp"

#include "net/http_head.hpp"

#include <cctype>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

namespace http = net::http;

namespace {

constexpr std::size_t kSmallLimit = 300;
constexpr const char* kKey = "dGhlIHNhbXBsZSBub25jZQ==";

bool same_headers(const http::Headers& a, const http::Headers& b) {
  if (a.list.size() != b.list.size()) return false;
  for (std::size_t i = 0; i < a.list.size(); ++i)
    if (a.list[i].name != b.list[i].name || a.list[i].value != b.list[i].value) return false;
  return true;
}

bool same(const http::RequestHead& a, const http::RequestHead& b) {
  return a.method == b.method && a.target == b.target && a.version_minor == b.version_minor && same_headers(a.headers, b.headers);
}
bool same(const http::ResponseHead& a, const http::ResponseHead& b) {
  return a.status == b.status && a.reason == b.reason && a.version_minor == b.version_minor && same_headers(a.headers, b.headers);
}

template <class Parser>
struct Run {
  Parser parser;
  http::ParseStatus status = http::ParseStatus::need_more;
  std::size_t consumed = 0;
  explicit Run(std::size_t limit) : parser(limit) {}
};

// chunk 0 = everything at once.
template <class Parser>
void feed(Run<Parser>& run, const std::string& in, std::size_t chunk) {
  std::size_t pos = 0;
  while (true) {
    const std::size_t n = chunk == 0 ? in.size() - pos : std::min(chunk, in.size() - pos);
    std::size_t used = 99999;
    run.status = run.parser.feed(in.data() + pos, n, used);
    FUZZ_CHECK(used <= n, "consumed more than given");
    FUZZ_CHECK(run.status == run.parser.status(), "status() differs from feed()");
    if (run.status == http::ParseStatus::need_more) FUZZ_CHECK(used == n, "need_more left bytes");
    run.consumed += used;
    pos += n;
    if (run.status != http::ParseStatus::need_more || pos >= in.size()) break;
  }
  if (run.status != http::ParseStatus::need_more) {
    std::size_t used = 99999;
    FUZZ_CHECK(run.parser.feed(in.data(), in.size(), used) == run.status && used == 0, "finished parser took more");
    FUZZ_CHECK((run.status == http::ParseStatus::bad) == !run.parser.error().empty(), "error set iff bad");
  }
}

template <class Parser>
void check_splits(const std::string& in, std::size_t chunk, Run<Parser>& whole) {
  feed(whole, in, 0);
  for (std::size_t c : {std::size_t{1}, chunk}) {
    Run<Parser> split(http::kMaxHeadSize);
    feed(split, in, c);
    FUZZ_CHECK(split.status == whole.status && split.consumed == whole.consumed &&
                   split.parser.error() == whole.parser.error() && same(split.parser.head(), whole.parser.head()),
               "chunk size " + std::to_string(c) + " differs from the whole input: " + fuzz::show(in));
  }
  Run<Parser> small(kSmallLimit);
  feed(small, in, chunk);
  if (whole.status == http::ParseStatus::good && whole.consumed <= kSmallLimit)
    FUZZ_CHECK(small.status == http::ParseStatus::good && same(small.parser.head(), whole.parser.head()),
               "small limit refused a head that fits: " + fuzz::show(in));
  if (whole.status == http::ParseStatus::good && whole.consumed > kSmallLimit)
    FUZZ_CHECK(small.status == http::ParseStatus::bad && small.consumed <= kSmallLimit, "small limit accepted a large head");
  if (whole.status == http::ParseStatus::need_more && in.size() > kSmallLimit)
    FUZZ_CHECK(small.status == http::ParseStatus::bad, "small limit still waiting after " + std::to_string(in.size()));
}

std::string header_lines(const http::Headers& h) {
  std::string out;
  for (const auto& f : h.list) out += f.name + ": " + f.value + "\r\n";
  return out;
}

template <class Head>
Head parse_good(const std::string& text, const char* what) {
  Run<typename std::conditional<std::is_same<Head, http::RequestHead>::value, http::RequestParser, http::ResponseParser>::type>
      run(http::kMaxHeadSize);
  feed(run, text, 0);
  FUZZ_CHECK(run.status == http::ParseStatus::good && run.consumed <= text.size(),
             std::string(what) + " does not parse: " + fuzz::show(text) + ": " + run.parser.error());
  return run.parser.head();
}

bool fits(const std::string& head, std::size_t header_count) {
  return head.size() <= http::kMaxHeadSize && header_count <= http::kMaxHeaders;
}

bool is_one_of(const std::string& name, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (name.size() != std::char_traits<char>::length(n)) continue;
    bool eq = true;
    for (std::size_t i = 0; i < name.size() && eq; ++i) eq = std::tolower(static_cast<unsigned char>(name[i])) == std::tolower(static_cast<unsigned char>(n[i]));
    if (eq) return true;
  }
  return false;
}

void check_request(const http::RequestHead& head, const std::string& in) {
  (void)http::check_upgrade_request(head);
  for (const auto& f : head.headers.list) {
    FUZZ_CHECK(!f.name.empty(), "empty header name");
    for (char c : f.value) FUZZ_CHECK(c == '\t' || !(static_cast<unsigned char>(c) < 0x20 || c == 0x7f), "control character in a value");
    FUZZ_CHECK(f.value.empty() || (f.value.front() != ' ' && f.value.back() != ' '), "value not trimmed");
  }
  // Serialise and parse again.
  const std::string again = head.method + " " + head.target + " HTTP/1." + std::to_string(head.version_minor) + "\r\n" +
                            header_lines(head.headers) + "\r\n";
  if (fits(again, head.headers.list.size()))
    FUZZ_CHECK(same(parse_good<http::RequestHead>(again, "re-serialised request"), head), "request round trip: " + fuzz::show(in));

  // The upgrade request builder with the parsed headers as extras.
  const std::string* host = head.headers.find("Host");
  const std::string built = http::build_upgrade_request(host ? *host : "example.com", head.target, kKey, head.headers);
  std::size_t extras = 0;
  for (const auto& f : head.headers.list)
    if (!is_one_of(f.name, {"Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version"})) ++extras;
  if (fits(built, extras + 5)) {
    const auto parsed = parse_good<http::RequestHead>(built, "build_upgrade_request");
    FUZZ_CHECK(parsed.headers.list.size() == extras + 5, "build_upgrade_request header count: " + fuzz::show(built));
    FUZZ_CHECK(http::check_upgrade_request(parsed).empty(),
               "build_upgrade_request output fails check_upgrade_request: " + http::check_upgrade_request(parsed));
    FUZZ_CHECK(parsed.target == head.target, "target changed by build_upgrade_request");
  }
}

void check_response(const http::ResponseHead& head, const std::string& in) {
  (void)http::check_upgrade_response(head, kKey);
  const std::string again = "HTTP/1." + std::to_string(head.version_minor) + " " + std::to_string(head.status) + " " +
                            head.reason + "\r\n" + header_lines(head.headers) + "\r\n";
  if (fits(again, head.headers.list.size())) {
    // "HTTP/1.1 200\r\n" (no space) and "HTTP/1.1 200 \r\n" both mean an empty reason.
    FUZZ_CHECK(same(parse_good<http::ResponseHead>(again, "re-serialised response"), head), "response round trip: " + fuzz::show(in));
  }

  // 101 with the parsed headers as extras.
  const std::string up = http::build_upgrade_response(http::websocket_accept_key(kKey), head.headers);
  std::size_t extras = 0;
  for (const auto& f : head.headers.list)
    if (!is_one_of(f.name, {"Upgrade", "Connection", "Sec-WebSocket-Accept"})) ++extras;
  if (fits(up, extras + 3)) {
    const auto parsed = parse_good<http::ResponseHead>(up, "build_upgrade_response");
    FUZZ_CHECK(parsed.headers.list.size() == extras + 3, "build_upgrade_response header count");
    const std::string verdict = http::check_upgrade_response(parsed, kKey);
    const std::string* first_ext = parsed.headers.find("Sec-WebSocket-Extensions");
    const bool ext_selected = first_ext != nullptr && !first_ext->empty();
    FUZZ_CHECK(verdict.empty() == !ext_selected, "check_upgrade_response on our own 101: " + fuzz::show(verdict));
  }

  // A plain answer with the parsed status, reason and headers.
  const std::string body = in.substr(0, 64);
  const std::string resp = http::build_response(head.status, head.reason, head.headers, body);
  std::size_t kept = 0;
  for (const auto& f : head.headers.list)
    if (!is_one_of(f.name, {"Content-Length", "Transfer-Encoding", "Connection"})) ++kept;
  if (fits(resp, kept + 2)) {
    Run<http::ResponseParser> run(http::kMaxHeadSize);
    feed(run, resp, 0);
    FUZZ_CHECK(run.status == http::ParseStatus::good && run.consumed == resp.size() - body.size(),
               "build_response does not parse: " + fuzz::show(resp));
    const auto& parsed = run.parser.head();
    FUZZ_CHECK(parsed.status == head.status, "build_response status");
    std::string reason = head.reason.substr(0, 512);
    for (char& c : reason)
      if (c == '\t') c = ' ';
    FUZZ_CHECK(parsed.reason.size() <= 512 && reason.compare(0, parsed.reason.size(), parsed.reason) == 0,
               "build_response reason: " + fuzz::show(parsed.reason) + " from " + fuzz::show(head.reason));
    FUZZ_CHECK(parsed.headers.list.size() == kept + 2, "build_response header count");
    const std::string* cl = parsed.headers.find("Content-Length");
    FUZZ_CHECK(cl && *cl == std::to_string(body.size()), "Content-Length");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const std::size_t chunk = size == 0 ? 1 : 1 + data[size - 1] % 13;

  Run<http::RequestParser> req(http::kMaxHeadSize);
  check_splits(in, chunk, req);
  if (req.status == http::ParseStatus::good) check_request(req.parser.head(), in);

  Run<http::ResponseParser> resp(http::kMaxHeadSize);
  check_splits(in, chunk, resp);
  if (resp.status == http::ParseStatus::good) check_response(resp.parser.head(), in);

  // Serialisers with raw input bytes: never an injected line.
  const std::string bytes = in.substr(0, 200);
  http::Headers extra;
  extra.add(bytes, bytes);
  extra.add("X-Fuzz", bytes);
  const std::string built = http::build_upgrade_request(bytes, bytes, kKey, extra);
  {
    Run<http::RequestParser> run(http::kMaxHeadSize);
    feed(run, built, 0);
    FUZZ_CHECK(run.status == http::ParseStatus::good && run.consumed == built.size(),
               "build_upgrade_request with raw bytes does not parse: " + fuzz::show(built));
    FUZZ_CHECK(run.parser.head().headers.list.size() <= 7, "header injection: " + fuzz::show(built));
  }
  const std::string answer = http::build_response(static_cast<int>(size) * 7 - 3, bytes, extra, "");
  {
    Run<http::ResponseParser> run(http::kMaxHeadSize);
    feed(run, answer, 0);
    FUZZ_CHECK(run.status == http::ParseStatus::good && run.consumed == answer.size(),
               "build_response with raw bytes does not parse: " + fuzz::show(answer));
    FUZZ_CHECK(run.parser.head().headers.list.size() <= 4, "header injection: " + fuzz::show(answer));
  }
  (void)http::split_target(in);
  return 0;
}
