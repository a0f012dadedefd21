// logbuf/channel/details/channel.hpp - the byte channel, written once for both
// ring flavours. A channel is a queue-layer ring plus a small shared state:
//
//   senders  --notify()-->  parker  <--park--  receiver
//   senders  --count-->     0 = "every sender gone"
//   receiver --flag-->      receiver_gone = "stop sending"
//
// basic_sender<Producer> wraps queue::spsc::producer (move-only) or
// queue::mpsc::producer (copyable: a copy is one more sender). Both flavours
// share queue::consumer, so there is one receiver class for both.
//
// A moved-from sender or receiver has no state: its methods report
// errc::disconnected (or do nothing) and its destructor does nothing.
#pragma once

#include <logbuf/channel/details/backoff.hpp>
#include <logbuf/channel/details/parker.hpp>
#include <logbuf/channel/details/wait.hpp>
#include <logbuf/details/cache_line.hpp>
#include <logbuf/error.hpp>
#include <logbuf/queue/claims.hpp>
#include <logbuf/queue/consumer.hpp>

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

namespace logbuf::channel::details {

// Everything senders and the receiver share besides the ring. Rarely
// written, read by every send() and notify(): one line, away from anything
// else on the heap.
struct alignas(logbuf::details::false_sharing_range) channel_state {
    explicit channel_state(fence_mode mode) noexcept : wake(mode) {}

    parker wake;                             // the receiver's sleep; every notify() reads it
    std::atomic<std::size_t> senders{1};     // live sender handles; 0 = disconnected
    std::atomic<bool> receiver_gone{false};  // set once, by the receiver's destructor
};

template <class Producer>
class basic_sender {
  public:
    basic_sender(Producer producer, std::shared_ptr<channel_state> state) noexcept
        : producer_(std::move(producer)), state_(std::move(state)) {}

    basic_sender(basic_sender&& other) noexcept = default;  // leaves `other` stateless
    basic_sender& operator=(basic_sender&& other) noexcept {
        if (this != &other) {
            disconnect();
            producer_ = std::move(other.producer_);
            state_ = std::move(other.state_);
        }
        return *this;
    }
    // MPSC only: a copy is one more sender.
    basic_sender(const basic_sender& other) noexcept requires std::copy_constructible<Producer>
        : producer_(other.producer_), state_(other.state_) {
        // Relaxed: `other` holds a count, so it cannot reach 0 meanwhile, and
        // nothing is published through an increment.
        if (state_) state_->senders.fetch_add(1, std::memory_order_relaxed);
    }
    basic_sender& operator=(
        const basic_sender& other) noexcept requires std::copy_constructible<Producer> {
        if (this != &other) *this = basic_sender(other);
        return *this;
    }
    ~basic_sender() { disconnect(); }

    // Claims `len` bytes, waiting while the ring is full: spins, then yields;
    // never sleeps in the kernel. Fails at once with errc::zero_length,
    // errc::too_large or errc::disconnected (the receiver is gone, also while
    // we wait). MPSC: a send() that waits takes the ring's turn, so senders
    // of small records cannot starve it (queue::mpsc::producer::claim_waiting).
    [[nodiscard]] queue::write_claim send(std::size_t len) noexcept {
        queue::write_claim claim = try_send(len);
        if (claim.error() != errc::full) [[likely]]
            return claim;
        return send_waiting(len);
    }

    // Claims `len` bytes or fails at once: errc::full, errc::zero_length,
    // errc::too_large, errc::disconnected.
    [[nodiscard]] queue::write_claim try_send(std::size_t len) noexcept {
        if (receiver_gone()) [[unlikely]]
            return queue::write_claim(errc::disconnected);
        return producer_.try_claim(len);
    }

    // Call after commit(): wakes the receiver if it is parked or about to
    // park. When it is not: a compiler barrier and a load.
    void notify() const noexcept {
        if (state_) [[likely]]
            state_->wake.notify();
    }

    // True once the receiver is gone (or this sender was moved from).
    [[nodiscard]] bool is_disconnected() const noexcept { return receiver_gone(); }

    [[nodiscard]] std::size_t capacity() const noexcept {
        return state_ ? producer_.capacity() : 0;
    }
    [[nodiscard]] std::size_t max_payload() const noexcept {
        return state_ ? producer_.max_payload() : 0;
    }

  private:
    [[nodiscard]] bool receiver_gone() const noexcept {
        // Relaxed: nothing is published through the flag; it only tells us
        // to stop.
        return !state_ || state_->receiver_gone.load(std::memory_order_relaxed);
    }

    // send() once the ring was full: out of line, off the hot path.
    [[gnu::noinline]] queue::write_claim send_waiting(std::size_t len) noexcept {
        backoff b;
        queue::write_claim claim = producer_.claim_waiting(len, [&]() noexcept {
            b.snooze();
            // Once spinning is over: the receiver may be parked with only
            // wrap padding (ours, under the turn) or an unnotified record to
            // pass. A futex wake only if it is parked.
            if (b.is_completed()) notify();
            return !receiver_gone();
        });
        if (claim.error() == errc::full) return queue::write_claim(errc::disconnected);  // gave up
        return claim;
    }

    void disconnect() noexcept {
        if (!state_) return;
        // Release pairs with the receiver's acquire in poll(): every record
        // this sender committed is visible once the count reads 0.
        if (state_->senders.fetch_sub(1, std::memory_order_release) == 1) state_->wake.notify();
        state_.reset();
    }

    Producer producer_;
    std::shared_ptr<channel_state> state_;  // null once moved from
};

class receiver {
  public:
    receiver(queue::consumer consumer, std::shared_ptr<channel_state> state) noexcept
        : consumer_(std::move(consumer)), state_(std::move(state)) {}
    receiver(receiver&&) noexcept = default;  // leaves the source stateless
    receiver& operator=(receiver&& other) noexcept {
        if (this != &other) {
            disconnect();
            consumer_ = std::move(other.consumer_);
            state_ = std::move(other.state_);
            waiter_ = other.waiter_;
        }
        return *this;
    }
    receiver(const receiver&) = delete;
    receiver& operator=(const receiver&) = delete;
    ~receiver() { disconnect(); }

    // The next record; waits (spin, yield, park) until there is one. Empty
    // claim with errc::disconnected once every sender is gone and every
    // record they committed has been received.
    [[nodiscard]] queue::read_claim recv() noexcept {
        return recv_until(std::chrono::steady_clock::time_point::max());
    }

    // As recv(), but gives up after `timeout`: errc::timeout. A zero or
    // negative timeout tries once.
    template <class Rep, class Period>
    [[nodiscard]] queue::read_claim recv_for(std::chrono::duration<Rep, Period> timeout) noexcept {
        return recv_until(deadline_after(timeout));
    }

    // As recv(), but gives up at `deadline`: errc::timeout.
    [[nodiscard]] queue::read_claim recv_until(
        std::chrono::steady_clock::time_point deadline) noexcept {
        if (!state_) [[unlikely]]
            return queue::read_claim(errc::disconnected);
        std::optional<queue::read_claim> result = waiter_.wait_until(
            state_->wake, [this]() noexcept { return poll(); }, deadline);
        return result ? std::move(*result) : queue::read_claim(errc::timeout);
    }

    // The next record, or an empty claim with errc::empty, or with
    // errc::disconnected once every sender is gone and the ring is drained.
    // Never waits.
    [[nodiscard]] queue::read_claim try_recv() noexcept {
        if (!state_) [[unlikely]]
            return queue::read_claim(errc::disconnected);
        std::optional<queue::read_claim> result = poll();
        return result ? std::move(*result) : queue::read_claim(errc::empty);
    }

    // Calls f(std::span<const std::byte>) for up to `max` committed records in
    // order and releases them (queue::consumer::drain). Never waits.
    template <class F>
    std::size_t drain(F&& f, std::size_t max = SIZE_MAX) {
        if (!state_) return 0;
        return consumer_.drain(std::forward<F>(f), max);
    }

    // True once every sender is gone (or this receiver was moved from).
    // Records may still be waiting in the ring.
    [[nodiscard]] bool is_disconnected() const noexcept {
        // Acquire pairs with the release in the senders' destructors.
        return !state_ || state_->senders.load(std::memory_order_acquire) == 0;
    }

    [[nodiscard]] std::size_t capacity() const noexcept {
        return state_ ? consumer_.capacity() : 0;
    }
    [[nodiscard]] std::size_t max_payload() const noexcept {
        return state_ ? consumer_.max_payload() : 0;
    }

    // The longest one park lasts without a notify() (default 100 ms). Since
    // wake-ups are not lost this only matters for senders that never call
    // notify(): their records wait at most this long.
    void set_park_timeout(std::chrono::nanoseconds timeout) noexcept {
        waiter_.set_park_timeout(timeout);
    }
    [[nodiscard]] std::chrono::nanoseconds park_timeout() const noexcept {
        return waiter_.park_timeout();
    }

    // How often and how long this receiver slept in the kernel.
    [[nodiscard]] parking_stats parking() const noexcept { return waiter_.stats(); }

  private:
    // One look at the ring: a record, disconnected, or nothing yet.
    std::optional<queue::read_claim> poll() noexcept {
        if (queue::read_claim claim = consumer_.try_claim()) return claim;
        // Acquire pairs with the release in the last sender's fetch_sub.
        if (state_->senders.load(std::memory_order_acquire) != 0) return std::nullopt;
        // Every sender is gone, but a record committed just before the last
        // one left is now visible: look again before saying disconnected.
        if (queue::read_claim claim = consumer_.try_claim()) return claim;
        return queue::read_claim(errc::disconnected);
    }

    void disconnect() noexcept {
        if (!state_) return;
        // Relaxed: nothing is published through the flag (pairs with the
        // senders' relaxed loads); it only stops them.
        state_->receiver_gone.store(true, std::memory_order_relaxed);
        state_.reset();
    }

    queue::consumer consumer_;
    std::shared_ptr<channel_state> state_;  // null once moved from
    receive_waiter waiter_;                 // park timeout, statistics
};

// Wraps a queue-layer (producer, consumer) pair into a channel.
template <class Sender, class Producer>
[[nodiscard]] std::pair<Sender, receiver> make_channel(std::pair<Producer, queue::consumer> queue,
                                                       fence_mode mode) {
    auto state = std::make_shared<channel_state>(mode);
    return {Sender(std::move(queue.first), state),
            receiver(std::move(queue.second), std::move(state))};
}

}  // namespace logbuf::channel::details
