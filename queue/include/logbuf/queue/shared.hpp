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
// - A claim is marked in its header (claimed_bit | len) right after its
//   space is taken, so that a claim whose producer died says how long it
//   is. The claim itself is queue::write_claim: commit() and abort() are the
//   in-process ring's release stores (see "A producer presumed dead" in
//   docs/design.md for why not compare-exchanges).
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

// The claim: the in-process rings' write_claim (claims.hpp), marked when
// claim_space() makes it. Its header holds the mark (claimed_bit | len)
// until commit() or abort() stores the length or a skip over it, so that a
// claim whose producer died says how long it is. A producer that resumes
// after the consumer's unblock() took its claim away writes into space the
// ring may have reused - with its payload bytes as with its commit; that is
// memory safe (every header is checked before the consumer uses it) but may
// spoil records there: unblock()'s timeout must be longer than any live
// producer's claim-to-commit time.
class write_claim : public queue::write_claim {
  public:
    using queue::write_claim::write_claim;  // empty, errc
    // claim_space()'s constructor for the space it took (`record` is the
    // header): the mark is stored before the claim object is, so the
    // producer's fast path keeps the record pointer in a register.
    write_claim(std::byte* record, std::size_t len) noexcept
        : queue::write_claim((details::mark_claimed(record, len), record), len) {}
};

// The writing end, in any process. Copyable within a process (a copy is one
// more producer, as for queue::mpsc); producers in different processes
// claim concurrently. A moved-from producer reports errc::disconnected.
class producer {
  public:
    producer() noexcept = default;
    explicit producer(std::shared_ptr<const details::shared_mapping> mapping) noexcept
        : ring_(mapping->view), owner_(std::move(mapping)) {}
    producer(const producer&) noexcept = default;
    producer& operator=(const producer&) noexcept = default;
    producer(producer&& other) noexcept
        : ring_(std::exchange(other.ring_, details::ring::disconnected())),
          owner_(std::move(other.owner_)),
          cached_head_(other.cached_head_) {}
    producer& operator=(producer&& other) noexcept {
        if (this != &other) {
            ring_ = std::exchange(other.ring_, details::ring::disconnected());
            owner_ = std::move(other.owner_);
            cached_head_ = other.cached_head_;
        }
        return *this;
    }
    ~producer() = default;

    // As queue::mpsc::producer::try_claim: errc::full, zero_length,
    // too_large, or disconnected (moved from). Never blocks, allocates or
    // throws.
    [[nodiscard]] write_claim try_claim(std::size_t len) noexcept {
        return details::claim_space<write_claim>(ring_, details::shared_tail{&ring_.tail()},
                                                 cached_head_, len);
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
    details::ring ring_ = details::ring::disconnected();
    std::shared_ptr<const details::shared_mapping> owner_;
    std::uint64_t cached_head_ = 0;  // this copy's last view of head
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
        if (claim) mark_consumed(state_->mapping.file.consumed(), state_->reader);
        return claim;
    }

    // As queue::consumer::drain. A record counts as consumed for recover()
    // once f has returned for it.
    template <class F>
    std::size_t drain(F&& f, std::size_t max = SIZE_MAX) {
        if (!state_) return 0;
        // Looked up once per batch, so that the per-record mark is one load
        // and one store.
        std::atomic<std::uint64_t>& consumed = state_->mapping.file.consumed();
        const details::reader& reader = state_->reader;
        return inner_.drain(
            [&f, &consumed, &reader](std::span<const std::byte> record) {
                f(record);
                mark_consumed(consumed, reader);
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
    // A producer still alive whose claim was taken must not touch it again:
    // its commit() or abort() lands in space that may be free (the consumer
    // ignores headers at or past the tail) or reused (it can spoil the
    // records there; memory stays safe). Pick `stalled` generously.
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
        // Their producers may yet resume and commit or abort into what is
        // then free space: from now on the consumer checks headers against
        // the tail (one reload each time it catches up with it).
        if (turned != 0) s.reader.check_tail();
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

    // Stores where recover() would start: past the record just handed out.
    // It must precede the zeroing of that record (the reader does it after
    // f returns, or at release()), so that after a SIGKILL at any point
    // every record at or after `consumed` is intact.
    static void mark_consumed(std::atomic<std::uint64_t>& consumed,
                              const details::reader& reader) noexcept {
        // Relaxed: read only by recover() after this process is gone; the
        // store precedes the zeroing in program order, which is all a reader
        // of the file after a SIGKILL can rely on. The reader takes a record
        // before handing it out: its read position is already past it.
        consumed.store(reader.read_position(), std::memory_order_relaxed);
        // A compiler barrier (no instruction): the zeroing that follows is
        // plain stores, which the compiler could otherwise move before the
        // relaxed store above; the CPU keeps stores in order (x86-64 TSO).
        std::atomic_signal_fence(std::memory_order_seq_cst);
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
