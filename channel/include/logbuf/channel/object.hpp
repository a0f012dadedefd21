// logbuf/channel/object.hpp - a typed MPSC channel: whole C++ objects, moved
// in by any number of senders and out by one receiver.
//
//   auto [tx, rx] = logbuf::channel::object::make<order>(1024);  // or make_unbounded<order>()
//   std::thread hot([tx]() mutable { (void)tx.send(order{...}); });  // a copy per thread
//   while (auto r = rx.recv()) execute(*r);   // ends with errc::disconnected
//
// Storage is the lock-free block list (logbuf/queue/block_list.hpp): a send
// is one fetch_add to claim a slot, a move into it and one fetch_or to
// publish it, then a parker notify (a load when the receiver is awake). A
// bounded channel adds one compare-exchange on a permit count; the receiver
// gives permits back as it takes values.
//
// Lifetime. The channel closes when every sender is gone or the receiver
// calls close() or is destroyed. Sends fail with errc::disconnected from
// then on (the value is left with the caller); every value sent before still
// reaches recv(), which then says errc::disconnected. A value is destroyed
// exactly once: by whoever received it, or, if nobody did, by the receiver's
// destructor, or, for values behind one still being written when the
// receiver went, by the send that was writing it, once it has written it.
//
// Exceptions. Nothing here throws except T's own constructors (sends) and
// T's move constructor (receives); every call is noexcept when those are.
// A send whose construction throws leaves nothing in the channel. A receive
// whose move throws leaves the value in the channel, to be received again.
//
// Allocation: a send allocates a block of 32 slots when the list has to grow;
// blocks the receiver has emptied are reused, so a receiver that keeps up
// stops the allocations after warm-up.
#pragma once

#include <logbuf/channel/details/backoff.hpp>
#include <logbuf/channel/details/parker.hpp>
#include <logbuf/channel/details/wait.hpp>
#include <logbuf/channel/object_result.hpp>
#include <logbuf/details/cache_line.hpp>
#include <logbuf/error.hpp>
#include <logbuf/queue/block_list.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace logbuf::channel {

namespace details {

// What the senders and the receiver of one object channel share.
template <class T>
struct object_state {
    // A bounded channel keeps enough spare blocks to hold `bound` values, so
    // it never allocates once warm; an unbounded one keeps the list's default.
    explicit object_state(std::size_t bound_)
        : list(bound_ == 0 ? queue::block_list<T>::default_spare_blocks
                           : bound_ / queue::block_list<T>::block_capacity + 2),
          bound(bound_),
          permits(bound_) {}

    // The values. Its sender and receiver fields sit on separate lines.
    queue::block_list<T> list;

    // Read by every send (notify(), bound); written only around a park and
    // when a sender handle is copied or dropped.
    alignas(logbuf::details::false_sharing_range) parker wake;
    const std::size_t bound;              // 0: unbounded
    std::atomic<std::size_t> senders{1};  // live sender handles; the last one closes the list

    // Bounded channels only: values that may still be sent. Senders take one
    // per value, the receiver gives one back per value taken out.
    alignas(logbuf::details::false_sharing_range) std::atomic<std::size_t> permits;

    [[nodiscard]] bool take_permit() noexcept {
        // Relaxed: the count orders nothing. Values travel through the
        // list's ready bits; the RMWs alone keep the count exact.
        std::size_t available = permits.load(std::memory_order_relaxed);
        do {
            if (available == 0) return false;
        } while (!permits.compare_exchange_weak(available, available - 1, std::memory_order_relaxed,
                                                std::memory_order_relaxed));
        return true;
    }
    void return_permits(std::size_t n) noexcept {
        // Relaxed: see take_permit().
        if (bound != 0 && n != 0) permits.fetch_add(n, std::memory_order_relaxed);
    }
};

}  // namespace details

namespace object {

// The sending end. Copyable: a copy is one more sender, and the channel
// closes when the last copy is gone. One sender object is used by one
// thread at a time; give each thread its own copy. A moved-from sender
// reports errc::disconnected.
template <class T>
class sender {
    using state = channel::details::object_state<T>;

  public:
    explicit sender(std::shared_ptr<state> s) noexcept : state_(std::move(s)) {}
    sender(const sender& other) noexcept : state_(other.state_) {
        // Relaxed: `other` holds a count, so it cannot reach zero meanwhile,
        // and an increment publishes nothing.
        if (state_) state_->senders.fetch_add(1, std::memory_order_relaxed);
    }
    sender(sender&&) noexcept = default;  // leaves `other` stateless
    sender& operator=(const sender& other) noexcept {
        if (this != &other) *this = sender(other);
        return *this;
    }
    sender& operator=(sender&& other) noexcept {
        if (this != &other) {
            disconnect();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    ~sender() { disconnect(); }

    // Sends `value` and wakes the receiver, or fails at once: errc::full
    // (bounded and at its bound) or errc::disconnected. `value` is moved from
    // only on success. Lock-free; allocates only when the list grows.
    [[nodiscard]] send_result try_send(T&& value) noexcept(
        std::is_nothrow_move_constructible_v<T>) {
        return try_send_from(std::move(value));
    }
    [[nodiscard]] send_result try_send(const T& value) noexcept(
        std::is_nothrow_copy_constructible_v<T>) {
        return try_send_from(value);
    }

    // As try_send, but while a bounded channel is full it waits (spin, then
    // yield; never sleeps in the kernel) until there is room or the channel
    // closes. Fails only with errc::disconnected.
    [[nodiscard]] send_result send(T&& value) noexcept(std::is_nothrow_move_constructible_v<T>) {
        return send_from(std::move(value));
    }
    [[nodiscard]] send_result send(const T& value) noexcept(
        std::is_nothrow_copy_constructible_v<T>) {
        return send_from(value);
    }

    // True once the receiver closed the channel or is gone (or this sender
    // was moved from): every send fails from then on.
    [[nodiscard]] bool is_closed() const noexcept { return !state_ || state_->list.is_closed(); }

    // The bound given to make(); 0 for an unbounded channel.
    [[nodiscard]] std::size_t bound() const noexcept { return state_ ? state_->bound : 0; }

  private:
    template <class V>
    send_result try_send_from(V&& value) noexcept(std::is_nothrow_constructible_v<T, V>) {
        if (!state_) [[unlikely]]
            return send_result(errc::disconnected);
        state& s = *state_;
        if (s.bound != 0 && !s.take_permit())
            return send_result(s.list.is_closed() ? errc::disconnected : errc::full);
        if (!push(s, std::forward<V>(value))) [[unlikely]] {
            s.return_permits(1);
            return send_result(errc::disconnected);
        }
        s.wake.notify();
        return send_result();
    }

    template <class V>
    send_result send_from(V&& value) noexcept(std::is_nothrow_constructible_v<T, V>) {
        // `value` is forwarded again after a failure: a failed try leaves it
        // untouched.
        send_result result = try_send_from(std::forward<V>(value));
        channel::details::backoff wait;
        while (result.error() == errc::full) {
            wait.snooze();
            result = try_send_from(std::forward<V>(value));
        }
        return result;
    }

    template <class V>
    static bool push(state& s, V&& value) noexcept(std::is_nothrow_constructible_v<T, V>) {
        if constexpr (std::is_nothrow_constructible_v<T, V>) {
            return s.list.emplace(std::forward<V>(value));
        } else {
            try {
                return s.list.emplace(std::forward<V>(value));
            } catch (...) {
                // The slot is stepped over and never received: its permit
                // comes back here. The wake lets a receiver that waits on
                // the slot look again.
                s.return_permits(1);
                s.wake.notify();
                throw;
            }
        }
    }

    void disconnect() noexcept {
        if (!state_) return;
        // Relaxed: the count only elects the sender that closes. The close
        // lands after every successful send because both are RMWs on the
        // list's tail position, whose order alone decides.
        if (state_->senders.fetch_sub(1, std::memory_order_relaxed) == 1) {
            (void)state_->list.close();
            state_->wake.notify();
        }
        state_.reset();
    }

    std::shared_ptr<state> state_;  // null once moved from
};

// The receiving end. Move-only; used by one thread at a time. A moved-from
// receiver reports errc::disconnected.
template <class T>
class receiver {
    using state = channel::details::object_state<T>;
    using clock = std::chrono::steady_clock;
    static constexpr bool nothrow_take = std::is_nothrow_move_constructible_v<T>;

  public:
    explicit receiver(std::shared_ptr<state> s) noexcept : state_(std::move(s)) {}
    receiver(receiver&&) noexcept = default;  // leaves `other` stateless
    receiver& operator=(receiver&& other) noexcept {
        if (this != &other) {
            disconnect();
            state_ = std::move(other.state_);
            waiter_ = other.waiter_;
        }
        return *this;
    }
    receiver(const receiver&) = delete;
    receiver& operator=(const receiver&) = delete;
    // Closes the channel and destroys every value in it. Values behind a
    // slot whose sender is still writing it (its T constructor runs) are
    // destroyed by that sender's send, on its thread, once it has written
    // the value: so every value is gone once the receiver and the senders
    // that were mid-send are done.
    ~receiver() { disconnect(); }

    // The next value; waits (spin, yield, park) until there is one. Fails
    // with errc::disconnected once the channel is closed and every value sent
    // before that has been received.
    [[nodiscard]] recv_result<T> recv() noexcept(nothrow_take) {
        return recv_until(clock::time_point::max());
    }

    // As recv(), but gives up after `timeout` with errc::timeout. A zero or
    // negative timeout looks once, without spinning.
    template <class Rep, class Period>
    [[nodiscard]] recv_result<T> recv_for(std::chrono::duration<Rep, Period> timeout) noexcept(
        nothrow_take) {
        return recv_until(channel::details::deadline_after(timeout));
    }

    // As recv(), but gives up at `deadline` with errc::timeout.
    [[nodiscard]] recv_result<T> recv_until(clock::time_point deadline) noexcept(nothrow_take) {
        if (!state_) [[unlikely]]
            return recv_result<T>(errc::disconnected);
        const std::optional<queue::pop_status> next = wait_next(deadline);
        if (!next) return recv_result<T>(errc::timeout);
        if (*next == queue::pop_status::closed) return recv_result<T>(errc::disconnected);
        return take_next();
    }

    // The next value, or errc::empty, or errc::disconnected (closed and
    // drained). Never parks. If a sender has claimed the next slot and is
    // still writing it, waits for that write (spin, then yield): the value
    // is already on its way, and values sent after it may be complete, so
    // "empty" would be a lie.
    [[nodiscard]] recv_result<T> try_recv() noexcept(nothrow_take) {
        if (!state_) [[unlikely]]
            return recv_result<T>(errc::disconnected);
        queue::pop_status status = state_->list.peek();
        if (status == queue::pop_status::busy) [[unlikely]] {
            channel::details::backoff wait;
            do {
                wait.snooze();
                status = state_->list.peek();
            } while (status == queue::pop_status::busy);
        }
        switch (status) {
            case queue::pop_status::value:
                return take_next();
            case queue::pop_status::closed:
                return recv_result<T>(errc::disconnected);
            default:
                return recv_result<T>(errc::empty);
        }
    }

    // Waits like recv() for the first value, then appends it and every value
    // already available, up to `limit` in all, to `out` (out.push_back(T&&)).
    // Returns how many were appended: 0 means disconnected (or limit == 0).
    // If appending throws (allocation, or T's move), the values appended so
    // far stay received and the one being appended stays in the channel, as
    // T's move left it. (Containers with reserve() are grown before the value
    // is taken, so a reallocation cannot consume it.)
    template <class Container>
    requires requires(Container& c, T&& v) { c.push_back(std::move(v)); }
    std::size_t recv_many(Container& out, std::size_t limit) {
        if (!state_ || limit == 0) return 0;
        if (wait_next(clock::time_point::max()) != queue::pop_status::value) return 0;
        struct permits_back {
            state& s;
            std::size_t taken = 0;
            ~permits_back() { s.return_permits(taken); }
        } taken{*state_};
        const auto append = [&out](T&& value) {
            // Grow before the value leaves its slot: a reallocating push_back
            // may move the value out and then throw copying the old elements,
            // destroying it. After this, only T's own move can throw.
            if constexpr (requires { out.reserve(out.capacity()); }) {
                if (out.size() == out.capacity()) out.reserve(out.size() < 8 ? 8 : 2 * out.size());
            }
            out.push_back(std::move(value));
        };
        while (taken.taken < limit && state_->list.try_pop_with(append) == queue::pop_status::value)
            ++taken.taken;
        return taken.taken;
    }

    // Closes the channel: sends fail from now on; values already sent are
    // still received, then recv() says errc::disconnected.
    void close() noexcept {
        if (state_) (void)state_->list.close();
    }

    // True once the channel is closed: close() was called or every sender
    // is gone. Values may still be waiting.
    [[nodiscard]] bool is_closed() const noexcept { return !state_ || state_->list.is_closed(); }

    // The bound given to make(); 0 for an unbounded channel.
    [[nodiscard]] std::size_t bound() const noexcept { return state_ ? state_->bound : 0; }

    // The longest one park lasts without a wake-up (default 100 ms). Senders
    // wake the receiver themselves, so this only bounds a lost-cause wait.
    void set_park_timeout(std::chrono::nanoseconds timeout) noexcept {
        waiter_.set_park_timeout(timeout);
    }
    [[nodiscard]] std::chrono::nanoseconds park_timeout() const noexcept {
        return waiter_.park_timeout();
    }

    // How often and how long this receiver slept in the kernel.
    [[nodiscard]] parking_stats parking() const noexcept { return waiter_.stats(); }

    // Memory diagnostic: blocks of 32 slots held now and allocated so far.
    [[nodiscard]] queue::block_usage block_usage() const noexcept {
        return state_ ? state_->list.usage() : queue::block_usage{};
    }

  private:
    // Waits until the next value is readable or the channel is closed and
    // drained; nullopt at `deadline`. Only peeks: T's move never runs inside
    // the parker's noexcept wait.
    std::optional<queue::pop_status> wait_next(clock::time_point deadline) noexcept {
        queue::block_list<T>& list = state_->list;
        const auto poll = [&list]() noexcept -> std::optional<queue::pop_status> {
            const queue::pop_status status = list.peek();
            if (status == queue::pop_status::value || status == queue::pop_status::closed)
                return status;
            return std::nullopt;  // empty, or busy: a value is on its way
        };
        if (auto status = poll()) [[likely]]
            return status;
        return waiter_.wait_until(state_->wake, poll, deadline);
    }

    // Precondition: peek() said pop_status::value.
    recv_result<T> take_next() noexcept(nothrow_take) {
        recv_result<T> result(errc::empty);
        (void)state_->list.try_pop_with([&result](T&& value) { result.emplace(std::move(value)); });
        state_->return_permits(1);
        return result;
    }

    void disconnect() noexcept {
        if (!state_) return;
        // Closes the list and destroys its values now rather than when the
        // last sender goes: a value may hold resources its sender wants
        // back. Values behind a slot still being written die when its
        // writer's send publishes it (block_list::discard()).
        state_->list.discard();
        state_.reset();
    }

    std::shared_ptr<state> state_;  // null once moved from
    channel::details::receive_waiter waiter_;
};

}  // namespace object

namespace details {
template <class T>
[[nodiscard]] std::pair<object::sender<T>, object::receiver<T>> make_object_channel(
    std::size_t bound) {
    auto s = std::make_shared<object_state<T>>(bound);
    return {object::sender<T>(s), object::receiver<T>(std::move(s))};
}
}  // namespace details

namespace object {

// A channel holding at most `bound` values at a time: try_send fails with
// errc::full and send waits while it is full. Throws std::invalid_argument
// if bound is 0, std::bad_alloc if the first block cannot be allocated.
template <class T>
[[nodiscard]] std::pair<sender<T>, receiver<T>> make(std::size_t bound) {
    if (bound == 0)
        throw std::invalid_argument("logbuf: an object channel needs a bound of 1 or more");
    return channel::details::make_object_channel<T>(bound);
}

// A channel without a bound: sends never fail with errc::full; memory grows
// with the backlog (32 values per block) and is reused once drained.
template <class T>
[[nodiscard]] std::pair<sender<T>, receiver<T>> make_unbounded() {
    return channel::details::make_object_channel<T>(0);
}

}  // namespace object
}  // namespace logbuf::channel
