// The budget of connections a forward is setting up (sender connects, accepts, 503 rejects), like the slots of Asio's
// connection_manager: a handshake takes a HandshakeSlot before it starts and the slot gives itself back when the
// handshake object dies, so no path can leak or double-release it. The same registry lets stop() cancel every
// handshake still in progress.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace bridge {

// A handshake in progress that stop() can end early.
class Handshake {
 public:
  virtual ~Handshake() = default;
  // Ends the handshake now: its pending step completes with an error, and nothing is counted as failed.
  virtual void cancel() = 0;
};

class HandshakeSlots : public std::enable_shared_from_this<HandshakeSlots> {
 public:
  std::size_t in_use() const { return used_; }
  // Cancels every handshake in progress (each lets its slot go as it ends).
  void cancel_all() {
    std::vector<std::shared_ptr<Handshake>> live;
    for (auto& [id, weak] : live_)
      if (auto h = weak.lock()) live.push_back(std::move(h));
    for (auto& h : live) h->cancel();
  }

 private:
  friend class HandshakeSlot;
  std::size_t used_ = 0;
  uint64_t next_id_ = 0;
  std::map<uint64_t, std::weak_ptr<Handshake>> live_;
};

// One place in a HandshakeSlots budget; move-only, released by its destructor.
class HandshakeSlot {
 public:
  HandshakeSlot() = default;
  explicit HandshakeSlot(std::shared_ptr<HandshakeSlots> slots) : slots_(std::move(slots)) {
    ++slots_->used_;
    id_ = ++slots_->next_id_;
  }
  HandshakeSlot(HandshakeSlot&& other) noexcept : slots_(std::move(other.slots_)), id_(other.id_) {}
  HandshakeSlot& operator=(HandshakeSlot&& other) noexcept {
    if (this != &other) {
      release();
      slots_ = std::move(other.slots_);
      id_ = other.id_;
    }
    return *this;
  }
  HandshakeSlot(const HandshakeSlot&) = delete;
  HandshakeSlot& operator=(const HandshakeSlot&) = delete;
  ~HandshakeSlot() { release(); }

  // Makes the handshake holding this slot reachable by cancel_all() (call from its start(), once it is owned).
  void attach(std::weak_ptr<Handshake> handshake) {
    if (slots_) slots_->live_[id_] = std::move(handshake);
  }
  void release() {
    if (!slots_) return;
    --slots_->used_;
    slots_->live_.erase(id_);
    slots_.reset();
  }

 private:
  std::shared_ptr<HandshakeSlots> slots_;
  uint64_t id_ = 0;
};

}  // namespace bridge
