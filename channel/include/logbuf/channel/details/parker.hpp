// logbuf/channel/details/parker.hpp - puts a channel's one receiver to sleep
// and lets any sender wake it, without lost wake-ups and with a notify() that
// costs a compiler barrier and one load when nobody sleeps.
//
// Use (any channel: the byte rings, the object channel):
//
//   sender:   publish (commit a record, set a ready bit, drop a count...);
//             parker.notify();
//   receiver: auto r = parker.park_unless(poll, timeout);
//             // poll() returns something like std::optional<T>: engaged
//             // means "got something" (a value, or a final state such as
//             // disconnected). park_unless returns poll()'s result if it
//             // was engaged, else sleeps and returns an empty one: poll
//             // again. details/wait.hpp wraps this in the full
//             // try -> spin -> yield -> park loop.
//
// The protocol is Dekker's: the receiver stores "waiting" and then loads the
// ring (poll); a sender stores its record and then loads "waiting". With a
// StoreLoad barrier on both sides, at least one of them sees the other's
// store: either poll() finds the record, or notify() finds the receiver
// waiting and wakes it. The barrier is asymmetric: the receiver, which is
// about to sleep anyway, pays for membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED),
// which runs a full barrier on every CPU that runs one of our threads; the
// senders then need only a compiler barrier. Where membarrier is unavailable
// (not Linux, old kernel, seccomp sandbox, ThreadSanitizer, or the
// environment variable LOGBUF_NO_MEMBARRIER=1) both sides use a seq_cst
// fence instead. docs/design.md, "Channel layer", has the full argument.
//
// Where the futex word lives is the Word parameter: `parker` keeps it in
// itself (threads of one process); `shared_parker` points at a word in a
// MAP_SHARED mapping, so a receiver in one process is woken by senders in
// others. membarrier reaches only our own process's threads, so a shared
// parker always uses the seq_cst fences and the non-private futex calls.
#pragma once

#include <logbuf/channel/details/futex.hpp>
#include <logbuf/channel/fence_mode.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace logbuf::channel::details {

// The process-wide choice, made once on first call (that call registers the
// process with MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED). Thread-safe.
[[nodiscard]] fence_mode process_fence_mode() noexcept;

// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED): returns once every thread of
// this process has passed a full memory barrier. False if the call failed.
[[nodiscard]] bool membarrier_all_threads() noexcept;

// The futex word inside the parker: one process.
struct own_word {
    static constexpr futex_scope scope = futex_scope::process_private;
    std::atomic<std::uint32_t> value{0};
    [[nodiscard]] std::atomic<std::uint32_t>& get() noexcept { return value; }
};

// A futex word in a MAP_SHARED mapping (zero when the mapping was created)
// that other processes use too. The pointer is this process's own.
struct mapped_word {
    static constexpr futex_scope scope = futex_scope::shared;
    std::atomic<std::uint32_t>* value;
    [[nodiscard]] std::atomic<std::uint32_t>& get() const noexcept { return *value; }
};

template <class Word>
class basic_parker {
  public:
    basic_parker() noexcept requires(Word::scope == futex_scope::process_private)
        : basic_parker(process_fence_mode()) {}
    // A channel's choice (see fence_mode). Asking for `membarrier` when
    // process_fence_mode() is `fences` gets `fences`: the process may not be
    // registered.
    explicit basic_parker(fence_mode mode) noexcept
        requires(Word::scope == futex_scope::process_private)
        : mode_(process_fence_mode() == fence_mode::membarrier ? mode : fence_mode::fences) {}
    // A word shared with other processes: always `fences` (membarrier does
    // not reach their threads).
    explicit basic_parker(Word word) noexcept requires(Word::scope == futex_scope::shared)
        : word_(word), mode_(fence_mode::fences) {}
    basic_parker(const basic_parker&) = delete;
    basic_parker& operator=(const basic_parker&) = delete;
    ~basic_parker() = default;

    // Any thread, after publishing what the receiver waits for: wakes the
    // receiver if it is parked or about to park. When it is not, this is a
    // compiler barrier and one relaxed load (plus a seq_cst fence in
    // `fences` mode): no read-modify-write, no syscall.
    void notify() noexcept {
        if (mode_ == fence_mode::membarrier) {
            // Keeps the compiler from moving our load of the word above the
            // caller's publishing store. The CPU may still do so (StoreLoad);
            // the receiver's membarrier in park_unless() covers that.
            std::atomic_signal_fence(std::memory_order_seq_cst);
        } else {
            // Pairs with the seq_cst fence in park_unless(): of the two
            // fences, the later one's side sees the other side's store.
            std::atomic_thread_fence(std::memory_order_seq_cst);
        }
        // Relaxed: the fence pair above orders it, and a wake needs no data
        // from the receiver.
        if (word_.get().load(std::memory_order_relaxed) == idle) [[likely]]
            return;
        wake();
    }

    // Receiver only (one thread). Publishes "waiting", fences, then calls
    // poll(). If poll()'s result is engaged it is returned at once; otherwise
    // sleeps until notify(), `timeout`, or a spurious wake-up, and returns an
    // empty result: the caller polls again.
    template <class Poll>
    [[nodiscard]] auto park_unless(Poll&& poll, std::chrono::nanoseconds timeout) noexcept
        -> decltype(poll()) {
        std::atomic<std::uint32_t>& waiting = word_.get();
        // Relaxed: the StoreLoad barrier just below orders it before poll().
        waiting.store(parked, std::memory_order_relaxed);
        if (!store_load_barrier()) {
            // membarrier failed (the kernel documents no such case once the
            // process is registered). A sender may then miss us: sleep
            // briefly so that its record waits at most that long.
            timeout = std::min(timeout, degraded_park_limit);
        }
        if (auto result = poll()) {
            // Relaxed: nothing is published through the flag; a late
            // notify() that still sees `parked` only causes a spurious wake.
            waiting.store(idle, std::memory_order_relaxed);
            return result;
        }
        // Sleeps only while the word is still `parked`: a notify() that
        // reset it before the kernel looks makes this return at once.
        futex_wait(waiting, parked, timeout, Word::scope);
        // Acquire pairs with the release exchange in wake(): when a sender
        // woke us, its record is visible to the next poll(). An RMW, not a
        // store, so that it reads the sender's write.
        (void)waiting.exchange(idle, std::memory_order_acquire);
        return {};
    }

    [[nodiscard]] fence_mode mode() const noexcept { return mode_; }

  private:
    static constexpr std::uint32_t idle = 0;
    static constexpr std::uint32_t parked = 1;  // parked, or between publish and futex_wait
    static constexpr std::chrono::nanoseconds degraded_park_limit = std::chrono::milliseconds(1);

    // The receiver's half of the StoreLoad pair. False if it could not be
    // established (see park_unless).
    bool store_load_barrier() noexcept {
        if (mode_ == fence_mode::membarrier) {
            // The compiler barriers keep the store of `parked` before, and
            // poll()'s loads after, the syscall; the syscall orders the CPUs.
            std::atomic_signal_fence(std::memory_order_seq_cst);
            const bool done = membarrier_all_threads();
            std::atomic_signal_fence(std::memory_order_seq_cst);
            return done;
        }
        // Pairs with the seq_cst fence in notify().
        std::atomic_thread_fence(std::memory_order_seq_cst);
        return true;
    }

    // Out of line (channel/parker.cpp, instantiated there for both words):
    // the cold half of notify().
    void wake() noexcept;

    // The futex word: `parked` while the receiver sleeps or is about to.
    // Written by the receiver around each park and by the one sender that
    // wakes it; read by every notify(). A word that another process may
    // also write (shared_parker) can hold anything: any value but `idle`
    // only costs a spurious wake.
    Word word_;
    // Read-only after construction; next to the word (or its pointer) so
    // notify() touches one line of the parker.
    const fence_mode mode_;
};

// The in-process parker (channels, object channel, logging backend).
using parker = basic_parker<own_word>;
// The parker of a receiver in another process (channel/shared.hpp).
using shared_parker = basic_parker<mapped_word>;

}  // namespace logbuf::channel::details
