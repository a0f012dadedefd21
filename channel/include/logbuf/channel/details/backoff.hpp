// logbuf/channel/details/backoff.hpp - how a thread waits for another thread
// without sleeping in the kernel: a few rounds of CPU pauses that double in
// length, then sched_yield. Senders use it while the ring is full; the
// receiver uses it before it parks. It holds no reference to any channel, so
// any loop can use it:
//
//   backoff b;
//   while (!try_something()) {
//       if (peer_gone()) return errc::disconnected;
//       b.snooze();
//   }
#pragma once

#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_acle.h>
#endif

namespace logbuf::channel::details {

// Tells the core that this is a spin-wait: on x86 `pause` (saves power, frees
// the sibling hyper-thread, avoids the memory-order mis-speculation penalty
// when the awaited line changes); on AArch64 `yield`. Never a syscall.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    __yield();
#endif
}

class backoff {
  public:
    // Spin rounds pause 1, 2, 4, ... 2^(spin_rounds-1) times: about 127 pauses
    // in all (a few microseconds) before the first yield. Long enough for a
    // consumer that is already running to free space, short enough not to
    // starve a thread that shares our core.
    static constexpr unsigned spin_rounds = 7;
    // Yield rounds before is_completed() says "give up spinning" (the
    // receiver parks then; a sender keeps yielding).
    static constexpr unsigned yield_rounds = 10;

    // Waits a little, a little longer each call: pauses while spinning(),
    // then one sched_yield per call. Never sleeps in the kernel; never throws.
    void snooze() noexcept {
        if (round_ < spin_rounds) {
            for (unsigned i = 0; i < (1u << round_); ++i)
                cpu_relax();
        } else {
            std::this_thread::yield();
        }
        if (round_ < spin_rounds + yield_rounds) ++round_;
    }

    // True while snooze() still only pauses the CPU (no syscall yet).
    [[nodiscard]] bool spinning() const noexcept { return round_ < spin_rounds; }
    // True once the spin and the yield rounds are used up.
    [[nodiscard]] bool is_completed() const noexcept {
        return round_ >= spin_rounds + yield_rounds;
    }
    void reset() noexcept { round_ = 0; }

  private:
    unsigned round_ = 0;  // snooze() calls so far, saturating at spin + yield rounds
};

}  // namespace logbuf::channel::details
