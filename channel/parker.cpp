// The compiled half of the receiver's parker (channel/details/parker.hpp):
// choosing the process's StoreLoad barrier pair once, the membarrier call,
// and the cold wake path of notify().
#include <logbuf/channel/details/futex.hpp>
#include <logbuf/channel/details/parker.hpp>

#include <cstdlib>
#include <cstring>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

// ThreadSanitizer does not model membarrier: it would not see the barrier the
// kernel runs on the sender's CPU. Our TSan build defines LOGBUF_UNDER_TSAN;
// the compiler macros catch users who build their own TSan binaries.
#if defined(LOGBUF_UNDER_TSAN) || defined(__SANITIZE_THREAD__)
#define LOGBUF_DETAILS_NO_MEMBARRIER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LOGBUF_DETAILS_NO_MEMBARRIER 1
#endif
#endif

namespace logbuf::channel::details {

namespace {

#if defined(__linux__) && defined(SYS_membarrier) && !defined(LOGBUF_DETAILS_NO_MEMBARRIER)
long membarrier(int command) noexcept {
    return ::syscall(SYS_membarrier, command, 0U, 0);
}

bool disabled_by_environment() noexcept {
    const char* value = std::getenv("LOGBUF_NO_MEMBARRIER");
    return value != nullptr && *value != '\0' && std::strcmp(value, "0") != 0;
}

fence_mode detect_fence_mode() noexcept {
    if (disabled_by_environment()) return fence_mode::fences;
    // QUERY fails with ENOSYS before Linux 4.3 or under a seccomp filter that
    // blocks the call; the PRIVATE_EXPEDITED bits appeared in 4.14.
    const long supported = membarrier(MEMBARRIER_CMD_QUERY);
    if (supported < 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0 ||
        (supported & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0)
        return fence_mode::fences;
    // Registration is per process and must precede the first expedited call.
    if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0) return fence_mode::fences;
    return fence_mode::membarrier;
}
#else
fence_mode detect_fence_mode() noexcept {
    return fence_mode::fences;
}
#endif

}  // namespace

fence_mode process_fence_mode() noexcept {
    // A function-local static: decided and registered once, thread-safely,
    // before the first parker exists.
    static const fence_mode mode = detect_fence_mode();
    return mode;
}

bool membarrier_all_threads() noexcept {
#if defined(__linux__) && defined(SYS_membarrier) && !defined(LOGBUF_DETAILS_NO_MEMBARRIER)
    return membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0;
#else
    return false;  // never called: process_fence_mode() is `fences` here
#endif
}

template <class Word>
void basic_parker<Word>::wake() noexcept {
    // Release pairs with the receiver's acquire exchange after futex_wait:
    // the record our caller published is visible to its next poll. Only the
    // sender that moves the word from `parked` to `idle` makes the syscall;
    // the receiver's futex_wait sees `idle` and does not sleep if it has not
    // gone to sleep yet.
    std::atomic<std::uint32_t>& waiting = word_.get();
    if (waiting.exchange(idle, std::memory_order_release) == parked)
        futex_wake_one(waiting, Word::scope);
}

template void basic_parker<own_word>::wake() noexcept;
template void basic_parker<mapped_word>::wake() noexcept;

}  // namespace logbuf::channel::details
