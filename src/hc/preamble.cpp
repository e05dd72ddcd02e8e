#include "hc/preamble.hpp"

namespace hc {

namespace {
constexpr std::size_t kMaxPortName = 255;
}

std::string encode_preamble(PreambleMode mode, std::string_view port_name) {
  if (port_name.size() > kMaxPortName) port_name = port_name.substr(0, kMaxPortName);
  std::string out;
  out.reserve(4 + port_name.size());
  out += static_cast<char>(1);
  out += static_cast<char>(0);
  out += static_cast<char>(static_cast<uint8_t>(mode));
  out += static_cast<char>(static_cast<uint8_t>(port_name.size()));
  out.append(port_name);
  return out;
}

ParseStatus PreambleParser::feed(const uint8_t* data, std::size_t size, std::size_t& consumed) {
  consumed = 0;
  if (state_ == State::header) {
    while (header_have_ < 4 && consumed < size) header_[header_have_++] = data[consumed++];
    if (header_have_ < 4) return ParseStatus::need_more;
    // azbridge only speaks 1.0; it answers {0,0,0} to anything else, a newer minor included.
    if (header_[0] != 1 || header_[1] != 0) {
      state_ = State::bad;
      version_or_mode_error_ = true;
      error_ = "unsupported preamble version " + std::to_string(header_[0]) + "." + std::to_string(header_[1]);
      return ParseStatus::bad;
    }
    if (header_[2] > 1) {
      state_ = State::bad;
      version_or_mode_error_ = true;
      error_ = "unsupported preamble mode " + std::to_string(header_[2]);
      return ParseStatus::bad;
    }
    if (header_[3] == 0) {
      state_ = State::bad;
      error_ = "empty port name in preamble";
      return ParseStatus::bad;
    }
    state_ = State::name;
    name_.reserve(header_[3]);
  }
  if (state_ == State::name) {
    const std::size_t want = header_[3] - name_.size();
    const std::size_t take = (size - consumed) < want ? (size - consumed) : want;
    if (take > 0) {
      name_.append(reinterpret_cast<const char*>(data + consumed), take);
      consumed += take;
    }
    if (name_.size() < header_[3]) return ParseStatus::need_more;
    if (!valid_port_name(name_)) {
      state_ = State::bad;
      error_ = "invalid port name in preamble";
      return ParseStatus::bad;
    }
    state_ = State::good;
    return ParseStatus::good;
  }
  return state_ == State::good ? ParseStatus::good : ParseStatus::bad;
}

std::string PreambleParser::bad_reply() const {
  if (state_ == State::bad && version_or_mode_error_) return preamble_reply_bad_version();
  return std::string();
}

std::string preamble_reply_accepted(PreambleMode mode) {
  return std::string{static_cast<char>(1), static_cast<char>(0), static_cast<char>(static_cast<uint8_t>(mode))};
}
std::string preamble_reply_bad_version() { return std::string(3, '\0'); }
std::string preamble_reply_need_datagram() {
  return std::string{static_cast<char>(0), static_cast<char>(0), static_cast<char>(1)};
}
std::string preamble_reply_need_stream() {
  return std::string{static_cast<char>(0), static_cast<char>(0), static_cast<char>(0xff)};
}

PreambleReply classify_preamble_reply(const uint8_t reply[3], PreambleMode sent_mode) {
  if (reply[0] == 1 && reply[1] == 0 && reply[2] == static_cast<uint8_t>(sent_mode)) return PreambleReply::accepted;
  if (reply[0] == 0 && reply[1] == 0) {
    if (reply[2] == 0) return PreambleReply::bad_version;
    if (reply[2] == 1) return PreambleReply::need_datagram;
    if (reply[2] == 0xff) return PreambleReply::need_stream;
  }
  return PreambleReply::invalid;
}

bool valid_port_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxPortName) return false;
  for (char c : name) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '/' ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace hc
