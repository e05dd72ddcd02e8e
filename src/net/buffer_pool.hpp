// Fixed-size I/O blocks shared by every connection of one event loop. An idle tunnel holds no block at all: a block
// is taken when a socket has data and given back once that data was written on, so memory follows traffic, not the
// number of open tunnels. Free blocks are kept (up to a cap) so a busy tunnel does not pay an allocation per chunk.
// Single-threaded, like the io_context it serves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace net {

class BufferPool;

// A block on loan from a pool; goes back on destruction. Move-only.
class Block {
 public:
  Block() = default;
  Block(Block&& other) noexcept : data_(other.data_), pool_(std::move(other.pool_)) { other.data_ = nullptr; }
  Block& operator=(Block&& other) noexcept;
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
  ~Block() { reset(); }

  uint8_t* data() const { return data_; }
  explicit operator bool() const { return data_ != nullptr; }
  void reset();

 private:
  friend class BufferPool;
  Block(uint8_t* data, std::shared_ptr<BufferPool> pool) : data_(data), pool_(std::move(pool)) {}
  uint8_t* data_ = nullptr;
  std::shared_ptr<BufferPool> pool_;
};

class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  // 64 KiB of payload (the chunk size of every pump) plus room in front of it for a WebSocket frame header.
  static constexpr std::size_t kHeadroom = 16;
  static constexpr std::size_t kPayload = 64 * 1024;
  static constexpr std::size_t kBlockSize = kHeadroom + kPayload;

  static std::shared_ptr<BufferPool> create(std::size_t max_free = 64) {
    return std::shared_ptr<BufferPool>(new BufferPool(max_free));
  }
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  Block acquire();
  std::size_t in_use() const { return in_use_; }
  std::size_t free_blocks() const { return free_.size(); }

 private:
  friend class Block;
  explicit BufferPool(std::size_t max_free) : max_free_(max_free) {}
  void give_back(uint8_t* data);

  std::size_t max_free_;
  std::size_t in_use_ = 0;
  std::vector<uint8_t*> free_;
};

}  // namespace net
