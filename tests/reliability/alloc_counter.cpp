// Replaces the global allocation functions of the reliability test binary
// with ones that count live blocks (support.hpp: live_allocations()). The
// array and nothrow forms are not replaced: the standard versions call these.
//
// Under ThreadSanitizer the runtime brings its own operator new/delete, so
// nothing is replaced and live_allocations() stays 0: the leak comparisons
// pass trivially there (ASan's LeakSanitizer and the plain build check them).
#include "support.hpp"

#if defined(LOGBUF_UNDER_TSAN)

long long reliability::live_allocations() noexcept {
    return 0;
}
bool reliability::counting_allocations() noexcept {
    return false;
}

#else

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<long long> live{0};

void* allocate(std::size_t size, std::size_t alignment) {
    if (size == 0) size = 1;
    void* p = nullptr;
    if (alignment <= alignof(std::max_align_t)) {
        p = std::malloc(size);
    } else {
        // aligned_alloc wants the size to be a multiple of the alignment.
        p = std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
    }
    if (p == nullptr) throw std::bad_alloc();
    // Relaxed: a statistic read when no other thread allocates.
    live.fetch_add(1, std::memory_order_relaxed);
    return p;
}

void release(void* p) noexcept {
    if (p == nullptr) return;
    live.fetch_sub(1, std::memory_order_relaxed);
    std::free(p);
}
}  // namespace

long long reliability::live_allocations() noexcept {
    return live.load(std::memory_order_relaxed);
}
bool reliability::counting_allocations() noexcept {
    return true;
}

void* operator new(std::size_t size) {
    return allocate(size, alignof(std::max_align_t));
}
void* operator new(std::size_t size, std::align_val_t alignment) {
    return allocate(size, static_cast<std::size_t>(alignment));
}
void operator delete(void* p) noexcept {
    release(p);
}
void operator delete(void* p, std::size_t) noexcept {
    release(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    release(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    release(p);
}

#endif  // LOGBUF_UNDER_TSAN
