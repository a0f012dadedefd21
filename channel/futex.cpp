#include <logbuf/channel/details/futex.hpp>

#include <climits>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ctime>
#else
#include <algorithm>
#include <array>
#include <condition_variable>
#include <functional>
#include <mutex>
#endif

namespace logbuf::channel::details {

#if defined(__linux__)

namespace {
long futex(const std::atomic<std::uint32_t>& word, int op, std::uint32_t value,
           const timespec* timeout) noexcept {
    // The kernel reads the word itself; std::atomic<uint32_t> is layout-compatible
    // with uint32_t (static_assert below), so its address is the word's address.
    auto* address = const_cast<std::atomic<std::uint32_t>*>(&word);
    return ::syscall(SYS_futex, address, op, value, timeout, nullptr, 0);
}
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

int wait_op(futex_scope scope) noexcept {
    return scope == futex_scope::shared ? FUTEX_WAIT : FUTEX_WAIT_PRIVATE;
}
int wake_op(futex_scope scope) noexcept {
    return scope == futex_scope::shared ? FUTEX_WAKE : FUTEX_WAKE_PRIVATE;
}
}  // namespace

void futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::chrono::nanoseconds timeout, futex_scope scope) noexcept {
    if (timeout <= std::chrono::nanoseconds::zero()) return;
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    timespec relative{};
    relative.tv_sec = static_cast<time_t>(secs.count());
    relative.tv_nsec = static_cast<long>((timeout - secs).count());
    // EAGAIN (value already differs), EINTR and ETIMEDOUT all mean "re-check".
    (void)futex(word, wait_op(scope), expected, &relative);
}

void futex_wake_one(const std::atomic<std::uint32_t>& word, futex_scope scope) noexcept {
    (void)futex(word, wake_op(scope), 1, nullptr);
}

void futex_wake_all(const std::atomic<std::uint32_t>& word, futex_scope scope) noexcept {
    (void)futex(word, wake_op(scope), INT_MAX, nullptr);
}

#else  // portable fallback

namespace {
struct bucket {
    std::mutex mutex;
    std::condition_variable changed;
};
bucket& bucket_for(const void* address) noexcept {
    static std::array<bucket, 64> table;
    return table[std::hash<const void*>{}(address) % table.size()];
}
}  // namespace

void futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::chrono::nanoseconds timeout, futex_scope scope) noexcept {
    if (timeout <= std::chrono::nanoseconds::zero()) return;
    // Another process's wake cannot reach this table: sleep briefly, the
    // caller re-checks.
    if (scope == futex_scope::shared)
        timeout = std::min<std::chrono::nanoseconds>(timeout, std::chrono::milliseconds(1));
    bucket& b = bucket_for(&word);
    std::unique_lock lock(b.mutex);
    // Checked under the bucket lock, which every waker takes: a wake between
    // this load and the wait cannot be missed.
    if (word.load(std::memory_order_acquire) != expected) return;
    b.changed.wait_for(lock, timeout);
}

void futex_wake_one(const std::atomic<std::uint32_t>& word, futex_scope scope) noexcept {
    // Buckets are shared between words, so "one" must wake all to be sure the
    // right waiter runs.
    futex_wake_all(word, scope);
}

void futex_wake_all(const std::atomic<std::uint32_t>& word, futex_scope) noexcept {
    bucket& b = bucket_for(&word);
    { std::lock_guard lock(b.mutex); }
    b.changed.notify_all();
}

#endif

}  // namespace logbuf::channel::details
