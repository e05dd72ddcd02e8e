// hc::PreambleParser and hc::classify_preamble_reply.
// Invariants:
//  - the parser fed the whole buffer, one byte at a time, and in chunks of an input-chosen size reaches the same
//    status, consumes the same number of bytes, and reports the same port name, mode, error and bad_reply();
//  - once good or bad it consumes nothing more and keeps its status;
//  - good means exactly encode_preamble(mode, name) was consumed, with a valid port name;
//  - classify_preamble_reply agrees with the preamble_reply_* builders for both modes.
#include "fuzz_check.hpp"

#include "hc/preamble.hpp"

#include <string>

namespace {

struct Outcome {
  hc::ParseStatus status = hc::ParseStatus::need_more;
  std::size_t consumed = 0;
  std::string name, error, bad_reply;
  uint8_t mode = 0, major = 0, minor = 0;
  bool operator==(const Outcome& o) const {
    return status == o.status && consumed == o.consumed && name == o.name && error == o.error &&
           bad_reply == o.bad_reply && mode == o.mode && major == o.major && minor == o.minor;
  }
};

std::string describe(const Outcome& o) {
  return "status " + std::to_string(static_cast<int>(o.status)) + " consumed " + std::to_string(o.consumed) + " name " +
         fuzz::show(o.name) + " error " + fuzz::show(o.error);
}

Outcome run(const uint8_t* data, std::size_t size, std::size_t chunk) {
  hc::PreambleParser p;
  Outcome o;
  std::size_t pos = 0;
  while (true) {
    const std::size_t n = chunk == 0 ? size - pos : std::min(chunk, size - pos);
    std::size_t used = 12345;
    o.status = p.feed(data + pos, n, used);
    FUZZ_CHECK(used <= n, "consumed more than given");
    if (o.status == hc::ParseStatus::need_more) FUZZ_CHECK(used == n, "need_more left bytes unconsumed");
    o.consumed += used;
    pos += used;
    if (o.status != hc::ParseStatus::need_more || pos >= size) break;
  }
  // Finished parsers stay finished and take nothing.
  if (o.status != hc::ParseStatus::need_more && size > 0) {
    std::size_t used = 12345;
    FUZZ_CHECK(p.feed(data, size, used) == o.status && used == 0, "a finished parser consumed or changed status");
  }
  o.name = p.port_name();
  o.error = p.error();
  o.bad_reply = p.bad_reply();
  o.major = p.version_major();
  o.minor = p.version_minor();
  o.mode = static_cast<uint8_t>(p.mode());
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Outcome whole = run(data, size, 0);
  const Outcome bytes = run(data, size, 1);
  FUZZ_CHECK(whole == bytes, "whole: " + describe(whole) + " / byte by byte: " + describe(bytes));
  if (size > 0) {
    const Outcome chunks = run(data, size, 1 + data[size - 1] % 7);
    FUZZ_CHECK(whole == chunks, "whole: " + describe(whole) + " / chunks: " + describe(chunks));
  }

  const std::string input(reinterpret_cast<const char*>(data), size);
  switch (whole.status) {
    case hc::ParseStatus::good: {
      FUZZ_CHECK(hc::valid_port_name(whole.name), "good with an invalid name " + fuzz::show(whole.name));
      FUZZ_CHECK(whole.error.empty() && whole.bad_reply.empty(), "good with an error");
      const std::string expected = hc::encode_preamble(static_cast<hc::PreambleMode>(whole.mode), whole.name);
      FUZZ_CHECK(input.substr(0, whole.consumed) == expected, "consumed bytes are not the encoded preamble");
      break;
    }
    case hc::ParseStatus::bad:
      FUZZ_CHECK(!whole.error.empty(), "bad without an error");
      FUZZ_CHECK(whole.bad_reply.empty() || whole.bad_reply == hc::preamble_reply_bad_version(),
                 "bad_reply " + fuzz::show(whole.bad_reply));
      FUZZ_CHECK(whole.consumed <= 4 + 255, "consumed beyond a preamble");
      break;
    case hc::ParseStatus::need_more:
      FUZZ_CHECK(whole.consumed == size && size < 4 + 255, "need_more after " + std::to_string(size) + " bytes");
      FUZZ_CHECK(whole.error.empty() && whole.bad_reply.empty(), "need_more with an error");
      break;
  }

  if (size >= 3) {
    for (const auto mode : {hc::PreambleMode::stream, hc::PreambleMode::datagram}) {
      const hc::PreambleReply r = hc::classify_preamble_reply(data, mode);
      const std::string reply = input.substr(0, 3);
      hc::PreambleReply expected = hc::PreambleReply::invalid;
      if (reply == hc::preamble_reply_accepted(mode)) expected = hc::PreambleReply::accepted;
      else if (reply == hc::preamble_reply_bad_version()) expected = hc::PreambleReply::bad_version;
      else if (reply == hc::preamble_reply_need_datagram()) expected = hc::PreambleReply::need_datagram;
      else if (reply == hc::preamble_reply_need_stream()) expected = hc::PreambleReply::need_stream;
      FUZZ_CHECK(r == expected, "classify_preamble_reply " + fuzz::show(reply));
    }
  }

  // encode_preamble of the input as a port name: parses back when the name is valid.
  const std::string name = input.substr(0, 300);
  const std::string enc = hc::encode_preamble(hc::PreambleMode::stream, name);
  FUZZ_CHECK(enc.size() == 4 + std::min<std::size_t>(name.size(), 255) && static_cast<uint8_t>(enc[3]) == enc.size() - 4,
             "encode_preamble length byte");
  if (hc::valid_port_name(name)) {
    hc::PreambleParser p;
    std::size_t used = 0;
    FUZZ_CHECK(p.feed(reinterpret_cast<const uint8_t*>(enc.data()), enc.size(), used) == hc::ParseStatus::good &&
                   used == enc.size() && p.port_name() == name,
               "encoded preamble does not parse back: " + fuzz::show(name));
  }
  return 0;
}
