#include "net/tls_stream.hpp"

#include <openssl/err.h>

#include <cerrno>
#include <cstring>

namespace net {
namespace {

// The write side's BIO appends OpenSSL's records to the stream's out_ vector: it never refuses, so SSL_write never
// wants to write, and one send() can carry every record of a batch.
int out_write(BIO* bio, const char* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(BIO_get_data(bio));
  if (out == nullptr || size < 0) return -1;
  out->insert(out->end(), data, data + size);
  return size;
}

long out_ctrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;  // nothing to flush: the stream sends out_ itself
}

int out_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* out_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "hcbridge TLS output");
    BIO_meth_set_write(m, out_write);
    BIO_meth_set_ctrl(m, out_ctrl);
    BIO_meth_set_create(m, out_create);
    return m;
  }();
  return method;
}

}  // namespace

TlsStream::TlsStream(tcp::socket socket, asio::ssl::context& context) : socket_(std::move(socket)) {
  ssl_ = SSL_new(context.native_handle());
  if (ssl_ == nullptr) throw std::bad_alloc();
  std::error_code ignored;
  // OpenSSL reads the socket itself, without blocking; we wait for readiness in between.
  socket_.non_blocking(true, ignored);
  BIO* in = BIO_new_socket(static_cast<int>(socket_.native_handle()), BIO_NOCLOSE);
  BIO* out = BIO_new(out_method());
  if (in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    SSL_free(ssl_);
    throw std::bad_alloc();
  }
  BIO_set_data(out, &out_);
  SSL_set_bio(ssl_, in, out);
  // Busy connections keep their record buffers (read_some gives them back while waiting for input instead).
  SSL_clear_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
  SSL_set_read_ahead(ssl_, 1);
  SSL_set_default_read_buffer_len(ssl_, kReadAhead);
  // Nothing here would answer a renegotiation while no write is pending; TLS 1.3 has none anyway.
  SSL_set_options(ssl_, SSL_OP_NO_RENEGOTIATION);
}

TlsStream::~TlsStream() {
  SSL_free(ssl_);  // frees both BIOs; the socket BIO does not close the descriptor (socket_ does)
}

std::error_code TlsStream::error_from(int ssl_error) {
  const unsigned long queued = ERR_peek_last_error();
  const int saved_errno = errno;
  std::error_code ec;
  if (ssl_error == SSL_ERROR_ZERO_RETURN) {
    ec = asio::error::eof;  // the peer's close_notify
  } else if (ssl_error == SSL_ERROR_SSL && ERR_GET_REASON(queued) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    ec = asio::ssl::error::stream_truncated;  // TCP ended without close_notify
  } else if (ssl_error == SSL_ERROR_SYSCALL) {
    // A socket error (connection_reset...) reads as asio's socket errors do.
    if (saved_errno != 0)
      ec = std::error_code(saved_errno, asio::error::get_system_category());
    else if (queued != 0)
      ec = std::error_code(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category());
    else
      ec = asio::ssl::error::stream_truncated;
  } else {
    const unsigned long e = ERR_get_error();
    ec = e != 0 ? std::error_code(static_cast<int>(e), asio::error::get_ssl_category())
                : std::error_code(asio::ssl::error::unspecified_system_error);
  }
  ERR_clear_error();
  return ec;
}

std::size_t TlsStream::read_some(asio::mutable_buffer buffer, std::error_code& ec) {
  ec.clear();
  // After close() the descriptor number may belong to another socket already: never let OpenSSL read it.
  if (!socket_.is_open()) {
    ec = asio::error::bad_descriptor;
    return 0;
  }
  if (read_error_) {
    ec = read_error_;  // a read that returned data before the error: the error now, and on every later read
    return 0;
  }
  read_waiting_ = false;
  std::error_code ignored;
  if (out_sent_ < out_.size()) flush(ignored);  // an alert or post-handshake message left by an earlier read
  auto* at = static_cast<uint8_t*>(buffer.data());
  std::size_t got = 0;
  // Whole records while they are buffered: one read() of up to kReadAhead bytes feeds several of them.
  while (got < buffer.size()) {
    ERR_clear_error();
    errno = 0;
    std::size_t n = 0;
    const int rc = SSL_read_ex(ssl_, at + got, buffer.size() - got, &n);
    if (rc == 1) {
      got += n;
      if (SSL_pending(ssl_) == 0 && SSL_has_pending(ssl_) == 0) break;
      continue;
    }
    const int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ) {
      if (got == 0) {
        ec = asio::error::would_block;
        // Idle until the peer sends more: give OpenSSL's record buffers back (no-op if a record is half read).
        read_waiting_ = true;
        SSL_free_buffers(ssl_);
      }
      break;
    }
    // Report what was read first; the error (eof after close_notify, stream_truncated...) on the next call.
    read_error_ = error_from(err);
    if (got == 0) ec = read_error_;
    break;
  }
  if (out_sent_ < out_.size()) flush(ignored);
  return got;
}

TlsStream::Want TlsStream::handshake_step(bool shutdown, std::error_code& ec) {
  ec.clear();
  if (!socket_.is_open()) {
    ec = asio::error::bad_descriptor;
    return Want::nothing;
  }
  if (!flush(ec)) return ec ? Want::nothing : Want::output;
  int rc = 1, err = SSL_ERROR_NONE;
  if (!shutdown || !shutdown_sent_) {
    ERR_clear_error();
    errno = 0;
    rc = shutdown ? SSL_shutdown(ssl_) : SSL_do_handshake(ssl_);
    shutdown_sent_ = shutdown_sent_ || shutdown;
    // SSL_shutdown returns 0 once our close_notify is written and the peer's not yet read: that is all we wait for.
    if (rc < 0 || (!shutdown && rc == 0)) err = SSL_get_error(ssl_, rc);
  }
  if (shutdown && err == SSL_ERROR_WANT_READ) err = SSL_ERROR_NONE;  // the peer's close_notify is not awaited here
  if (err != SSL_ERROR_NONE && err != SSL_ERROR_WANT_READ) {
    ec = error_from(err);
    std::error_code ignored;
    flush(ignored);  // best effort: the alert that tells the peer why
    return Want::nothing;
  }
  if (!flush(ec)) return ec ? Want::nothing : Want::output;
  return err == SSL_ERROR_WANT_READ ? Want::input : Want::nothing;
}

void TlsStream::encrypt(const asio::const_buffer* pieces, std::size_t count, std::error_code& ec) {
  auto write = [&](const void* data, std::size_t size) {
    std::size_t n = 0;
    ERR_clear_error();
    errno = 0;
    const int rc = SSL_write_ex(ssl_, data, size, &n);
    if (rc != 1) ec = error_from(SSL_get_error(ssl_, rc));
    return rc == 1;
  };
  // A small piece (a frame header) is gathered with what follows it into full records; large runs go straight to
  // SSL_write, which cuts them into full records itself.
  // Room for a whole batch and its record overhead, reserved once per write: no regrowth while encrypting.
  if (out_.capacity() < kWriteBatch + 4096) out_.reserve(kWriteBatch + 4096);
  uint8_t scratch[kRecord];
  std::size_t used = 0;
  for (std::size_t i = 0; i < count; ++i) {
    auto* data = static_cast<const uint8_t*>(pieces[i].data());
    std::size_t size = pieces[i].size();
    while (size > 0) {
      if (used == 0 && size >= kRecord) {
        const std::size_t direct = i + 1 == count ? size : size - size % kRecord;
        if (!write(data, direct)) return;
        data += direct;
        size -= direct;
        continue;
      }
      const std::size_t n = std::min(size, kRecord - used);
      std::memcpy(scratch + used, data, n);
      used += n;
      data += n;
      size -= n;
      if (used == kRecord) {
        if (!write(scratch, used)) return;
        used = 0;
      }
    }
  }
  if (used > 0) write(scratch, used);
}

bool TlsStream::flush(std::error_code& ec) {
  while (out_sent_ < out_.size()) {
    const std::size_t n = socket_.send(asio::buffer(out_.data() + out_sent_, out_.size() - out_sent_), 0, ec);
    if (ec) {
      if (ec == asio::error::would_block || ec == asio::error::try_again) ec.clear();
      return false;
    }
    out_sent_ += n;
  }
  out_.clear();
  out_sent_ = 0;
  return true;
}

void TlsStream::release_output() {
  // A batch needs ~65 KiB; an idle connection should not keep it. Nor OpenSSL's record buffers, when the read side
  // waits for input too (a busy reader keeps them: no SSL_MODE_RELEASE_BUFFERS churn per record).
  if (!out_.empty()) return;
  std::vector<uint8_t>().swap(out_);
  if (read_waiting_) SSL_free_buffers(ssl_);
}

}  // namespace net
