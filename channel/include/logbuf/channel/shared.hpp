// logbuf/channel/shared.hpp - the byte channel between processes: the
// shared ring (logbuf/queue/shared.hpp) plus sender backoff, a receiver that
// parks on a futex in the file and is woken by senders in other processes,
// and disconnection that also works when a process dies without a word.
//
//   // logger process
//   auto rx = logbuf::channel::shared::create("/dev/shm/orders.ring", 1 << 21);
//   while (auto r = rx.recv()) write(r.bytes());    // ends with errc::disconnected
//
//   // each hot process
//   auto tx = logbuf::channel::shared::open("/dev/shm/orders.ring");
//   if (auto c = tx.send(n)) { std::memcpy(c.data(), p, n); c.commit(); tx.notify(); }
//
// Disconnection:
// - Receiver gone. Its destructor sets a flag in the file that every
//   try_send() reads. A receiver that died holds no lock any more
//   (details/shared_presence.hpp): senders ask the kernel when the ring is
//   full (at most every 10 ms) and in is_disconnected(), so they see it
//   within milliseconds of needing the receiver. Until then their records go
//   to the file, where recover() finds them.
// - Senders gone. Each open() is one attachment (its copies share it); the
//   last copy's destructor decrements a count in the file and notifies. An
//   attachment whose process died holds no lock any more: the receiver asks
//   the kernel (at most every 10 ms while it finds nothing) and wakes from
//   a park at least every park timeout (100 ms by default) to do so. Once
//   no attachment is left, claims that are still open can never be
//   committed: the receiver unblocks them, hands out what was committed,
//   then reports errc::disconnected. Before the first open() the receiver
//   just waits; an open() after a disconnection connects again.
// - A sender killed while holding a claim holds up the records behind it
//   for at most the unblock timeout (1 s by default, set_unblock_timeout()).
#pragma once

#include <logbuf/channel/details/backoff.hpp>
#include <logbuf/channel/details/parker.hpp>
#include <logbuf/channel/details/shared_presence.hpp>
#include <logbuf/channel/details/wait.hpp>
#include <logbuf/channel/parking_stats.hpp>
#include <logbuf/details/cache_line.hpp>
#include <logbuf/error.hpp>
#include <logbuf/queue/shared.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace logbuf::channel::details {

// The channel's words in the ring file's upper area (zero in a new file).
// Every process maps them; none trusts them: a wrong value can cost a
// spurious wake or a wrong disconnection answer, nothing else.
struct alignas(logbuf::details::false_sharing_range) shared_area {
    std::atomic<std::uint32_t> wake_word;      // the receiver's futex word (shared_parker)
    std::atomic<std::uint32_t> receiver_gone;  // 1 once the receiver was destroyed
    std::atomic<std::uint64_t> senders;        // live attachments (clean exits only)
    std::atomic<std::uint64_t> attached;       // attachments ever made
};
static_assert(sizeof(shared_area) <= queue::details::file_layout::upper_size);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

[[nodiscard]] inline shared_area& shared_area_of(std::byte* upper) noexcept {
    return *std::launder(reinterpret_cast<shared_area*>(upper));
}

// How often a presence lock is asked for at most (a syscall).
inline constexpr std::chrono::milliseconds presence_interval{10};

// One open() in one process: what its sender copies share.
struct shared_attachment {
    explicit shared_attachment(queue::shared::producer p)
        : producer(std::move(p)),
          shared(shared_area_of(producer.upper_area())),
          wake(mapped_word{&shared.wake_word}) {
        if (!take_sender_lock(producer.file_descriptor()))
            throw std::system_error(errno, std::generic_category(),
                                    "logbuf: cannot lock the ring file");
        // Relaxed: counts, read by the receiver only to decide
        // disconnection; the lock taken above is what proves presence.
        shared.attached.fetch_add(1, std::memory_order_relaxed);
        shared.senders.fetch_add(1, std::memory_order_relaxed);
    }
    shared_attachment(const shared_attachment&) = delete;
    shared_attachment& operator=(const shared_attachment&) = delete;
    ~shared_attachment() {
        // Release pairs with the receiver's acquire: every record our copies
        // committed is visible once the count it reads went down. Then wake
        // it, as the last in-process sender does. The presence lock goes
        // when `producer` closes the file, after this.
        shared.senders.fetch_sub(1, std::memory_order_release);
        wake.notify();
    }

    // True if the receiver is known to be gone: its flag (relaxed: nothing
    // is published through it), or what the last presence check found.
    [[nodiscard]] bool receiver_gone() const noexcept {
        return shared.receiver_gone.load(std::memory_order_relaxed) != 0 ||
               receiver_dead.load(std::memory_order_relaxed);
    }

    // Asks the kernel whether the receiver still holds its lock, at most
    // every presence_interval unless `now_please`. True if it is gone.
    bool check_receiver(bool now_please) noexcept {
        if (receiver_gone()) return true;
        const std::int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
        // Relaxed: a rate limit; two threads checking at once is harmless.
        const std::int64_t last = last_check.load(std::memory_order_relaxed);
        if (!now_please &&
            now - last < std::chrono::steady_clock::duration(presence_interval).count())
            return false;
        last_check.store(now, std::memory_order_relaxed);
        if (receiver_present(producer.file_descriptor())) return false;
        // Relaxed: a sticky flag that only caches the kernel's answer; nothing
        // else is published through it (receiver_gone() re-reads it).
        receiver_dead.store(true, std::memory_order_relaxed);
        return true;
    }

    queue::shared::producer producer;  // the mapping; copies are made from it
    shared_area& shared;
    shared_parker wake;
    std::atomic<bool> receiver_dead{false};  // sticky: a dead receiver stays dead
    std::atomic<std::int64_t> last_check{0};
};

// The receiver's side: the consumer and its parker on the file's word.
struct shared_receiver_state {
    explicit shared_receiver_state(queue::shared::consumer c)
        : consumer(std::move(c)),
          shared(shared_area_of(consumer.upper_area())),
          wake(mapped_word{&shared.wake_word}) {}
    shared_receiver_state(const shared_receiver_state&) = delete;
    shared_receiver_state& operator=(const shared_receiver_state&) = delete;
    ~shared_receiver_state() {
        // Relaxed: only stops senders (pairs with their relaxed loads).
        shared.receiver_gone.store(1, std::memory_order_relaxed);
    }

    queue::shared::consumer consumer;
    shared_area& shared;
    shared_parker wake;
};

}  // namespace logbuf::channel::details

namespace logbuf::channel::shared {

using logbuf::queue::read_claim;
using logbuf::queue::shared::write_claim;

// The sending end, in any process. Copyable within a process: a copy is one
// more producer of the same attachment.
class sender {
  public:
    sender() noexcept = default;
    explicit sender(std::shared_ptr<details::shared_attachment> a) noexcept
        : producer_(a->producer), attachment_(std::move(a)) {}
    sender(const sender&) noexcept = default;
    sender& operator=(const sender&) noexcept = default;
    sender(sender&&) noexcept = default;  // leaves the source without attachment
    sender& operator=(sender&&) noexcept = default;
    ~sender() = default;

    // Claims `len` bytes, waiting while the ring is full: spins, then
    // yields; never sleeps in the kernel. Fails at once with
    // errc::zero_length, errc::too_large or errc::disconnected (receiver
    // gone, also found while waiting).
    [[nodiscard]] write_claim send(std::size_t len) noexcept {
        write_claim claim = try_send(len);
        if (claim.error() != errc::full) [[likely]]
            return claim;
        details::backoff b;
        for (;;) {
            b.snooze();
            if (attachment_->check_receiver(false)) return write_claim(errc::disconnected);
            claim = producer_.try_claim(len);
            if (claim.error() != errc::full) return claim;
        }
    }

    // Claims `len` bytes or fails at once: errc::full, errc::zero_length,
    // errc::too_large, errc::disconnected.
    [[nodiscard]] write_claim try_send(std::size_t len) noexcept {
        if (!attachment_ || attachment_->receiver_gone()) [[unlikely]]
            return write_claim(errc::disconnected);
        write_claim claim = producer_.try_claim(len);
        if (claim.error() == errc::full && attachment_->check_receiver(false)) [[unlikely]]
            return write_claim(errc::disconnected);
        return claim;
    }

    // Call after commit(): wakes the receiver (in whichever process) if it
    // is parked or about to park. When it is not: a seq_cst fence and a
    // load, no syscall.
    void notify() const noexcept {
        if (attachment_) [[likely]]
            attachment_->wake.notify();
    }

    // True once the receiver is gone (destroyed, or its process died), or
    // this sender was moved from. Asks the kernel (a syscall).
    [[nodiscard]] bool is_disconnected() const noexcept {
        return !attachment_ || attachment_->check_receiver(true);
    }

    [[nodiscard]] std::size_t capacity() const noexcept {
        return attachment_ ? producer_.capacity() : 0;
    }
    [[nodiscard]] std::size_t max_payload() const noexcept {
        return attachment_ ? producer_.max_payload() : 0;
    }

  private:
    queue::shared::producer producer_;  // this copy's own cached head
    std::shared_ptr<details::shared_attachment> attachment_;
};

// The receiving end, in the process that created the channel. Move-only,
// one thread.
class receiver {
  public:
    receiver() noexcept = default;
    explicit receiver(std::unique_ptr<details::shared_receiver_state> s) noexcept
        : state_(std::move(s)) {}
    receiver(receiver&&) noexcept = default;
    receiver& operator=(receiver&&) noexcept = default;
    receiver(const receiver&) = delete;
    receiver& operator=(const receiver&) = delete;
    ~receiver() = default;

    // The next record; waits (spin, yield, park) until there is one.
    // errc::disconnected once every attachment is gone (see the top of
    // this file) and every record committed has been received.
    [[nodiscard]] read_claim recv() noexcept {
        return recv_until(std::chrono::steady_clock::time_point::max());
    }
    template <class Rep, class Period>
    [[nodiscard]] read_claim recv_for(std::chrono::duration<Rep, Period> timeout) noexcept {
        return recv_until(details::deadline_after(timeout));
    }
    [[nodiscard]] read_claim recv_until(std::chrono::steady_clock::time_point deadline) noexcept {
        if (!state_) [[unlikely]]
            return read_claim(errc::disconnected);
        std::optional<read_claim> result = waiter_.wait_until(
            state_->wake, [this]() noexcept { return poll(); }, deadline);
        return result ? std::move(*result) : read_claim(errc::timeout);
    }

    // A record, errc::empty, or errc::disconnected (drained and no sender
    // left). Never waits.
    [[nodiscard]] read_claim try_recv() noexcept {
        if (!state_) [[unlikely]]
            return read_claim(errc::disconnected);
        std::optional<read_claim> result = poll();
        return result ? std::move(*result) : read_claim(errc::empty);
    }

    // Calls f(std::span<const std::byte>) for up to `max` committed records
    // in order and releases them. Never waits.
    template <class F>
    std::size_t drain(F&& f, std::size_t max = SIZE_MAX) {
        if (!state_) return 0;
        return state_->consumer.drain(std::forward<F>(f), max);
    }

    // True once senders attached and none is left (or moved from).
    [[nodiscard]] bool is_disconnected() const noexcept { return !state_ || senders_gone(true); }

    [[nodiscard]] std::size_t capacity() const noexcept {
        return state_ ? state_->consumer.capacity() : 0;
    }
    [[nodiscard]] std::size_t max_payload() const noexcept {
        return state_ ? state_->consumer.max_payload() : 0;
    }

    // The longest one park lasts without a notify() (default 100 ms): also
    // how late the receiver may notice a sender process that died.
    void set_park_timeout(std::chrono::nanoseconds timeout) noexcept {
        waiter_.set_park_timeout(timeout);
    }
    // How long a claim may hold up the records behind it before the
    // receiver takes it for the claim of a dead process (queue::shared::
    // consumer::unblock). Default 1 s.
    void set_unblock_timeout(std::chrono::nanoseconds timeout) noexcept {
        unblock_timeout_ = timeout;
    }
    [[nodiscard]] parking_stats parking() const noexcept { return waiter_.stats(); }

  private:
    std::optional<read_claim> poll() noexcept {
        queue::shared::consumer& c = state_->consumer;
        if (read_claim claim = c.try_claim()) return claim;
        if (!senders_gone(false)) {
            (void)c.unblock(unblock_timeout_);  // a dead producer's claim, if any
            return std::nullopt;
        }
        // No sender is left: no open claim can be committed any more.
        (void)c.unblock(std::chrono::nanoseconds::zero());
        if (read_claim claim = c.try_claim()) return claim;
        return read_claim(errc::disconnected);
    }

    // True if senders attached and none is left: the clean count says so
    // (acquire pairs with the release decrement in ~shared_attachment: their
    // records are visible), or no attachment holds its presence lock any
    // more (asked at most every presence_interval unless `now_please`).
    bool senders_gone(bool now_please) const noexcept {
        details::shared_area& a = state_->shared;
        // Relaxed: a count; the acquire load below orders what matters.
        if (a.attached.load(std::memory_order_relaxed) == 0) return false;
        if (a.senders.load(std::memory_order_acquire) == 0) return true;
        const auto now = std::chrono::steady_clock::now();
        if (now_please || now - last_presence_check_ >= details::presence_interval) {
            last_presence_check_ = now;
            senders_alive_ = details::senders_present(state_->consumer.file_descriptor());
        }
        return !senders_alive_;
    }

    std::unique_ptr<details::shared_receiver_state> state_;  // null when moved from
    details::receive_waiter waiter_;
    std::chrono::nanoseconds unblock_timeout_ = std::chrono::seconds(1);
    // What the last presence check found (a cache: mutable).
    mutable std::chrono::steady_clock::time_point last_presence_check_{};
    mutable bool senders_alive_ = true;
};

// Creates the channel's ring file (replacing an old one at that path), with
// at least `capacity` bytes, and returns its receiver. Throws
// std::invalid_argument if capacity < 16 or > 2^62, std::system_error on a
// file error.
[[nodiscard]] inline receiver create(const std::filesystem::path& file, std::size_t capacity) {
    queue::shared::consumer consumer = queue::shared::create(file, capacity, [](int fd) {
        if (!details::take_receiver_lock(fd))
            throw std::system_error(errno, std::generic_category(),
                                    "logbuf: cannot lock the new ring file");
    });
    return receiver(std::make_unique<details::shared_receiver_state>(std::move(consumer)));
}

// Opens a channel made by create(), from any process, any number of times.
// Throws as queue::shared::open() does.
[[nodiscard]] inline sender open(const std::filesystem::path& file) {
    return sender(std::make_shared<details::shared_attachment>(queue::shared::open(file)));
}

}  // namespace logbuf::channel::shared
