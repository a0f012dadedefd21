// logbuf/queue/shared.hpp - the MPSC byte ring in a memory-mapped file, so
// that producers in other processes hand records to a consumer process, and
// what was committed survives a crash of any of them.
//
//   // consumer's process                  // any other process, any number
//   auto rx = logbuf::queue::shared::create("/dev/shm/orders.ring", 1 << 21);
//                                          auto tx =
//                                          logbuf::queue::shared::open("/dev/shm/orders.ring"); if
//                                          (auto c = tx.try_claim(n)) { memcpy(c.data(), p, n);
//                                          c.commit(); }
//   rx.drain([](std::span<const std::byte> r) { ... });
//   rx.unblock(std::chrono::seconds(1));   // now and then: a producer that died mid-write
//
//   // after every process died (a file on disk, not /dev/shm, survives a reboot too):
//   logbuf::queue::shared::recover("/var/log/orders.ring", [](std::span<const std::byte> r) { ...
//   });
//
// The same record format, claims and consumer as the in-process rings
// (details/record_format.hpp, details/claim_space.hpp, consumer.hpp), with
// three differences, all because other processes may die at any point or
// write anything:
//
// - A claim is marked in its header (claimed_bit | tag | len) right after
//   its space is taken, so a claim whose producer died says how long it is;
//   commit() and abort() are compare-exchanges from that mark, so a claim
//   that unblock() took away from a producer presumed dead stays taken.
// - The consumer checks every header against the buffer before using it
//   (details::untrusted_headers) and never reads sizes from the file after
//   open: a broken or hostile writer cannot make it read or write outside
//   the ring.
// - The consumer stores how far it has consumed into the file before it
//   zeroes what it consumed, so recover() knows where to start.
//
// The file's layout and what open() checks: details/shared_file.hpp.
#pragma once

#include <logbuf/error.hpp>
#include <logbuf/queue/claims.hpp>
#include <logbuf/queue/consumer.hpp>
#include <logbuf/queue/details/claim_space.hpp>
#include <logbuf/queue/details/record_format.hpp>
#include <logbuf/queue/details/ring.hpp>
#include <logbuf/queue/details/shared_file.hpp>
#include <logbuf/queue/details/shared_walk.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <utility>

#include <unistd.h>

namespace logbuf::queue::details {

// What every handle of one open() or create() in a process shares: the
// mapping, and the ring view of it built from this process's own checked
// copy of the capacity.
struct shared_mapping {
    explicit shared_mapping(mapped_file f)
        : file(std::move(f)),
          view(file.positions(), file.buffer(), static_cast<std::size_t>(file.capacity())) {}

    mapped_file file;
    ring view;
};

// The consumer's state: the mapping, the ring layer's reader of it, and
// unblock()'s memory of the claim holding up the read position.
struct shared_consumer_state {
    explicit shared_consumer_state(mapped_file f) : mapping(std::move(f)), reader(mapping.view) {}

    shared_mapping mapping;
    details::reader reader;
    bool stall_seen = false;
    std::uint64_t stall_position = 0;  // read position when the stall was first seen
    std::uint64_t stall_tail = 0;      // claims before this were out then
    std::chrono::steady_clock::time_point stall_since{};
};

}  // namespace logbuf::queue::details

namespace logbuf::queue::shared {

using logbuf::queue::read_claim;

// A claim in a shared ring: the interface of queue::write_claim. Its header
// holds its mark (claimed_bit | tag | size(), details/shared_walk.hpp) until
// commit() or abort() replaces it, each with a compare-exchange that fails
// (and then does nothing) if the consumer's unblock() has turned the claim
// into a skip region meanwhile - also when the space has been claimed again
// since, by a claim of the same length: its tag differs.
class write_claim {
  public:
    write_claim() noexcept = default;
    explicit write_claim(errc why) noexcept : error_(why) {}
    // Called by claim_space with the space it took; the producer marks it.
    write_claim(std::byte* record, std::size_t len) noexcept : record_(record), size_(len) {}

    // Stores the claim's mark (details::claimed_header) into its header.
    void mark(details::header_word mark) noexcept {
        mark_ = mark;
        // Relaxed: the mark is read by unblock() and recover(), which rely
        // on it only after this producer stalled for the unblock timeout
        // or died. The release fence keeps our payload stores after it (free
        // on x86-64, where stores are not reordered anyway): a header still 0
        // means no payload byte was written.
        details::header_of(record_).store(mark_, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
    }

    write_claim(write_claim&& other) noexcept
        : record_(std::exchange(other.record_, nullptr)),
          size_(std::exchange(other.size_, 0)),
          mark_(other.mark_),
          error_(std::exchange(other.error_, errc{})) {}
    write_claim& operator=(write_claim&& other) noexcept {
        if (this != &other) {
            abort();
            record_ = std::exchange(other.record_, nullptr);
            size_ = std::exchange(other.size_, 0);
            mark_ = other.mark_;
            error_ = std::exchange(other.error_, errc{});
        }
        return *this;
    }
    write_claim(const write_claim&) = delete;
    write_claim& operator=(const write_claim&) = delete;
    ~write_claim() { abort(); }

    [[nodiscard]] explicit operator bool() const noexcept { return record_ != nullptr; }
    [[nodiscard]] errc error() const noexcept { return error_; }
    [[nodiscard]] std::byte* data() noexcept {
        return record_ ? details::payload_of(record_) : nullptr;
    }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::span<std::byte> bytes() noexcept { return {data(), size_}; }

    // Publishes the record. No effect on an empty claim, nor on a claim the
    // consumer has already unblocked (the record is then not delivered).
    void commit() noexcept {
        if (!record_) return;
        details::header_word expected = mark_;
        // Release pairs with the consumer's acquire header load: the payload
        // is visible once the length is. Relaxed on failure: we touch
        // nothing more.
        (void)details::header_of(record_).compare_exchange_strong(
            expected, size_, std::memory_order_release, std::memory_order_relaxed);
        record_ = nullptr;
    }

    // Gives the space back as a skip region. No effect on an empty claim or
    // an unblocked one.
    void abort() noexcept {
        if (!record_) return;
        auto header = details::header_of(record_);
        // Relaxed: only "is it still ours?"; the CAS below decides. Checked
        // first so that a claim already unblocked is not zeroed under the
        // consumer (its space may have been handed to another producer).
        if (header.load(std::memory_order_relaxed) == mark_) {
            // A skip region's body must read zero (record_format.hpp).
            std::memset(details::payload_of(record_), 0, details::padded_length(size_));
            details::header_word expected = mark_;
            // Release pairs with the consumer's acquire: the zeroed body is
            // visible once the skip header is.
            (void)header.compare_exchange_strong(
                expected, details::skip_header(details::record_size(size_)),
                std::memory_order_release, std::memory_order_relaxed);
        }
        record_ = nullptr;
    }

  private:
    std::byte* record_ = nullptr;  // header of the claimed record; null when empty
    std::size_t size_ = 0;
    details::header_word mark_ = 0;  // what our header holds while the claim is ours
    errc error_{};
};

// The writing end, in any process. Copyable within a process (a copy is one
// more producer, as for queue::mpsc); producers in different processes
// claim concurrently. A moved-from producer reports errc::disconnected.
class producer {
  public:
    producer() noexcept = default;
    explicit producer(std::shared_ptr<const details::shared_mapping> mapping) noexcept
        : ring_(mapping->view), owner_(std::move(mapping)), tag_(fresh_tag()) {}
    // A copy is another producer: it gets tags of its own.
    producer(const producer& other) noexcept
        : ring_(other.ring_),
          owner_(other.owner_),
          cached_head_(other.cached_head_),
          tag_(fresh_tag()) {}
    producer& operator=(const producer& other) noexcept {
        if (this != &other) *this = producer(other);
        return *this;
    }
    producer(producer&& other) noexcept
        : ring_(std::exchange(other.ring_, details::ring::disconnected())),
          owner_(std::move(other.owner_)),
          cached_head_(other.cached_head_),
          tag_(other.tag_) {}
    producer& operator=(producer&& other) noexcept {
        if (this != &other) {
            ring_ = std::exchange(other.ring_, details::ring::disconnected());
            owner_ = std::move(other.owner_);
            cached_head_ = other.cached_head_;
            tag_ = other.tag_;
        }
        return *this;
    }
    ~producer() = default;

    // As queue::mpsc::producer::try_claim: errc::full, zero_length,
    // too_large, or disconnected (moved from). Never blocks, allocates or
    // throws.
    [[nodiscard]] write_claim try_claim(std::size_t len) noexcept {
        write_claim claim = details::claim_space<write_claim>(
            ring_, details::shared_tail{&ring_.tail()}, cached_head_, len);
        if (claim) [[likely]]
            claim.mark(details::claimed_header(len, ++tag_, ring_.capacity()));
        return claim;
    }

    [[nodiscard]] std::size_t capacity() const noexcept { return ring_.capacity(); }
    [[nodiscard]] std::size_t max_payload() const noexcept {
        return ring_.is_disconnected() ? 0 : ring_.max_payload();
    }
    // The open ring file (the channel layer keeps its presence locks on it);
    // -1 when moved from.
    [[nodiscard]] int file_descriptor() const noexcept { return owner_ ? owner_->file.fd() : -1; }
    // The file's area reserved for the layer above (details/shared_file.hpp).
    [[nodiscard]] std::byte* upper_area() const noexcept {
        return owner_ ? owner_->file.upper_area() : nullptr;
    }

  private:
    // Where this producer's claim tags start: different for every producer
    // object and process, so that two claims of the same length at the same
    // offset (laps apart) practically never carry the same mark.
    [[nodiscard]] std::uint64_t fresh_tag() const noexcept {
        std::uint64_t x =
            reinterpret_cast<std::uintptr_t>(this) ^
            (static_cast<std::uint64_t>(::getpid()) << 32) ^
            static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        x ^= x >> 31;
        x *= 0x9E3779B97F4A7C15ull;
        return x ^ (x >> 29);
    }

    details::ring ring_ = details::ring::disconnected();
    std::shared_ptr<const details::shared_mapping> owner_;
    std::uint64_t cached_head_ = 0;  // this copy's last view of head
    std::uint64_t tag_ = 0;          // the last claim's tag; +1 per claim
};

// The reading end, in the process that created the ring. Move-only, one
// thread. try_claim() and drain() as queue::consumer, on checked headers.
class consumer {
  public:
    consumer() noexcept : inner_(std::shared_ptr<details::reader>()) {}
    explicit consumer(std::shared_ptr<details::shared_consumer_state> state) noexcept
        : inner_(std::shared_ptr<details::reader>(state, &state->reader)),
          state_(std::move(state)) {}
    consumer(consumer&&) noexcept = default;
    consumer& operator=(consumer&&) noexcept = default;
    consumer(const consumer&) = delete;
    consumer& operator=(const consumer&) = delete;
    ~consumer() = default;

    // The oldest committed record, or errc::empty (errc::disconnected when
    // moved from). The record counts as consumed for recover() from here on.
    [[nodiscard]] read_claim try_claim() noexcept {
        if (!state_) return read_claim(errc::disconnected);
        read_claim claim = inner_.try_claim();
        if (claim) mark_consumed(claim.size());
        return claim;
    }

    // As queue::consumer::drain. A record counts as consumed for recover()
    // once f has returned for it.
    template <class F>
    std::size_t drain(F&& f, std::size_t max = SIZE_MAX) {
        if (!state_) return 0;
        return inner_.drain(
            [this, &f](std::span<const std::byte> record) {
                f(record);
                mark_consumed(record.size());
            },
            max);
    }

    // A claim that has held up the read position for longer than `stalled`,
    // counted from when this call first found it there uncommitted (its
    // producer died mid-write, or never wrote its header), becomes a skip
    // region, and so does every claim behind it that was already out then
    // and is still not committed; committed records behind it are kept.
    // Returns how many claims were turned into skips. Cheap when nothing is
    // held up (one header load); call it now and then, off the hot path.
    // A producer still alive whose claim was taken sees its commit() or
    // abort() do nothing.
    std::size_t unblock(std::chrono::nanoseconds stalled) noexcept {
        if (!state_) return 0;
        details::shared_consumer_state& s = *state_;
        const details::ring& r = s.mapping.view;
        const std::uint64_t position = s.reader.read_position();
        // Untrusted: only tells how far claims reach; clamped to one ring.
        std::uint64_t tail = r.tail().load(std::memory_order_relaxed) & ~std::uint64_t{7};
        if (tail < position || tail - position > r.capacity()) tail = position + r.capacity();
        const details::region first = region_at(position, tail);
        const bool held_up = first.kind != details::region_kind::record &&
                             first.kind != details::region_kind::skip && tail != position;
        if (!held_up) {
            s.stall_seen = false;
            return 0;
        }
        const auto now = std::chrono::steady_clock::now();
        if (!s.stall_seen || s.stall_position != position) {
            s.stall_seen = true;
            s.stall_position = position;
            s.stall_tail = tail;
            s.stall_since = now;
        }
        if (now - s.stall_since < stalled) return 0;
        // Every claim in [position, stall_tail) was out when the stall was
        // first seen, so a claim there still not committed has been out for
        // at least `stalled` too.
        std::size_t turned = 0;
        for (std::uint64_t p = position; p < s.stall_tail;) {
            const details::region g = region_at(p, s.stall_tail);
            if (g.kind != details::region_kind::record && g.kind != details::region_kind::skip) {
                if (!turn_into_skip(r.at(p), g)) continue;  // committed meanwhile: look again
                ++turned;
            }
            p += g.bytes;
        }
        s.stall_seen = false;
        return turned;
    }

    [[nodiscard]] std::size_t capacity() const noexcept { return state_ ? inner_.capacity() : 0; }
    [[nodiscard]] std::size_t max_payload() const noexcept {
        return state_ ? inner_.max_payload() : 0;
    }
    // See producer.
    [[nodiscard]] int file_descriptor() const noexcept {
        return state_ ? state_->mapping.file.fd() : -1;
    }
    [[nodiscard]] std::byte* upper_area() const noexcept {
        return state_ ? state_->mapping.file.upper_area() : nullptr;
    }

  private:
    // The region at `p` (a position the consumer or a walk reached, so a
    // multiple of 8), limited to the buffer's end and `end`.
    [[nodiscard]] details::region region_at(std::uint64_t p, std::uint64_t end) const noexcept {
        const details::ring& r = state_->mapping.view;
        const std::uint64_t limit = std::min<std::uint64_t>(r.bytes_to_end(p), end - p);
        return details::classify_region(r.at(p), std::max<std::uint64_t>(limit, 8),
                                        r.max_payload());
    }

    // Replaces the header of a claim that is not committed by a skip of its
    // length, then zeroes its body (a skip's body must read zero; a producer
    // that died mid-write left bytes there). False if the header changed
    // first (a late commit or abort won).
    static bool turn_into_skip(std::byte* record, const details::region& g) noexcept {
        details::header_word expected = g.header;
        // Relaxed: the RMW alone decides between us and a late commit/abort;
        // nothing is read through it (the body is overwritten, not read).
        if (!details::header_of(record).compare_exchange_strong(
                expected, details::skip_header(g.bytes), std::memory_order_relaxed))
            return false;
        std::memset(details::payload_of(record), 0, g.bytes - details::header_size);
        return true;
    }

    void mark_consumed(std::size_t len) noexcept {
        // Relaxed: read only by recover() after this process is gone; the
        // store precedes the zeroing of the record in program order, which
        // is all a reader of the file after a SIGKILL can rely on.
        // The reader takes a record before handing it out (several read
        // claims): its read position is already past it.
        (void)len;
        state_->mapping.file.consumed().store(state_->reader.read_position(),
                                              std::memory_order_relaxed);
    }

    queue::basic_consumer<details::untrusted_headers> inner_;
    std::shared_ptr<details::shared_consumer_state> state_;  // null when moved from
};

// Creates the ring file (replacing an old one at that path) with at least
// `capacity` bytes (rounded up to a power of two) and returns its consumer.
// Throws std::invalid_argument if capacity < 16 or > 2^62, std::system_error
// on a file error. `before_publish(int fd)` runs on the new file's
// descriptor before the file appears at `file` (a layer above takes its
// locks there).
template <class BeforePublish>
[[nodiscard]] consumer create(const std::filesystem::path& file, std::size_t capacity,
                              BeforePublish&& before_publish) {
    return consumer(std::make_shared<details::shared_consumer_state>(details::mapped_file::create(
        file, capacity, [&](const details::mapped_file& f) { before_publish(f.fd()); })));
}
[[nodiscard]] inline consumer create(const std::filesystem::path& file, std::size_t capacity) {
    return create(file, capacity, [](int) {});
}

// Opens a ring file made by create(), in any process, any number of times.
// Throws std::system_error if the file cannot be opened (missing), and
// std::invalid_argument if it is not a logbuf ring of this version (wrong
// magic, version, capacity or size; truncated; a changed header;
// impossible positions). Nothing is mapped before the header is checked.
[[nodiscard]] inline producer open(const std::filesystem::path& file) {
    return producer(std::make_shared<const details::shared_mapping>(
        details::mapped_file::open(file, details::mapped_file::access::read_write)));
}

// After every process using the ring has died: calls
// f(std::span<const std::byte>) for each committed record not yet consumed,
// in ring order, and returns how many. Claims of producers that died
// mid-write are passed over. The file is only read (mapped read-only), so a
// recover() interrupted by a crash can be run again and gives the same
// records. Throws as open() does.
template <class F>
std::size_t recover(const std::filesystem::path& file, F&& f) {
    using namespace queue::details;
    const mapped_file map = mapped_file::open(file, mapped_file::access::read_only);
    const std::uint64_t capacity = map.capacity();
    const std::uint64_t mask = capacity - 1;
    // Acquire, all three: after every process using the ring has died these
    // are the last values written; acquire pairs with the consumer's release
    // of head/consumed and orders the header reads below after them.
    const std::uint64_t head = map.head().load(std::memory_order_acquire);
    const std::uint64_t consumed = map.consumed().load(std::memory_order_acquire);
    const std::uint64_t tail = map.tail().load(std::memory_order_acquire);
    // open() checked them, but they live in the file: check what we use.
    if (positions_problem(head, consumed, tail, capacity) != nullptr)
        throw std::invalid_argument("logbuf: " + file.string() + ": inconsistent positions");
    std::size_t count = 0;
    // Everything before head was released; records before `consumed` were
    // handed out (and may be zeroed, partly or wholly).
    for (std::uint64_t p = std::max(head, consumed); p < tail;) {
        std::byte* record = map.buffer() + (p & mask);
        const std::uint64_t limit = std::min(capacity - (p & mask), tail - p);
        const region g = classify_region(record, limit, capacity - header_size);
        if (g.kind == region_kind::record) {
            f(std::span<const std::byte>(payload_of(record), static_cast<std::size_t>(g.length)));
            ++count;
        }
        p += g.bytes;
    }
    return count;
}

}  // namespace logbuf::queue::shared
