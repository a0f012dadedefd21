// Helpers for the block list and object channel tests: a value type that
// counts its constructions and destructions, and how much to shrink stress
// runs under sanitizers.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <stdexcept>
#include <thread>
#include <utility>

namespace object_test {

#if defined(LOGBUF_UNDER_TSAN) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool under_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool under_sanitizer = true;
#else
inline constexpr bool under_sanitizer = false;
#endif
#else
inline constexpr bool under_sanitizer = false;
#endif

// Stress iteration counts: `full` in a release build, a tenth under sanitizers.
[[nodiscard]] constexpr std::uint64_t iterations(std::uint64_t full) {
    return under_sanitizer ? full / 10 : full;
}

// Every live `counted` object (moved-from ones included) is one in `live`.
// A value that is destroyed twice or never shows up as a wrong count, and
// the `alive` flag catches a destructor running on a dead object.
struct counted {
    static inline std::atomic<long> live{0};
    static inline std::atomic<long> destroyed_with_payload{0};

    std::uint64_t payload = 0;
    bool has_payload = false;  // false once moved from
    bool alive = true;

    explicit counted(std::uint64_t p) noexcept : payload(p), has_payload(true) {
        live.fetch_add(1);
    }
    counted(counted&& other) noexcept : payload(other.payload), has_payload(other.has_payload) {
        other.has_payload = false;
        live.fetch_add(1);
    }
    counted(const counted&) = delete;
    counted& operator=(const counted&) = delete;
    counted& operator=(counted&&) = delete;
    ~counted() {
        if (!alive) std::terminate();  // destroyed twice
        alive = false;
        if (has_payload) destroyed_with_payload.fetch_add(1);
        live.fetch_sub(1);
    }

    static void reset() {
        live = 0;
        destroyed_with_payload = 0;
    }
};

// A value whose move constructor throws when its payload says so.
struct throws_on_move {
    static inline std::atomic<long> live{0};
    int payload = 0;
    bool explode = false;

    throws_on_move(int p, bool e) noexcept : payload(p), explode(e) { live.fetch_add(1); }
    throws_on_move(throws_on_move&& other) : payload(other.payload), explode(other.explode) {
        if (explode) throw std::runtime_error("move failed");
        live.fetch_add(1);
    }
    throws_on_move(const throws_on_move&) = delete;
    throws_on_move& operator=(const throws_on_move&) = delete;
    throws_on_move& operator=(throws_on_move&&) = delete;
    ~throws_on_move() { live.fetch_sub(1); }
};

// A value whose move constructor waits until the test opens a gate (when
// built with one): the slot it is moved into is claimed but not written for
// as long as the test likes. Moves out of the list do not wait.
struct gated {
    int payload = 0;
    std::atomic<bool>* entered = nullptr;
    std::atomic<bool>* open = nullptr;

    gated(int p, std::atomic<bool>* e, std::atomic<bool>* o) noexcept
        : payload(p), entered(e), open(o) {}
    gated(gated&& other) noexcept : payload(other.payload) {
        if (other.entered != nullptr) {
            other.entered->store(true);
            while (!other.open->load())
                std::this_thread::yield();
        }
    }
};

// A counted value whose move constructor first runs a hook, once (the hook
// travels with the value and is dropped once run). The move into the
// channel's slot runs it, so a test can block inside the write of a slot, or
// act on the channel from inside it. Copy-free, like the values it stands for.
struct hooked {
    counted inner;
    std::function<void()> hook;

    explicit hooked(std::uint64_t p, std::function<void()> h = {}) noexcept
        : inner(p), hook(std::move(h)) {}
    hooked(hooked&& other) noexcept : inner(std::move(other.inner)) {
        if (std::function<void()> h = std::exchange(other.hook, {})) h();
    }
    hooked(const hooked&) = delete;
    hooked& operator=(const hooked&) = delete;
    hooked& operator=(hooked&&) = delete;
    ~hooked() = default;
};

// A (producer, sequence) pair: enough to check order and counts per producer.
struct tagged {
    std::uint32_t producer = 0;
    std::uint64_t sequence = 0;
};

}  // namespace object_test
