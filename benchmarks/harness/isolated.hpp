// harness/isolated.hpp - an object on cache lines of its own, so that what one
// thread writes to it never shares a line with anything another thread uses.
//
//   auto tx = bench::isolate(std::move(ends.first));   // bench::isolated<producer>
//   tx->try_claim(n);
//
// For per-thread state a benchmark must keep outside the thread's stack:
// queue handles, tokens, counters. 128 bytes, not 64: adjacent-line
// prefetchers fetch lines in pairs.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

namespace bench {

inline constexpr std::size_t isolation_bytes = 128;

// The alignment rounds the size up too: nothing else lives on its lines.
template <class T>
struct alignas(isolation_bytes) isolated_slot {
    T value;
};

template <class T>
class isolated {
  public:
    explicit isolated(T value) : slot_(new isolated_slot<T>{std::move(value)}) {}

    T& operator*() noexcept { return slot_->value; }
    T* operator->() noexcept { return &slot_->value; }
    T* get() noexcept { return &slot_->value; }

  private:
    std::unique_ptr<isolated_slot<T>> slot_;
};

template <class T>
isolated<T> isolate(T value) {
    return isolated<T>(std::move(value));
}

}  // namespace bench
