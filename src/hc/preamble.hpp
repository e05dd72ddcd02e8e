// The azbridge stream preamble carried inside each HC connection (azbridge.md 2.2-2.3, reference section 8):
// sender -> listener {1, 0, mode, n} + n bytes of port name; listener -> sender a 3-byte reply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hc {

enum class PreambleMode : uint8_t { stream = 0, datagram = 1 };

// {1,0,mode,len} + name. Precondition: name is 1..255 bytes (see valid_port_name); a longer name is
// cut to 255 bytes so the length byte always matches.
std::string encode_preamble(PreambleMode mode, std::string_view port_name);

enum class ParseStatus { need_more, good, bad };

// Incremental, listener side; feed bytes as they arrive in any split.
class PreambleParser {
 public:
  // Consumes at most the bytes of the preamble; `consumed` tells how many of `data` were used (the rest is
  // payload). Once good or bad, further calls consume nothing and return the same status.
  ParseStatus feed(const uint8_t* data, std::size_t size, std::size_t& consumed);
  uint8_t version_major() const { return header_[0]; }
  uint8_t version_minor() const { return header_[1]; }
  PreambleMode mode() const { return static_cast<PreambleMode>(header_[2]); }  // meaningful once good
  const std::string& port_name() const { return name_; }
  const std::string& error() const { return error_; }  // set when bad
  // What azbridge answers to this bad preamble: preamble_reply_bad_version() for an unsupported version or
  // mode, "" (close without a reply) for a bad port name. "" unless bad.
  std::string bad_reply() const;

 private:
  enum class State { header, name, good, bad };
  State state_ = State::header;
  uint8_t header_[4] = {0, 0, 0, 0};
  std::size_t header_have_ = 0;
  std::string name_;
  std::string error_;
  bool version_or_mode_error_ = false;
};

// Listener replies (3 bytes).
std::string preamble_reply_accepted(PreambleMode mode);  // {1,0,mode}
std::string preamble_reply_bad_version();                // {0,0,0}
std::string preamble_reply_need_datagram();              // {0,0,1}: forwarder is datagram, mode != 1
std::string preamble_reply_need_stream();                // {0,0,255}: stream forwarder, mode 1

enum class PreambleReply { accepted, bad_version, need_datagram, need_stream, invalid };
// accepted only when exactly {1,0,sent_mode}.
PreambleReply classify_preamble_reply(const uint8_t reply[3], PreambleMode sent_mode);

// 1..255 bytes of [0-9A-Za-z/_\-.] (azbridge Constants.cs).
bool valid_port_name(std::string_view name);

}  // namespace hc
