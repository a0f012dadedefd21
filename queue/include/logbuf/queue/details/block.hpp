// logbuf/queue/details/block.hpp - one link of the block list: 32 slots of
// uninitialised storage for T plus the header that says which slots hold a
// value. The list that strings blocks together is in ../block_list.hpp; the
// whole protocol is described in docs/design.md, "Block list and object
// channel".
//
// Positions. The list numbers slots with a free-running 64-bit position. The
// block holding position p starts at block_start(p) (p with the low 5 bits
// cleared) and p sits at slot_offset(p) (the low 5 bits) inside it.
//
// The ready word, one 64-bit atomic per block:
//
//   bits 0..31   slot i holds a finished value (set once, by its writer; or
//                by a consumer handing its role to that writer, hand_over())
//   bit  32      released: no sender will touch this block again once the
//                consumer has passed observed_tail
//   bit  33      closed: the list ends in this block ...
//   bits 34..38  ... at this slot, which never receives a value
//   bit  39      handed over: the consumer set a slot's bit before its
//                writer did (hand_over()); the block never counts as full
//
// Every bit is only ever set while the block is linked (fetch_or), and the
// consumer clears the whole word at once when it recycles the block.
#pragma once

#include <logbuf/details/cache_line.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace logbuf::queue::details {

inline constexpr std::size_t block_capacity = 32;
inline constexpr std::uint64_t slot_mask = block_capacity - 1;

inline constexpr std::uint64_t ready_mask = 0xFFFF'FFFFu;  // one bit per slot
inline constexpr std::uint64_t released_bit = std::uint64_t{1} << 32;
inline constexpr std::uint64_t closed_bit = std::uint64_t{1} << 33;
inline constexpr unsigned closed_slot_shift = 34;
inline constexpr std::uint64_t handed_over_bit = std::uint64_t{1} << 39;

[[nodiscard]] constexpr std::uint64_t block_start(std::uint64_t position) noexcept {
    return position & ~slot_mask;
}
[[nodiscard]] constexpr unsigned slot_offset(std::uint64_t position) noexcept {
    return static_cast<unsigned>(position & slot_mask);
}
[[nodiscard]] constexpr std::uint64_t slot_bit(unsigned offset) noexcept {
    return std::uint64_t{1} << offset;
}
// True if `ready` says the list ends at slot `offset` of this block.
[[nodiscard]] constexpr bool closes_at(std::uint64_t ready, unsigned offset) noexcept {
    return (ready & closed_bit) != 0 && ((ready >> closed_slot_shift) & slot_mask) == offset;
}

template <class T>
class alignas(std::max(logbuf::details::cache_line_size, alignof(T))) block {
  public:
    explicit block(std::uint64_t start) noexcept : start_index(start) {}
    block(const block&) = delete;
    block& operator=(const block&) = delete;
    // Never destroys values: the list does that, it alone knows which slots
    // are live.
    ~block() = default;

    // ---- header: one cache line, shared by senders and the consumer ----

    // Set bits as described at the top of this file.
    std::atomic<std::uint64_t> ready{0};
    // The block after this one, null while this is the last.
    std::atomic<block*> next{nullptr};
    // Position of slot 0. Written only while one thread owns the block (at
    // allocation, or by the consumer before it links a recycled block back
    // in); readers get it through the release that linked the block.
    std::uint64_t start_index;
    // The list's tail position seen right after the shared tail pointer moved
    // past this block. Written before released_bit is set, read after.
    std::uint64_t observed_tail = 0;
    // Slots whose writer threw while constructing the value: their ready bit
    // is set so the consumer can step over them, but there is nothing to read
    // or destroy. Only ever non-zero for a T whose constructor can throw.
    std::atomic<std::uint32_t> abandoned{0};

    // ---- slots ----------------------------------------------------------

    [[nodiscard]] T* value_at(unsigned offset) noexcept {
        return std::launder(reinterpret_cast<T*>(slots_[offset].bytes));
    }

    // Constructs the value in slot `offset`; publish() (or, if this throws,
    // abandon()) must follow: a claimed slot must never stay unpublished, or
    // the consumer would wait on it for ever.
    template <class... Args>
    void construct(unsigned offset,
                   Args&&... args) noexcept(std::is_nothrow_constructible_v<T, Args...>) {
        ::new (static_cast<void*>(slots_[offset].bytes)) T(std::forward<Args>(args)...);
    }

    // Publishes the value constructed in slot `offset`. True if the consumer
    // handed its role to us meanwhile (see hand_over()): the caller is the
    // consumer now. The bit test compiles to one `lock bts` on x86-64, the
    // same cost as the `lock or` of a plain publish.
    [[nodiscard]] bool publish(unsigned offset) noexcept {
        // Release pairs with the consumer's acquire load of `ready`: the
        // value constructed above is visible before the bit is. Acquire
        // pairs with the release in hand_over(): if the consumer set the bit
        // first, its state (read position, blocks) is visible to us.
        return (ready.fetch_or(slot_bit(offset), std::memory_order_acq_rel) & slot_bit(offset)) !=
               0;
    }

    // Publishes slot `offset` as given up: its writer threw while
    // constructing the value, so the consumer steps over it. Returns what
    // publish() returns.
    [[nodiscard]] bool abandon(unsigned offset) noexcept {
        // Relaxed: published by the release of the ready bit in publish().
        abandoned.fetch_or(static_cast<std::uint32_t>(slot_bit(offset)), std::memory_order_relaxed);
        return publish(offset);
    }

    // The consumer, going away for good, found slot `offset` claimed but not
    // published. It sets the slot's ready bit itself. False: the writer
    // published first, the value is readable, the consumer carries on. True:
    // the writer's publish() will find the bit already set and take over the
    // consumer's role; the consumer must not touch the list again.
    [[nodiscard]] bool hand_over(unsigned offset) noexcept {
        // Release pairs with the acquire in the writer's publish(): the
        // consumer's state is handed over with the bit. Acquire pairs with
        // the release in publish(): if the writer was first, its value is
        // visible.
        // handed_over_bit comes in the same RMW, so whoever sees the slot's
        // bit sees it too: is_full() must not take the block as full while
        // the writer may not even have found it yet.
        const std::uint64_t before =
            ready.fetch_or(slot_bit(offset) | handed_over_bit, std::memory_order_acq_rel);
        return (before & slot_bit(offset)) == 0;
    }

    // True if slot `offset` was given up by a throwing writer. Call only
    // after an acquire load of `ready` showed the slot's bit.
    [[nodiscard]] bool is_abandoned(unsigned offset) const noexcept {
        // Relaxed: the acquire load of `ready` that showed the slot's bit
        // already made the writer's fetch_or on `abandoned` visible.
        return (abandoned.load(std::memory_order_relaxed) & slot_bit(offset)) != 0;
    }

    // True once all 32 slots are published: no sender writes here any more.
    // A block with a slot handed over never is (its writer may still be
    // about to look for it; the list is closed then, so the tail pointer
    // that stops at this block has nowhere to go anyway).
    [[nodiscard]] bool is_full() const noexcept {
        // Acquire pairs with the writers' release in publish(); a sender
        // moving the tail past this block relies on every writer being done.
        return (ready.load(std::memory_order_acquire) & (ready_mask | handed_over_bit)) ==
               ready_mask;
    }

    // Called by the sender that moved the shared tail pointer past this
    // block, with the tail position it read right after: any sender that
    // claims that position or a later one finds the new tail pointer and
    // never walks through this block.
    void release(std::uint64_t tail_seen) noexcept {
        observed_tail = tail_seen;
        // Release pairs with the consumer's acquire in block_list::reclaim():
        // observed_tail is written before the consumer reads it.
        ready.fetch_or(released_bit, std::memory_order_release);
    }

    // Marks slot `offset` as the end of the list.
    void close_at(unsigned offset) noexcept {
        // Release pairs with the consumer's acquire of `ready`; nothing is
        // written before it, but the closer's earlier pushes on this thread
        // stay ordered before the end marker.
        ready.fetch_or(closed_bit | (std::uint64_t{offset} << closed_slot_shift),
                       std::memory_order_release);
    }

    // Makes an emptied block look new, at position `start`. The caller owns
    // the block outright: it is unlinked and no sender can reach it.
    void reset(std::uint64_t start) noexcept {
        // Relaxed throughout: the block is published again by the release
        // compare-exchange that links it behind the tail.
        ready.store(0, std::memory_order_relaxed);
        next.store(nullptr, std::memory_order_relaxed);
        abandoned.store(0, std::memory_order_relaxed);
        start_index = start;
        observed_tail = 0;
    }

  private:
    struct slot_storage {
        alignas(T) unsigned char bytes[sizeof(T)];
    };
    // Its own cache line: the header above is hammered by every sender's
    // fetch_or, the first values should not share that line.
    alignas(logbuf::details::cache_line_size) slot_storage slots_[block_capacity];
};

}  // namespace logbuf::queue::details
