// Helpers for the reliability tests: a heap counter (leaks show as a count
// that does not come back), self-describing records, and a value type that
// counts its own lives (exactly-once destruction).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace reliability {

// ---- heap --------------------------------------------------------------------

// Heap blocks currently allocated through operator new in this program
// (alloc_counter.cpp replaces the global operators). Compare before and after
// a scope that owns no threads: a difference is a leak or a double free.
long long live_allocations() noexcept;
// False where the counter cannot be installed (ThreadSanitizer builds).
bool counting_allocations() noexcept;

// ---- records -----------------------------------------------------------------

// A record names its producer and sequence in its first 12 bytes, and every
// byte after that is a function of both: a torn, stale, misplaced or
// overwritten record does not decode.
inline constexpr std::size_t stamp_size = 12;

inline std::byte pattern(std::uint32_t source, std::uint64_t sequence, std::size_t i) {
    const std::uint64_t x = (sequence + 1) * 0x9E3779B97F4A7C15ull ^
                            (source + 1) * 0xC2B2AE3D27D4EB4Full ^ i * 0x165667B19E3779F9ull;
    return static_cast<std::byte>(x >> 56);
}

// Length of record `sequence` of `source`, in [stamp_size, max_len]: a pure
// function, so the reader knows it without being told.
inline std::size_t length_of(std::uint32_t source, std::uint64_t sequence, std::size_t max_len) {
    std::uint64_t x = (sequence + 7) * 0xBF58476D1CE4E5B9ull ^ (source + 3) * 0x94D049BB133111EBull;
    x ^= x >> 29;
    return stamp_size + static_cast<std::size_t>(x % (max_len - stamp_size + 1));
}

inline void fill(std::span<std::byte> out, std::uint32_t source, std::uint64_t sequence) {
    std::memcpy(out.data(), &source, sizeof source);
    std::memcpy(out.data() + sizeof source, &sequence, sizeof sequence);
    for (std::size_t i = stamp_size; i < out.size(); ++i)
        out[i] = pattern(source, sequence, i);
}

// Decodes a record; false if any byte is not what its stamp says.
inline bool decode(std::span<const std::byte> in, std::uint32_t& source, std::uint64_t& sequence) {
    if (in.size() < stamp_size) return false;
    std::memcpy(&source, in.data(), sizeof source);
    std::memcpy(&sequence, in.data() + sizeof source, sizeof sequence);
    for (std::size_t i = stamp_size; i < in.size(); ++i)
        if (in[i] != pattern(source, sequence, i)) return false;
    return true;
}

// ---- counted values ----------------------------------------------------------

// Every counted value that carries an id is registered while it lives; a
// moved-from value carries none. Destroying a value whose id is not live
// (twice, or never constructed) or constructing a duplicate id is recorded
// as an error; at the end, live() must be empty.
class ledger {
  public:
    static ledger& get() {
        static ledger instance;
        return instance;
    }
    void born(std::uint64_t id) {
        std::lock_guard lock(mutex_);
        if (!live_.insert(id).second) ++errors_;
    }
    void died(std::uint64_t id) {
        std::lock_guard lock(mutex_);
        if (live_.erase(id) != 1) ++errors_;
    }
    std::size_t live() {
        std::lock_guard lock(mutex_);
        return live_.size();
    }
    bool is_live(std::uint64_t id) {
        std::lock_guard lock(mutex_);
        return live_.count(id) != 0;
    }
    std::uint64_t errors() {
        std::lock_guard lock(mutex_);
        return errors_;
    }
    void reset() {
        std::lock_guard lock(mutex_);
        live_.clear();
        errors_ = 0;
    }

  private:
    std::mutex mutex_;
    std::set<std::uint64_t> live_;
    std::uint64_t errors_ = 0;
};

inline constexpr std::uint64_t no_id = ~std::uint64_t{0};

// Move-only; the id travels with the value.
class counted {
  public:
    explicit counted(std::uint64_t id) : id_(id) { ledger::get().born(id_); }
    counted(counted&& other) noexcept : id_(other.id_) { other.id_ = no_id; }
    counted& operator=(counted&& other) noexcept {
        if (this != &other) {
            release();
            id_ = other.id_;
            other.id_ = no_id;
        }
        return *this;
    }
    counted(const counted&) = delete;
    counted& operator=(const counted&) = delete;
    ~counted() { release(); }

    [[nodiscard]] std::uint64_t id() const noexcept { return id_; }

  private:
    void release() {
        if (id_ != no_id) ledger::get().died(id_);
        id_ = no_id;
    }
    std::uint64_t id_;
};

// Yields `n` times: lets the other thread get from "about to wait" to
// spinning (small n), yielding or parked in the kernel (large n).
inline void pause_for(int n) {
    for (int i = 0; i < n; ++i)
        std::this_thread::yield();
}
inline constexpr std::array<int, 3> pauses = {0, 20, 2000};

// Waits until `flag` is set by the other thread (bounded only by that
// thread's progress, which the test controls).
inline void await(const std::atomic<bool>& flag) {
    // Acquire pairs with the other thread's release store of the flag.
    while (!flag.load(std::memory_order_acquire))
        std::this_thread::yield();
}

// "producer A, consumer, ...": a destruction order, for SCOPED_TRACE.
// names[k] names the object numbered k.
inline std::string describe(const std::vector<int>& order, std::span<const char* const> names) {
    std::string s;
    for (int k : order)
        s += std::string(s.empty() ? "" : ", ") + names[static_cast<std::size_t>(k)];
    return s;
}

}  // namespace reliability
