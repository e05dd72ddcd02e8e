// net::http::ChunkedDecoder and request_framing.
// Invariants:
//  - the decoder fed the whole input at once and in chunks of an input-chosen size ends in the same status, consumes
//    the same bytes and yields the same payload; a finished decoder takes nothing more;
//  - the payload is never longer than the bytes consumed;
//  - re-encoding a decoded payload as one chunk decodes to the same payload.
#include "fuzz_check.hpp"

#include "net/http_body.hpp"

#include <string>

namespace http = net::http;

namespace {

struct Run {
  http::ChunkedDecoder decoder;
  std::string out;
  std::size_t consumed = 0;
  http::ParseStatus status = http::ParseStatus::need_more;
};

void feed_in_pieces(const std::string& in, std::size_t piece, Run& r) {
  std::size_t pos = 0;
  while (pos < in.size() && r.status == http::ParseStatus::need_more) {
    const std::size_t n = std::min(piece, in.size() - pos);
    std::size_t used = 0;
    r.status = r.decoder.feed(in.data() + pos, n, used, r.out);
    FUZZ_CHECK(used <= n, "consumed more than given");
    r.consumed += used;
    if (used < n) break;
    pos += n;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const std::size_t piece = size == 0 ? 1 : 1 + data[size - 1] % 13;

  Run whole, split;
  feed_in_pieces(in, in.size() + 1, whole);
  feed_in_pieces(in, piece, split);
  FUZZ_CHECK(whole.status == split.status, "status depends on how the input was split");
  FUZZ_CHECK(whole.out == split.out, "payload depends on how the input was split");
  FUZZ_CHECK(whole.out.size() <= whole.consumed, "payload longer than the input consumed");
  if (whole.status != http::ParseStatus::need_more) {
    FUZZ_CHECK(whole.consumed == split.consumed, "consumed depends on how the input was split");
    std::size_t used = 1;
    std::string extra;
    FUZZ_CHECK(whole.decoder.feed("0", 1, used, extra) == whole.status && used == 0, "finished decoder took more");
  }
  if (whole.status == http::ParseStatus::good && !whole.out.empty()) {
    char hex[32];
    std::snprintf(hex, sizeof hex, "%zx\r\n", whole.out.size());
    const std::string again = hex + whole.out + "\r\n0\r\n\r\n";
    Run re;
    feed_in_pieces(again, again.size() + 1, re);
    FUZZ_CHECK(re.status == http::ParseStatus::good && re.out == whole.out, "re-encoded payload does not round-trip");
  }
  http::Headers h;
  h.add("Content-Length", in.substr(0, 20));
  (void)http::request_framing(h);
  return 0;
}
