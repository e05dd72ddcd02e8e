// azbridge's datagram mode (azbridge.md 2.5): after the preamble {1,0,1,n,name} and the reply {1,0,1}, each UDP
// datagram travels as a 2-byte big-endian length followed by the payload. Our sender puts each framed datagram in
// exactly one binary WebSocket message (the C# receiver needs that); as a receiver we treat the messages as a byte
// stream, because another implementation may split a length or a payload across messages (the Rust port sends the
// length and the payload as two messages).
#pragma once

#include "hc/preamble.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hc {

constexpr std::size_t kDatagramHeader = 2;
constexpr std::size_t kMaxDatagram = 65535;  // what the 2-byte length can carry

// The 2-byte length in front of a payload of `size` bytes (precondition: size <= kMaxDatagram).
inline void write_datagram_header(std::size_t size, uint8_t out[kDatagramHeader]) {
  out[0] = static_cast<uint8_t>((size >> 8) & 0xff);
  out[1] = static_cast<uint8_t>(size & 0xff);
}

// Length + payload as one string (tests and small users; the data path writes the header in place instead).
// Precondition: payload.size() <= kMaxDatagram.
std::string encode_datagram(std::string_view payload);

// Incremental de-framer. feed() consumes bytes up to the end of the next complete datagram:
//  - good: a datagram is complete; data()/size() give it, valid until the next feed() and, when it was not split,
//    pointing into the caller's bytes (no copy). Call feed() again with the rest of the input.
//  - need_more: every byte was consumed and no datagram is complete yet (at most kMaxDatagram bytes are kept).
// There is no bad outcome: every length 0..65535 is valid.
class DatagramDeframer {
 public:
  ParseStatus feed(const uint8_t* data, std::size_t size, std::size_t& consumed);
  const uint8_t* data() const { return out_data_; }
  std::size_t size() const { return out_size_; }
  // Bytes of an unfinished datagram held (the header included): memory this de-framer uses.
  std::size_t buffered() const { return header_have_ + (header_have_ == kDatagramHeader ? partial_.size() : 0); }

 private:
  uint8_t header_[kDatagramHeader] = {0, 0};
  std::size_t header_have_ = 0;
  std::size_t want_ = 0;          // payload length of the datagram being read, once the header is complete
  std::vector<uint8_t> partial_;  // payload bytes of a datagram split across feeds
  const uint8_t* out_data_ = nullptr;
  std::size_t out_size_ = 0;
};

// What a listener answers to a preamble in `requested` mode for a port whose protocol is datagram (UDP) or not
// (stream: TCP or Unix socket), as azbridge does (azbridge.md 2.3): {1,0,mode} when they agree, {0,0,1} when the
// port is UDP but the sender asked for a stream, {0,0,0xFF} when the port is a stream and the sender asked for UDP.
std::string preamble_answer(PreambleMode requested, bool port_is_datagram);

}  // namespace hc
