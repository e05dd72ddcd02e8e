#include "hc/datagram.hpp"

#include <algorithm>

namespace hc {

std::string encode_datagram(std::string_view payload) {
  std::string out(kDatagramHeader, '\0');
  write_datagram_header(payload.size(), reinterpret_cast<uint8_t*>(&out[0]));
  out.append(payload);
  return out;
}

ParseStatus DatagramDeframer::feed(const uint8_t* data, std::size_t size, std::size_t& consumed) {
  consumed = 0;
  out_data_ = nullptr;
  out_size_ = 0;
  if (header_have_ < kDatagramHeader) {
    while (header_have_ < kDatagramHeader && consumed < size) header_[header_have_++] = data[consumed++];
    if (header_have_ < kDatagramHeader) return ParseStatus::need_more;
    want_ = (static_cast<std::size_t>(header_[0]) << 8) | header_[1];
    partial_.clear();
  }
  const std::size_t available = size - consumed;
  if (partial_.empty() && available >= want_) {
    // The whole payload is in the caller's bytes: hand it out in place.
    out_data_ = data + consumed;
    out_size_ = want_;
    consumed += want_;
    header_have_ = 0;
    return ParseStatus::good;
  }
  const std::size_t take = std::min(available, want_ - partial_.size());
  partial_.insert(partial_.end(), data + consumed, data + consumed + take);
  consumed += take;
  if (partial_.size() < want_) return ParseStatus::need_more;
  out_data_ = partial_.data();
  out_size_ = partial_.size();
  header_have_ = 0;
  return ParseStatus::good;
}

std::string preamble_answer(PreambleMode requested, bool port_is_datagram) {
  const bool asked_datagram = requested == PreambleMode::datagram;
  if (asked_datagram == port_is_datagram) return preamble_reply_accepted(requested);
  return port_is_datagram ? preamble_reply_need_datagram() : preamble_reply_need_stream();
}

}  // namespace hc
