#include "net/buffer_pool.hpp"

namespace net {

Block& Block::operator=(Block&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = other.data_;
    pool_ = std::move(other.pool_);
    other.data_ = nullptr;
  }
  return *this;
}

void Block::reset() {
  if (data_ == nullptr) return;
  pool_->give_back(data_);
  data_ = nullptr;
  pool_.reset();
}

BufferPool::~BufferPool() {
  for (auto* p : free_) delete[] p;
}

Block BufferPool::acquire() {
  uint8_t* data;
  if (!free_.empty()) {
    data = free_.back();
    free_.pop_back();
  } else {
    data = new uint8_t[kBlockSize];  // not zeroed: every byte is written before it is read
  }
  ++in_use_;
  return Block(data, shared_from_this());
}

void BufferPool::give_back(uint8_t* data) {
  --in_use_;
  if (free_.size() < max_free_) {
    free_.push_back(data);
  } else {
    delete[] data;
  }
}

}  // namespace net
