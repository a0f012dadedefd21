// logbuf/queue/block_list.hpp - an unbounded lock-free MPSC list of T.
//
//   logbuf::queue::block_list<order> list;
//   list.push(std::move(o));                       // any thread
//   if (auto r = list.try_pop()) use(*r.value);    // the one consumer thread
//
// Values live in a chain of fixed blocks of 32 slots (details/block.hpp).
// A sender claims a slot with one fetch_add on the shared tail position,
// finds (or appends) the block holding it, constructs the value there and
// sets the slot's ready bit. The consumer walks the chain in position order.
// Blocks it has emptied go back behind the tail for reuse, so a list whose
// consumer keeps up stops allocating after warm-up.
//
// Positions are 63-bit; the top bit of the tail position is the closed flag.
// close() sets it with one fetch_or: a push whose fetch_add sees the flag
// fails and touches nothing, so every push either happens entirely before
// the close or fails, and the position the close took marks the end.
//
// Allocation happens only when the chain grows: a push or close that needs a
// block past the last one allocates it. Running out of memory there ends the
// program (std::terminate through noexcept): a claimed position cannot be
// given back, and an unwritten one would stall the consumer for ever.
//
// Protocol, memory orders and the reclaim rules: docs/design.md, "Block list
// and object channel". The design follows Tokio's mpsc list.
#pragma once

#include <logbuf/details/cache_line.hpp>
#include <logbuf/queue/details/block.hpp>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

namespace logbuf::queue {

// What try_pop() found at the read position.
enum class pop_status : std::uint8_t {
    value,   // a value was handed out
    empty,   // no slot past the read position has been claimed
    busy,    // the next slot is claimed but its value is not written yet: it
             // is on its way (or a close is being recorded), ask again
    closed,  // the list was closed and every value before that was popped
};

// Memory diagnostic: how many blocks a list holds and has ever allocated.
// With a consumer that keeps up, `live` stays small and `allocated` stops
// growing after warm-up: emptied blocks are recycled, not freed.
struct block_usage {
    std::size_t live = 0;       // blocks held now (linked, or being linked)
    std::size_t allocated = 0;  // blocks allocated since construction, the first included
};

template <class T>
struct pop_result {
    pop_status status;
    std::optional<T> value;  // engaged exactly when status == pop_status::value

    explicit operator bool() const noexcept { return status == pop_status::value; }
};

template <class T>
class block_list {
    static_assert(std::is_object_v<T> && !std::is_const_v<T>, "block_list holds mutable objects");
    static_assert(std::is_nothrow_destructible_v<T>, "values are destroyed inside noexcept code");
    using block_type = details::block<T>;

  public:
    static constexpr std::size_t block_capacity = details::block_capacity;
    // Emptied blocks kept ready past the tail when nobody asks otherwise:
    // 256 KiB worth (at least 4), so that bursts of a few thousand small
    // values do not touch the allocator once warm, while a burst of big
    // values does not pin megabytes for ever.
    static constexpr std::size_t default_spare_blocks =
        std::max<std::size_t>(4, (256 * 1024) / sizeof(block_type));

    // Allocates the first block (std::bad_alloc if that fails). The consumer
    // keeps up to `spare_blocks` emptied blocks linked past the tail for
    // senders to fill and frees the rest: a list whose backlog never spans
    // more than that many blocks stops allocating once warm.
    explicit block_list(std::size_t spare_blocks = default_spare_blocks)
        : spare_limit_(spare_blocks) {
        auto* first = new block_type(0);
        // Relaxed: the list is not shared yet; handing it to other threads
        // (a thread start, a shared_ptr) publishes everything.
        block_tail_.store(first, std::memory_order_relaxed);
        head_ = first;
        free_head_ = first;
    }

    block_list(const block_list&) = delete;
    block_list& operator=(const block_list&) = delete;

    // Destroys every value pushed and not popped, then frees every block.
    // No push, close or pop may run concurrently or afterwards.
    ~block_list() {
        destroy_unpopped_values();
        std::size_t freed = 0;
        for (block_type* b = free_head_; b != nullptr; ++freed) {
            // Relaxed: the caller guarantees nothing runs concurrently.
            block_type* next = b->next.load(std::memory_order_relaxed);
            delete b;
            b = next;
        }
        assert(freed == usage().live && "a block left the chain");
        (void)freed;
    }

    // ---- senders: any thread, concurrently --------------------------------

    // Constructs a T from `args` at the end of the list. Returns false, with
    // `args` untouched, if the list is closed. Lock-free except when the chain
    // has to grow (one allocation per 32 values at most, none once blocks are
    // being recycled). Throws only what T's constructor throws; the slot is
    // then stepped over by the consumer.
    template <class... Args>
    [[nodiscard]] bool emplace(Args&&... args) noexcept(
        std::is_nothrow_constructible_v<T, Args...>) {
        // Acquire pairs with the release fetch_add(0) in find_block(): if a
        // block's observed_tail is at or below our position, the tail pointer
        // moved past that block before our claim, and we will not walk it.
        const std::uint64_t position = tail_position_.fetch_add(1, std::memory_order_acquire);
        if ((position & tail_closed) != 0) [[unlikely]]
            return false;
        block_type* b = find_block(position);
        const unsigned offset = details::slot_offset(position);
        if constexpr (std::is_nothrow_constructible_v<T, Args...>) {
            b->construct(offset, std::forward<Args>(args)...);
        } else {
            try {
                b->construct(offset, std::forward<Args>(args)...);
            } catch (...) {
                if (b->abandon(offset)) [[unlikely]]
                    discard_values();
                throw;
            }
        }
        // True only after discard(): the consumer left while we were writing
        // and handed its role to us, so the values from ours on die here.
        if (b->publish(offset)) [[unlikely]]
            discard_values();
        return true;
    }
    [[nodiscard]] bool push(T&& value) noexcept(std::is_nothrow_move_constructible_v<T>) {
        return emplace(std::move(value));
    }
    [[nodiscard]] bool push(const T& value) noexcept(std::is_nothrow_copy_constructible_v<T>) {
        return emplace(value);
    }

    // Ends the list: pushes from now on fail, values pushed before are still
    // popped, then try_pop() says closed. Returns true for the call that
    // closed it. May allocate the block the end marker lands in.
    bool close() noexcept {
        // Acquire for the same reason as the claim in emplace(): we walk to
        // the block holding `position` just like a sender.
        const std::uint64_t position =
            tail_position_.fetch_or(tail_closed, std::memory_order_acquire);
        if ((position & tail_closed) != 0) return false;
        // Release pairs with the acquire in discard_values(): claims that
        // fail after the close still bump the tail, so the end is kept here.
        end_position_.store(position, std::memory_order_release);
        find_block(position)->close_at(details::slot_offset(position));
        return true;
    }

    // A snapshot: true once close() has been called.
    [[nodiscard]] bool is_closed() const noexcept {
        // Relaxed: a hint only; a push learns the truth from its own claim.
        return (tail_position_.load(std::memory_order_relaxed) & tail_closed) != 0;
    }

    // ---- the consumer: one thread --------------------------------------

    // Calls take(T&&) with the oldest value and destroys it afterwards. If
    // `take` (or T's move) throws, the value stays in place, in whatever state
    // `take` left it, and is handed out again by the next call.
    template <class F>
    pop_status try_pop_with(F&& take) {
        const pop_status status = find_next();
        if (status != pop_status::value) return status;
        T* value = head_->value_at(details::slot_offset(index_));
        take(std::move(*value));
        value->~T();
        step();
        return pop_status::value;
    }

    // What try_pop() would find, without taking it: pop_status::value means
    // the next try_pop() returns a value.
    [[nodiscard]] pop_status peek() noexcept { return find_next(); }

    [[nodiscard]] pop_result<T> try_pop() noexcept(std::is_nothrow_move_constructible_v<T>) {
        pop_result<T> result{pop_status::empty, std::nullopt};
        result.status = try_pop_with([&result](T&& v) { result.value.emplace(std::move(v)); });
        return result;
    }

    // The consumer's last call, for a consumer that goes away before the
    // senders (the object channel's receiver): closes the list and destroys
    // every value in it. It cannot wait for a slot that is still being
    // written (the writer's T constructor may run for ever, or wait on the
    // consumer's thread), so it destroys the values up to that slot and
    // hands the consumer's role to the slot's writer: that writer's push,
    // once its value is published, destroys it and the values behind it, up
    // to the next slot still being written, and so on. So every value dies
    // once the consumer and the writers it waited on are done, not when the
    // list is destroyed. The values are destroyed on those writers' threads.
    // No consumer call may follow.
    void discard() noexcept {
        (void)close();
        discard_values();
    }

    // ---- diagnostics ------------------------------------------------------

    [[nodiscard]] block_usage usage() const noexcept {
        // Relaxed: statistics; nothing is read through them.
        return {live_blocks_.load(std::memory_order_relaxed),
                allocations_.load(std::memory_order_relaxed)};
    }

  private:
    // Set in tail_position_ by close(). Positions stay below 2^63.
    static constexpr std::uint64_t tail_closed = std::uint64_t{1} << 63;
    // How many links a recycled block tries before it is freed instead: the
    // first try at the end of the spares normally succeeds; failing ones race
    // senders that are growing the chain right now, a race not worth running.
    static constexpr int recycle_attempts = 3;
    // end_position_ before the list is closed: above every position.
    static constexpr std::uint64_t no_end = ~std::uint64_t{0};

    // The block holding `position`, walking (and growing) from the shared
    // tail pointer. Moves that pointer forward over full blocks on the way.
    block_type* find_block(std::uint64_t position) noexcept {
        const std::uint64_t start = details::block_start(position);
        const unsigned offset = details::slot_offset(position);
        // Acquire pairs with the release compare-exchange below: the header
        // of the block it points to is visible.
        block_type* b = block_tail_.load(std::memory_order_acquire);
        // Only a sender whose block is further from the tail pointer than its
        // own offset tries to move the pointer: the first few claimers of a
        // new block, not all 32 of them, so the pointer's line stays quiet.
        // The pointer never passes our block: that block is not full, since
        // our own slot is still unwritten.
        bool move_tail = (start - b->start_index) / block_capacity > offset;
        while (b->start_index != start) {
            // Acquire pairs with the release in link_after(): the next
            // block's header is visible.
            block_type* next = b->next.load(std::memory_order_acquire);
            if (next == nullptr) next = grow(b);
            // Never past a block that still has a writer: the consumer may
            // reclaim a block the pointer has passed.
            move_tail = move_tail && b->is_full();
            if (move_tail) {
                block_type* expected = b;
                // Release pairs with the acquire loads of block_tail_ (above,
                // and in recycle()): `next`'s header is visible through it.
                // Relaxed on failure: someone else moved it; we stop trying.
                if (block_tail_.compare_exchange_strong(expected, next, std::memory_order_release,
                                                        std::memory_order_relaxed)) {
                    // An RMW, not a load: it is ordered after every claim
                    // before it and heads a release sequence, so a claim
                    // that reads a later value synchronises with it (see the
                    // acquire in emplace()) and sees the moved pointer.
                    const std::uint64_t seen =
                        tail_position_.fetch_add(0, std::memory_order_release);
                    b->release(seen & ~tail_closed);
                } else {
                    move_tail = false;
                }
            }
            b = next;
        }
        return b;
    }

    // Appends a new block after `last` (or, if another sender got there
    // first, further down the chain so the allocation is not wasted) and
    // returns the block that now follows `last`.
    block_type* grow(block_type* last) noexcept {
        auto* fresh = new block_type(0);  // bad_alloc -> std::terminate, see top of file
        // Relaxed: statistics.
        live_blocks_.fetch_add(1, std::memory_order_relaxed);
        allocations_.fetch_add(1, std::memory_order_relaxed);
        block_type* following = link_after(last, fresh);
        if (following == nullptr) return fresh;
        for (block_type* at = following;;) {
            block_type* taken = link_after(at, fresh);
            if (taken == nullptr) return following;
            at = taken;
        }
    }

    // Tries to make `b` the block after `at`. Returns null on success, else
    // the block that is already there (b is still ours then).
    static block_type* link_after(block_type* at, block_type* b) noexcept {
        b->start_index = at->start_index + block_capacity;
        block_type* existing = nullptr;
        // Release on success pairs with the acquire loads of `next`: b's
        // header (start_index, cleared bits) is visible to whoever walks to
        // it. Acquire on failure: the caller reads `existing`'s header next.
        at->next.compare_exchange_strong(existing, b, std::memory_order_acq_rel,
                                         std::memory_order_acquire);
        return existing;
    }

    // Brings the read position to the next published value (stepping over
    // abandoned slots) and says whether there is one.
    pop_status find_next() noexcept {
        for (;;) {
            const unsigned offset = details::slot_offset(index_);
            const std::uint64_t bit = details::slot_bit(offset);
            if ((ready_cache_ & bit) != 0) return pop_status::value;
            if (!advance_head()) return empty_or_busy();
            // Acquire pairs with the writer's release in block::publish(): the
            // values of every slot whose bit we see are visible.
            const std::uint64_t bits = head_->ready.load(std::memory_order_acquire);
            // Relaxed: a writer marks its slot abandoned before it sets the
            // ready bit, so the acquire above already ordered it.
            ready_cache_ = bits & ~std::uint64_t{head_->abandoned.load(std::memory_order_relaxed)};
            if ((ready_cache_ & bit) != 0) return pop_status::value;
            if ((bits & bit) != 0) {  // published, but its writer threw: nothing to read
                step();
                continue;
            }
            if (details::closes_at(bits, offset)) return pop_status::closed;
            return empty_or_busy();
        }
    }

    // Moves head_ to the block holding index_. False if that block is not
    // linked yet (a sender is still growing the chain).
    bool advance_head() noexcept {
        const std::uint64_t start = details::block_start(index_);
        if (head_->start_index == start) return true;
        do {
            // Acquire pairs with the release in link_after().
            block_type* next = head_->next.load(std::memory_order_acquire);
            if (next == nullptr) return false;
            head_ = next;
        } while (head_->start_index != start);
        reclaim();
        return true;
    }

    // Recycles the blocks before head_ that no sender can reach any more: the
    // tail pointer has passed them (released) and every position claimed
    // before it did so (below observed_tail) has been popped, so every
    // sender that might have been walking through them is done.
    void reclaim() noexcept {
        while (free_head_ != head_) {
            // Acquire pairs with the release in block::release():
            // observed_tail is readable.
            const std::uint64_t bits = free_head_->ready.load(std::memory_order_acquire);
            if ((bits & details::released_bit) == 0 || free_head_->observed_tail > index_) return;
            block_type* passed = free_head_;
            // Relaxed: advance_head() already loaded this pointer with acquire.
            free_head_ = passed->next.load(std::memory_order_relaxed);
            if (passed == spare_end_) spare_end_ = nullptr;
            recycle(passed);
        }
    }

    // Links an emptied block at the end of the chain for senders to reuse,
    // or frees it when enough spares wait there already.
    void recycle(block_type* b) noexcept {
        // Acquire pairs with the release compare-exchange in find_block().
        // The pointer is at or past every block we have recycled: the
        // acquire of released_bit in reclaim() ordered its move before us.
        block_type* at = block_tail_.load(std::memory_order_acquire);
        // The last spare we linked, if still ahead, is nearer the end: start
        // there rather than walk the spares. It is alive: only we free or
        // recycle blocks, and reclaim() forgets it when it recycles it.
        if (spare_end_ != nullptr && spare_end_->start_index > at->start_index) at = spare_end_;
        // Relaxed: an estimate of where senders write now, to count spares.
        const std::uint64_t writing =
            details::block_start(tail_position_.load(std::memory_order_relaxed) & ~tail_closed);
        if (at->start_index >= writing + spare_limit_ * block_capacity) {
            free_block(b);
            return;
        }
        b->reset(0);
        for (int attempt = 0; attempt < recycle_attempts; ++attempt) {
            block_type* existing = link_after(at, b);
            if (existing == nullptr) {
                spare_end_ = b;
                return;
            }
            at = existing;
        }
        free_block(b);
    }

    void free_block(block_type* b) noexcept {
        delete b;
        // Relaxed: a statistic.
        live_blocks_.fetch_sub(1, std::memory_order_relaxed);
    }

    // Past the slot just popped (or stepped over).
    void step() noexcept {
        ++index_;
        // The cache describes head_'s block only; the next block starts cold.
        if (details::slot_offset(index_) == 0) ready_cache_ = 0;
    }

    // Nothing to pop at index_: has anyone claimed it?
    pop_status empty_or_busy() const noexcept {
        // Relaxed: only compared with index_. Any claim whose value we have
        // popped happens-before this load, so the tail is never below index_;
        // equal means nobody has claimed index_ yet.
        const std::uint64_t tail = tail_position_.load(std::memory_order_relaxed) & ~tail_closed;
        return tail <= index_ ? pop_status::empty : pop_status::busy;
    }

    // discard() from the consumer, or from the writer it handed its role
    // to: destroys values until the end, or until a slot still being written,
    // whose writer then takes over.
    void discard_values() noexcept {
        for (;;) {
            pop_status status;
            do {
                status = try_pop_with([](T&&) noexcept {});  // popped values are destroyed
            } while (status == pop_status::value);
            if (status != pop_status::busy) return;  // closed, or empty: every value is gone
            // Acquire pairs with the release in close(). Until the closer has
            // stored the end, `busy` may be it recording the end marker.
            const std::uint64_t end = end_position_.load(std::memory_order_acquire);
            if (end == no_end) {
                std::this_thread::yield();  // the closer is between two steps of close()
                continue;
            }
            if (index_ >= end) return;  // the closer's end marker is on its way: nothing after
            // index_ is claimed and not yet published. Its writer may still
            // be looking for the block: link it ourselves if need be.
            if (!advance_head()) {
                (void)find_block(index_);
                [[maybe_unused]] const bool linked = advance_head();
                assert(linked);
            }
            if (head_->hand_over(details::slot_offset(index_))) return;  // the writer goes on
            // The writer published meanwhile: go on ourselves.
        }
    }

    void destroy_unpopped_values() noexcept {
        for (block_type* b = head_; b != nullptr;) {
            // Acquire: pairs with the writers' release, in case the caller's
            // hand-over did not already order their writes before us.
            const std::uint64_t bits = b->ready.load(std::memory_order_acquire);
            for (unsigned offset = 0; offset < block_capacity; ++offset) {
                if (b->start_index + offset < index_) continue;
                if ((bits & details::slot_bit(offset)) == 0 || b->is_abandoned(offset)) continue;
                b->value_at(offset)->~T();
            }
            // Acquire pairs with the release that linked the next block.
            b = b->next.load(std::memory_order_acquire);
        }
    }

    // ---- shared by senders: claimed on every push ----
    // The tail position and the tail pointer share a line on purpose: a
    // sender reads the pointer right after its fetch_add on the position, and
    // the line is already in its cache then.
    alignas(logbuf::details::false_sharing_range) std::atomic<std::uint64_t> tail_position_{0};
    // A block at or before the one holding tail_position_; senders start
    // walking here. Moves forward only, over full blocks.
    std::atomic<block_type*> block_tail_{nullptr};

    // ---- the consumer's own; no other thread touches these ----
    // The block holding index_; it lags behind when index_ has just crossed
    // into a block, until the next pop walks to it.
    alignas(logbuf::details::false_sharing_range) block_type* head_ = nullptr;
    std::uint64_t index_ = 0;          // next position to pop
    block_type* free_head_ = nullptr;  // oldest block not yet recycled; head of the whole chain
    block_type* spare_end_ = nullptr;  // last block recycle() linked, while it is in the chain
    const std::size_t spare_limit_;    // most spares recycle() keeps past the tail
    std::uint64_t ready_cache_ = 0;  // head_'s readable slots (ready, not abandoned) as last loaded

    // ---- cold: changes only when a block is allocated or freed ----
    alignas(logbuf::details::false_sharing_range) std::atomic<std::size_t> live_blocks_{1};
    std::atomic<std::size_t> allocations_{1};
    // The position close() took: the end of the list; no_end until then.
    // Written once; read only by discard().
    std::atomic<std::uint64_t> end_position_{no_end};
};

}  // namespace logbuf::queue
