// hc::DatagramDeframer (azbridge datagram framing: 2-byte big-endian length + payload, any split).
// Invariants:
//  - fed whole, one byte at a time, and in chunks of an input-chosen size, it yields the same datagrams;
//  - need_more consumes everything it is given; good consumes at most what it is given;
//  - re-encoding the datagrams with encode_datagram gives back exactly the bytes consumed up to the last one;
//  - it never holds more than one datagram (2 + 65535 bytes).
#include "fuzz_check.hpp"

#include "hc/datagram.hpp"

#include <string>
#include <vector>

namespace {

struct Outcome {
  std::vector<std::string> datagrams;
  std::size_t held_at_end = 0;
};

Outcome run(const uint8_t* data, std::size_t size, std::size_t chunk) {
  hc::DatagramDeframer d;
  Outcome o;
  std::size_t pos = 0;
  while (pos < size) {
    const std::size_t n = chunk == 0 ? size - pos : std::min(chunk, size - pos);
    std::size_t off = 0;
    while (true) {
      std::size_t used = 12345;
      const hc::ParseStatus s = d.feed(data + pos + off, n - off, used);
      FUZZ_CHECK(used <= n - off, "consumed more than given");
      off += used;
      FUZZ_CHECK(d.buffered() <= hc::kDatagramHeader + hc::kMaxDatagram, "holds more than one datagram");
      if (s == hc::ParseStatus::need_more) {
        FUZZ_CHECK(off == n, "need_more left bytes unconsumed");
        break;
      }
      FUZZ_CHECK(s == hc::ParseStatus::good, "a de-framer status other than good or need_more");
      FUZZ_CHECK(d.size() <= hc::kMaxDatagram, "datagram over 65535 bytes");
      o.datagrams.emplace_back(reinterpret_cast<const char*>(d.data()), d.size());
      if (off == n) break;
    }
    pos += n;
  }
  o.held_at_end = d.buffered();
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Outcome whole = run(data, size, 0);
  const Outcome bytes = run(data, size, 1);
  FUZZ_CHECK(whole.datagrams == bytes.datagrams && whole.held_at_end == bytes.held_at_end,
             "whole and byte-by-byte disagree");
  if (size > 0) {
    const Outcome chunks = run(data, size, 1 + data[size - 1] % 13);
    FUZZ_CHECK(whole.datagrams == chunks.datagrams && whole.held_at_end == chunks.held_at_end,
               "whole and chunked disagree");
  }
  std::string again;
  for (const auto& d : whole.datagrams) again += hc::encode_datagram(d);
  const std::string input(reinterpret_cast<const char*>(data), size);
  FUZZ_CHECK(again.size() + whole.held_at_end == size, "consumed and held bytes do not add up");
  FUZZ_CHECK(input.compare(0, again.size(), again) == 0, "re-encoded datagrams differ from the input");
  return 0;
}
