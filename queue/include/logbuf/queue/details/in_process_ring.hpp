// logbuf/queue/details/in_process_ring.hpp - what make() allocates, in one
// piece: the shared positions, the consumer's reader on lines of its own,
// then the buffer.
#pragma once

#include <logbuf/details/cache_line.hpp>
#include <logbuf/queue/details/reader.hpp>
#include <logbuf/queue/details/ring.hpp>

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace logbuf::queue::details {

// What make() allocates, in one piece: the shared positions, the reader on
// lines of its own, then the buffer. Freed as bytes, so everything in it is
// trivially destructible.
struct alignas(logbuf::details::false_sharing_range) in_process_ring {
    ring_positions positions;
    alignas(logbuf::details::false_sharing_range) reader consumer;

    in_process_ring(std::byte* buffer, std::size_t capacity)
        : consumer(ring(positions, buffer, capacity)) {}

    // Allocates a zeroed ring of at least `requested` bytes. The returned
    // pointer owns the allocation; its buffer follows the struct.
    [[nodiscard]] static std::shared_ptr<in_process_ring> make(std::size_t requested) {
        const std::size_t capacity = checked_capacity(requested);
        constexpr std::size_t align = alignof(in_process_ring);
        const std::size_t bytes = align - 1 + sizeof(in_process_ring) + capacity;
        if (bytes < capacity) throw std::bad_alloc();
        // Value-initialised: zero is "uncommitted", and zeroing touches every
        // page once, so the first lap takes no page faults on the hot path.
        std::shared_ptr<std::byte[]> storage = std::make_shared<std::byte[]>(bytes);
        void* start = storage.get();
        std::size_t space = bytes;
        start = std::align(align, sizeof(in_process_ring) + capacity, start, space);
        auto* block = ::new (start)
            in_process_ring(static_cast<std::byte*>(start) + sizeof(in_process_ring), capacity);
        return std::shared_ptr<in_process_ring>(std::move(storage), block);
    }
};
static_assert(std::is_trivially_destructible_v<in_process_ring>);

}  // namespace logbuf::queue::details
