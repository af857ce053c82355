#ifndef ACTSERVE_SERVER_STREAM_LIMITER_H_
#define ACTSERVE_SERVER_STREAM_LIMITER_H_

#include <atomic>
#include <optional>

namespace actserve {

// Caps the streaming calls in progress. A call over the cap is refused at once
// (RESOURCE_EXHAUSTED) rather than queued, so a client learns to back off
// instead of holding a connection that does nothing.
class StreamLimiter {
 public:
  // Held by a call until it finishes; gives the slot back when released or
  // destroyed.
  class Permit {
   public:
    Permit(Permit&& other) noexcept : limiter_(other.limiter_) {
      other.limiter_ = nullptr;
    }
    Permit& operator=(Permit&&) = delete;
    ~Permit() { Release(); }

    // A call releases its slot as it finishes, before gRPC sends the client
    // its status: a client that waits for each call's status before starting
    // the next must never find its own finished call still counted (the
    // reactor itself is destroyed only later).
    void Release() {
      if (limiter_ != nullptr) limiter_->active_.fetch_sub(1);
      limiter_ = nullptr;
    }

   private:
    friend class StreamLimiter;
    explicit Permit(StreamLimiter* limiter) : limiter_(limiter) {}
    StreamLimiter* limiter_;
  };

  explicit StreamLimiter(int max_active) : max_active_(max_active) {}

  // Empty when `max_active` calls already hold a permit.
  std::optional<Permit> TryAcquire() {
    if (active_.fetch_add(1) >= max_active_) {
      active_.fetch_sub(1);
      return std::nullopt;
    }
    return Permit(this);
  }

  int max_active() const { return max_active_; }

 private:
  const int max_active_;
  std::atomic<int> active_{0};
};

}  // namespace actserve

#endif  // ACTSERVE_SERVER_STREAM_LIMITER_H_
