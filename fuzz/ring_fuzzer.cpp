// fuzz/ring_fuzzer.cpp - model-based fuzzer for the SPSC and MPSC byte rings.
//
// The input is a program: a configuration byte, then operations on up to four
// MPSC producer handles (or the one SPSC producer), up to eight open write
// claims, the consumer and up to four read claims held at once (released in
// any order, drain() with claims out), all in this thread. After every operation the ring
// is compared with a reference model:
//
//   * what every call returns: claim success or the exact error (full is
//     predicted from the free-space model below, not merely tolerated),
//     read/empty, drain counts, sizes, payload bytes, order;
//   * the whole buffer, byte for byte: the model renders the image the ring
//     must hold (record headers, skip headers, payload prefixes written so
//     far, zero everywhere else) and it must match exactly. This is how the
//     record.hpp invariant ("everything outside [head, tail) and every skip
//     body is zero") and "no record is overwritten while claimed or read" are
//     checked, not just what the API happens to show;
//   * the shared tail position, and the MPSC turn bit in it.
//
// The model is deliberately simple: a deque of regions in claim order, from
// the consumer's read position to the tail. A region is wrap padding or a
// record (pending, committed or aborted). Free space is [tail, head + capacity)
// where head is the position the consumer last published. Placement follows
// The wrap rule (docs/design.md): a record that does not fit before the end of the buffer is
// preceded by padding to the end; if padding + record does not fit but the padding alone does, the
// padding is claimed on its own (and the record is refused if it still does not fit at offset 0).
// This is written below as a decision, not as a copy of claim_space()'s loop.
//
// claim_waiting() is driven from inside its keep_waiting(): each call runs a
// few producer and consumer operations (never another claim_waiting, never a
// handle copy or destruction), then gives up or lets it retry. The model
// holds the MPSC turn: a waiting record of more than an eighth of the ring
// takes it after the first refusal, every other claim is then refused with
// full, and the holder's claim (padding alone keeps it) or giving up ends it.
//
// The consumer is modelled to the same precision: try_claim() publishes head
// only when it finds nothing, a release publishes, drain() publishes every
// quarter ring and on the way out, also when its handler throws (the record it
// threw on stays). The drain handler itself may claim, write, commit and
// abort, so those intermediate publications are observable and checked.
//
// On top of the exact model, the spec's promises are asserted directly:
// a claim in a completely free ring with 1 <= len <= max_payload() succeeds,
// no record straddles the end of the buffer, payloads are 8-byte aligned.
//
// Any difference aborts with "ring_fuzzer: MISMATCH ..." and the model state.
// LOGBUF_FUZZ_TRACE=1 in the environment prints every operation.
//
// White box: the ring is built with details::in_process_ring directly (that
// is all make() does) so the fuzzer can look at its bytes and tail.
#include <logbuf/error.hpp>
#include <logbuf/queue/details/record_format.hpp>
#include <logbuf/queue/details/ring.hpp>
#include <logbuf/queue/mpsc.hpp>
#include <logbuf/queue/spsc.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include "fuzz_support.hpp"

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

namespace {

namespace q = logbuf::queue;
namespace d = logbuf::queue::details;
using logbuf::errc;

using fuzz_support::input;
using fuzz_support::trace;

// ---- the model -----------------------------------------------------------

// Payload byte `i` of record `id`: distinct per record and per offset, so a
// record read in the wrong place or order, or overwritten, shows.
std::byte pattern(std::uint64_t id, std::size_t i) {
    const std::uint64_t x = (id + 1) * 0x9E3779B97F4A7C15ull + i * 0xD6E8FEB86659FD93ull;
    return static_cast<std::byte>((x >> 56) ^ (x >> 29) ^ 0x5A);
}

// held: committed and handed out to a read claim (or a drain() handler);
// freed: a held record released while an older one is still held - zeroed,
// with a skip header of its own size, until the oldest is released.
enum class region_kind { padding, pending, committed, aborted, held, freed };

const char* name_of(region_kind k) {
    switch (k) {
        case region_kind::padding:
            return "padding";
        case region_kind::pending:
            return "pending";
        case region_kind::committed:
            return "committed";
        case region_kind::aborted:
            return "aborted";
        case region_kind::held:
            return "held";
        case region_kind::freed:
            return "freed";
    }
    return "?";
}

struct region {
    std::uint64_t position;  // of the header, free-running
    std::uint64_t bytes;     // header + payload + padding, or the padding's extent
    region_kind kind;
    std::uint64_t id = 0;     // records: the pattern seed
    std::size_t len = 0;      // records: payload length
    std::size_t written = 0;  // records: payload bytes [0, written) hold the pattern
    int handle = -1;          // records: the producer handle that claimed it
};

struct model {
    std::uint64_t capacity = 0;
    std::uint64_t tail = 0;  // next free position
    std::uint64_t head = 0;  // last position the consumer published
    std::uint64_t read = 0;  // first byte not released (reader::released_): front of `regions`
    std::uint64_t next = 0;  // where the next record to hand out starts (reader::next_)
    std::deque<region> regions;
    std::uint64_t next_id = 0;
    bool turn = false;  // a waiting claim_waiting() holds the MPSC turn

    [[nodiscard]] std::uint64_t max_payload() const { return capacity - d::header_size; }
    [[nodiscard]] std::uint64_t offset(std::uint64_t position) const {
        return position & (capacity - 1);
    }
    [[nodiscard]] bool free_up_to(std::uint64_t end) const { return end <= head + capacity; }

    region* find(std::uint64_t id) {
        for (auto& r : regions)
            if (r.kind != region_kind::padding && r.id == id) return &r;
        return nullptr;
    }

    void push(region r) {
        tail = r.position + r.bytes;
        regions.push_back(r);
    }

    // What try_claim(len) must do (holder: the retry of the claim_waiting()
    // that holds the turn). Returns the error, or errc{} with the new
    // record's id in `id`.
    errc claim(std::size_t len, int handle, std::uint64_t& id, bool holder = false) {
        if (len == 0) return errc::zero_length;
        if (len > max_payload()) return errc::too_large;
        if (turn && !holder) return errc::full;  // nobody claims ahead of the holder
        const std::uint64_t need = d::record_size(len);
        const std::uint64_t to_end = capacity - offset(tail);
        if (need <= to_end) {
            // Fits before the end: in place or not at all.
            if (!free_up_to(tail + need)) return errc::full;
        } else {
            // Needs padding to the end, then the record at offset 0.
            if (!free_up_to(tail + to_end + need)) {
                if (!free_up_to(tail + to_end)) return errc::full;  // not even the padding
                push({tail, to_end, region_kind::padding});
                // At offset 0 the record needs no padding; it fits or not.
                if (!free_up_to(tail + need)) return errc::full;
            } else {
                push({tail, to_end, region_kind::padding});
            }
        }
        id = next_id++;
        push({tail, need, region_kind::pending, id, len, 0, handle});
        if (holder) turn = false;  // the claim of the record clears it
        return errc{};
    }

    region* at(std::uint64_t position) {
        for (auto& r : regions)
            if (r.position == position) return &r;
        return nullptr;
    }
    [[nodiscard]] static bool is_skip_kind(region_kind k) {
        return k == region_kind::padding || k == region_kind::aborted || k == region_kind::freed;
    }

    // The next committed record at `next`, or null (pending, nothing, or a
    // whole ring held). Passes skips on the way: freed at once when nothing
    // older is held, else left for the walk.
    region* next_committed() {
        for (;;) {
            if (next - read == capacity) return nullptr;  // the header there is a held record's
            region* r = at(next);
            if (r == nullptr) return nullptr;  // at the tail
            if (r->kind == region_kind::padding || r->kind == region_kind::aborted) {
                const std::uint64_t bytes = r->bytes;
                if (next == read) {
                    read += bytes;
                    regions.pop_front();  // r is the front
                }
                next += bytes;
                continue;
            }
            return r->kind == region_kind::committed ? r : nullptr;
        }
    }

    // Hands the record next_committed() returned out.
    void take(region& r) {
        r.kind = region_kind::held;
        next += r.bytes;
    }
    // Gives it back (a drain() handler threw, nothing taken after it).
    void untake(region& r) {
        r.kind = region_kind::committed;
        next = r.position;
    }

    // Releases the held record at `position`: the oldest goes at once, with
    // every skip behind it up to the next held record; any other is freed
    // in place.
    void free_record(std::uint64_t position) {
        region* r = at(position);
        if (position != read) {
            r->kind = region_kind::freed;
            return;
        }
        read += r->bytes;
        regions.pop_front();  // r is the front
        while (read != next && !regions.empty() && is_skip_kind(regions.front().kind)) {
            read += regions.front().bytes;
            regions.pop_front();
        }
    }

    void publish() { head = read; }
};

// ---- the harness -------------------------------------------------------------

struct open_claim {
    std::optional<q::write_claim> claim;
    std::uint64_t id = 0;  // meaningful while the claim holds space
};

struct read_slot {
    std::optional<q::read_claim> claim;
    std::uint64_t position = 0;  // of the record's header, while the claim holds it
};

class harness {
  public:
    harness(bool spsc, std::size_t requested)
        : spsc_(spsc),
          block_(d::in_process_ring::make(requested)),
          ring_(&block_->consumer.view()),
          consumer_(std::shared_ptr<d::reader>(block_, &block_->consumer)) {
        model_.capacity = ring_->capacity();
        base_ = ring_->at(0);
        if (spsc_) {
            spsc_producer_.emplace(*ring_, block_);
        } else {
            mpsc_producers_[0].emplace(*ring_, block_);
        }
        check(ring_->capacity() == std::bit_ceil(requested), "capacity %zu for request %zu",
              ring_->capacity(), requested);
        check(consumer_.capacity() == model_.capacity, "consumer capacity");
        check(consumer_.max_payload() == model_.max_payload(), "consumer max_payload");
        verify_ring();
    }

    void run(input& in) {
        int steps = 0;
        while (!in.done() && steps++ < 4096)
            step(in);
        teardown(in);
    }

  private:
    // ---- reporting ----

    void fail_report() const {
        std::fprintf(stderr, "  after %llu operations; %s ring of %llu bytes\n",
                     static_cast<unsigned long long>(operations_), spsc_ ? "SPSC" : "MPSC",
                     static_cast<unsigned long long>(model_.capacity));
        std::fprintf(stderr, "  model: tail %llu head %llu read %llu, regions:\n",
                     static_cast<unsigned long long>(model_.tail),
                     static_cast<unsigned long long>(model_.head),
                     static_cast<unsigned long long>(model_.read));
        std::fprintf(stderr, "  next to hand out %llu\n",
                     static_cast<unsigned long long>(model_.next));
        for (const auto& r : model_.regions) {
            std::fprintf(stderr, "    [%llu, +%llu) %s id %llu len %zu written %zu\n",
                         static_cast<unsigned long long>(r.position),
                         static_cast<unsigned long long>(r.bytes), name_of(r.kind),
                         static_cast<unsigned long long>(r.id), r.len, r.written);
        }
    }

    void check(bool ok, const char* format, ...) const __attribute__((format(printf, 3, 4))) {
        if (ok) return;
        va_list args;
        va_start(args, format);
        fuzz_support::print_mismatch("ring_fuzzer", format, args);
        va_end(args);
        fail_report();
        std::abort();
    }

    // ---- producers ----

    // A live producer handle, preferring `want`; SPSC has one handle, 0.
    int pick_handle(std::uint8_t want) const {
        if (spsc_) return 0;
        for (std::size_t i = 0; i < mpsc_producers_.size(); ++i) {
            const std::size_t h = (want + i) % mpsc_producers_.size();
            if (mpsc_producers_[h]) return static_cast<int>(h);
        }
        return -1;  // unreachable: handle 0..3 never all die (see destroy_handle)
    }

    q::write_claim try_claim(int handle, std::size_t len) {
        if (spsc_) {
            check(spsc_producer_->capacity() == model_.capacity, "spsc capacity");
            check(spsc_producer_->max_payload() == model_.max_payload(), "spsc max_payload");
            return spsc_producer_->try_claim(len);
        }
        auto& p = *mpsc_producers_[static_cast<std::size_t>(handle)];
        check(p.capacity() == model_.capacity, "mpsc capacity");
        check(p.max_payload() == model_.max_payload(), "mpsc max_payload");
        return p.try_claim(len);
    }

    std::size_t choose_length(input& in) {
        const std::uint8_t kind = in.byte();
        const std::uint16_t value = in.word();
        const std::size_t max = model_.max_payload();
        switch (kind % 10) {
            case 0:
                return 0;
            case 1:
                return max;
            case 2:
                return max + 1 + value % 3;
            case 3:
                return value == 0xFFFF ? SIZE_MAX : static_cast<std::size_t>(value) + max + 1;
            case 4:
            case 5:
                return value % 17;  // tiny, 0 included
            default:
                return 1 + value % max;
        }
    }

    // Aborts, in the model, the record an open claim slot holds.
    void model_abort(open_claim& slot) {
        if (!slot.claim || !*slot.claim) return;
        region* r = model_.find(slot.id);
        check(r != nullptr && r->kind == region_kind::pending, "abort: claim %llu not pending",
              static_cast<unsigned long long>(slot.id));
        r->kind = region_kind::aborted;
        r->written = 0;  // abort() zeroes what was written
    }

    void op_claim(input& in) {
        const int handle = pick_handle(in.byte());
        const std::size_t len = choose_length(in);
        open_claim& slot = claims_[in.byte() % claims_.size()];

        const bool ring_was_free = model_.head == model_.tail && !model_.turn;
        const std::uint64_t tail_before = model_.tail;
        std::uint64_t id = 0;
        const errc expected = model_.claim(len, handle, id);
        trace("claim h%d len %zu -> %s\n", handle, len, logbuf::to_string(expected));

        q::write_claim c = try_claim(handle, len);
        check(static_cast<bool>(c) == (expected == errc{}), "claim(%zu): got %s, model says %s",
              len, c ? "a claim" : logbuf::to_string(c.error()), logbuf::to_string(expected));
        check(c.error() == expected, "claim(%zu): error %s, model says %s", len,
              logbuf::to_string(c.error()), logbuf::to_string(expected));
        // The wrap rule directly, whatever the model says: a ring with nothing in it
        // accepts every length up to max_payload(), or - when the record does
        // not fit before the end and cannot share the ring with its padding -
        // writes the padding alone, so that it fits at offset 0 once the
        // consumer has passed the padding (teardown() checks that last step).
        if (ring_was_free && len >= 1 && len <= model_.max_payload() && !c)
            check(c.error() == errc::full && tail_before != model_.tail &&
                      model_.offset(model_.tail) == 0,
                  "claim(%zu) refused in a completely free ring without wrapping", len);
        if (c) {
            const region& r = model_.regions.back();
            const std::byte* where = ring_->at(r.position) + d::header_size;
            check(c.data() == where, "claim(%zu) placed at offset %td, model says %llu", len,
                  c.data() - base_ - static_cast<std::ptrdiff_t>(d::header_size),
                  static_cast<unsigned long long>(model_.offset(r.position)));
            check(c.size() == len && c.bytes().size() == len && c.bytes().data() == c.data(),
                  "claim size %zu, want %zu", c.size(), len);
            check(reinterpret_cast<std::uintptr_t>(c.data()) % 8 == 0, "payload not aligned");
            check(model_.offset(r.position) + r.bytes <= model_.capacity,
                  "record straddles the end");
        } else {
            check(c.data() == nullptr && c.size() == 0 && c.bytes().empty(),
                  "an empty claim exposes bytes");
        }
        // Move-assigning into an occupied slot aborts the claim it held (after
        // the new claim was made, as in `slot = p.try_claim(n)`).
        model_abort(slot);
        if (slot.claim) {
            *slot.claim = std::move(c);
        } else {
            slot.claim.emplace(std::move(c));
        }
        slot.id = id;
    }

    // claim_waiting(), driven from inside keep_waiting() (see the top).
    void op_claim_waiting(input& in) {
        if (waiting_) return;  // not nested
        const int handle = pick_handle(in.byte());
        const std::size_t len = choose_length(in);
        const std::size_t slot_index = in.byte() % claims_.size();
        const bool large = !spsc_ && d::record_size(len) > model_.capacity / 8;
        std::uint64_t id = 0;
        errc expected = model_.claim(len, handle, id);
        bool holder = false;
        bool gave_up = false;
        unsigned calls = 0;
        trace("claim_waiting h%d len %zu -> first try %s\n", handle, len,
              logbuf::to_string(expected));
        auto keep_waiting = [&]() -> bool {
            check(expected == errc::full, "keep_waiting() after a first try of %s",
                  logbuf::to_string(expected));
            ++calls;
            if (large && !model_.turn) {
                model_.turn = true;  // taken before keep_waiting() runs
                holder = true;
            }
            check(!large || holder, "a large waiter without the turn");
            verify_ring();
            const std::uint8_t b = in.byte();
            if (in.done() || calls > 16 || b % 8 == 0) {
                if (holder) model_.turn = false;  // dropped on the way out
                gave_up = true;
                trace("  keep_waiting: give up\n");
                return false;
            }
            for (int i = 0; i < b % 4; ++i)
                waiting_step(in);
            // What the retry that follows must do.
            expected = model_.claim(len, handle, id, holder);
            trace("  keep_waiting: retry -> %s\n", logbuf::to_string(expected));
            return true;
        };
        waiting_ = true;
        q::write_claim c = spsc_ ? spsc_producer_->claim_waiting(len, keep_waiting)
                                 : mpsc_producers_[static_cast<std::size_t>(handle)]->claim_waiting(
                                       len, keep_waiting);
        waiting_ = false;
        if (gave_up) expected = errc::full;
        check(c.error() == expected && static_cast<bool>(c) == (expected == errc{}),
              "claim_waiting(%zu) after %u waits: %s, model says %s", len, calls,
              c ? "a claim" : logbuf::to_string(c.error()), logbuf::to_string(expected));
        check(!model_.turn, "the turn outlives claim_waiting()");
        if (c) {
            const region& r = model_.regions.back();
            check(c.data() == ring_->at(r.position) + d::header_size && c.size() == len,
                  "claim_waiting(%zu) placed at offset %td, model says %llu", len,
                  c.data() - base_ - static_cast<std::ptrdiff_t>(d::header_size),
                  static_cast<unsigned long long>(model_.offset(r.position)));
        }
        open_claim& slot = claims_[slot_index];
        model_abort(slot);
        if (slot.claim) {
            *slot.claim = std::move(c);
        } else {
            slot.claim.emplace(std::move(c));
        }
        slot.id = id;
        verify_ring();
    }

    // What keep_waiting() may do: the other producer ops and the consumer's.
    void waiting_step(input& in) {
        switch (in.byte() % 8) {
            case 0:
            case 1:
                op_claim(in);
                break;
            case 2:
                op_write(in);
                break;
            case 3:
                op_commit(in);
                break;
            case 4:
                op_abort(in);
                break;
            case 5:
                op_read(in);
                break;
            case 6:
                op_release(in);
                break;
            case 7:
                op_drain(in);
                break;
        }
        verify_ring();
    }

    void op_write(input& in) {
        open_claim& slot = claims_[in.byte() % claims_.size()];
        const std::uint8_t amount = in.byte();
        if (!slot.claim || !*slot.claim) return;
        region* r = model_.find(slot.id);
        check(r != nullptr && r->kind == region_kind::pending, "write: claim not pending");
        const std::size_t upto =
            amount >= 128 ? r->len : std::min(r->len, r->written + 1 + amount * 3u);
        auto bytes = slot.claim->bytes();
        for (std::size_t i = r->written; i < upto; ++i)
            bytes[i] = pattern(r->id, i);
        trace("write id %llu [%zu, %zu)\n", static_cast<unsigned long long>(r->id), r->written,
              upto);
        r->written = upto;
    }

    void op_commit(input& in) {
        open_claim& slot = claims_[in.byte() % claims_.size()];
        if (!slot.claim) return;
        if (*slot.claim) {
            region* r = model_.find(slot.id);
            check(r != nullptr && r->kind == region_kind::pending, "commit: claim not pending");
            r->kind = region_kind::committed;
            trace("commit id %llu\n", static_cast<unsigned long long>(slot.id));
        }
        const errc before = slot.claim->error();
        slot.claim->commit();  // on an empty claim: no effect
        check(!*slot.claim, "a committed claim still holds space");
        check(slot.claim->error() == before, "commit changed error()");
    }

    void op_abort(input& in) {
        open_claim& slot = claims_[in.byte() % claims_.size()];
        if (!slot.claim) return;
        trace("abort slot\n");
        model_abort(slot);
        slot.claim->abort();
        check(!*slot.claim, "an aborted claim still holds space");
    }

    void op_drop(input& in) {
        open_claim& slot = claims_[in.byte() % claims_.size()];
        trace("drop slot\n");
        model_abort(slot);
        slot.claim.reset();  // the destructor aborts
    }

    void op_move_claim(input& in) {
        open_claim& from = claims_[in.byte() % claims_.size()];
        open_claim& to = claims_[in.byte() % claims_.size()];
        if (!from.claim || &from == &to) return;
        trace("move claim\n");
        if (to.claim) {
            model_abort(to);
            *to.claim = std::move(*from.claim);
        } else {
            to.claim.emplace(std::move(*from.claim));
        }
        to.id = from.id;
        check(!*from.claim && from.claim->error() == errc{} && from.claim->data() == nullptr,
              "a moved-from write claim is not empty");
    }

    void op_copy_handle(input& in) {
        const std::uint8_t a = in.byte();
        const std::uint8_t b = in.byte();
        if (spsc_) return;
        const int source = pick_handle(a);
        auto& target = mpsc_producers_[b % mpsc_producers_.size()];
        if (target) {
            // Replacing a handle is destroying it: only when it has no open
            // claim (a claim must not outlive its producer).
            if (has_open_claims(static_cast<int>(&target - mpsc_producers_.data()))) return;
            target = mpsc_producers_[static_cast<std::size_t>(source)];
        } else {
            target.emplace(*mpsc_producers_[static_cast<std::size_t>(source)]);
        }
        trace("copy handle %d\n", source);
    }

    void op_destroy_handle(input& in) {
        const std::uint8_t which = in.byte();
        if (spsc_) {
            // Move the one producer to a new object: its tail goes with it.
            q::spsc::producer moved(std::move(*spsc_producer_));
            spsc_producer_.reset();
            spsc_producer_.emplace(std::move(moved));
            trace("move spsc producer\n");
            return;
        }
        const int h = pick_handle(which);
        int live = 0;
        for (auto& p : mpsc_producers_)
            live += p ? 1 : 0;
        if (live < 2 || has_open_claims(h)) return;
        mpsc_producers_[static_cast<std::size_t>(h)].reset();
        trace("destroy handle %d\n", h);
    }

    bool has_open_claims(int handle) {
        for (auto& slot : claims_) {
            if (slot.claim && *slot.claim) {
                const region* r = model_.find(slot.id);
                if (r != nullptr && r->handle == handle) return true;
            }
        }
        return false;
    }

    // ---- consumer ----

    void check_record(std::span<const std::byte> got, const region& want, const char* what) {
        check(got.size() == want.len, "%s: size %zu, want %zu (id %llu)", what, got.size(),
              want.len, static_cast<unsigned long long>(want.id));
        check(got.data() == ring_->at(want.position) + d::header_size,
              "%s: record at the wrong place", what);
        for (std::size_t i = 0; i < want.len; ++i) {
            const std::byte expect = i < want.written ? pattern(want.id, i) : std::byte{0};
            check(got[i] == expect, "%s: id %llu byte %zu is %u, want %u", what,
                  static_cast<unsigned long long>(want.id), i, static_cast<unsigned>(got[i]),
                  static_cast<unsigned>(expect));
        }
    }

    // try_claim() into read slot `slot`; a claim the slot held is released
    // after the new one is taken (move assignment), as in `r = rx.try_claim()`.
    void op_read(input& in) {
        read_slot& slot = reads_[in.byte() % reads_.size()];
        region* want = model_.next_committed();
        if (want == nullptr) model_.publish();
        trace("read -> %s\n", want ? "record" : "empty");
        q::read_claim c = consumer_.try_claim();
        if (want == nullptr) {
            check(!c && c.error() == errc::empty, "read: got %s, model says empty",
                  c ? "a record" : logbuf::to_string(c.error()));
            check(c.data() == nullptr && c.size() == 0, "empty read claim has bytes");
            return;
        }
        check(static_cast<bool>(c), "read: got %s, model has id %llu", logbuf::to_string(c.error()),
              static_cast<unsigned long long>(want->id));
        check(c.error() == errc{}, "read: error set on a record");
        check_record(c.bytes(), *want, "read");
        const std::uint64_t position = want->position;
        model_.take(*want);
        release_slot(slot, &c);
        slot.position = position;
    }

    // Releases the claim in `slot` (checking its bytes did not change while
    // held), or moves `replacement` in, which releases it the same way.
    void release_slot(read_slot& slot, q::read_claim* replacement = nullptr) {
        if (slot.claim && *slot.claim) {
            const region* r = model_.at(slot.position);
            check(r != nullptr && r->kind == region_kind::held,
                  "release: the model holds no record there");
            check_record(slot.claim->bytes(), *r, "held read");
            model_.free_record(slot.position);
            model_.publish();
            trace("release\n");
        }
        if (replacement != nullptr) {
            if (slot.claim) {
                *slot.claim = std::move(*replacement);
            } else {
                slot.claim.emplace(std::move(*replacement));
            }
            return;
        }
        if (!slot.claim) return;
        slot.claim->release();
        check(!*slot.claim && slot.claim->data() == nullptr,
              "a released read claim still holds bytes");
        slot.claim->release();  // a second release has no effect
        slot.claim.reset();
    }

    void op_release(input& in) { release_slot(reads_[in.byte() % reads_.size()]); }

    void release_all_reads(input& in) {
        // In an order the input picks.
        for (std::size_t n = 0; n < reads_.size(); ++n)
            release_slot(reads_[(in.byte() + n) % reads_.size()]);
        for (auto& slot : reads_)
            release_slot(slot);
    }

    void op_move_read(input& in) {
        read_slot& from = reads_[in.byte() % reads_.size()];
        read_slot& to = reads_[in.byte() % reads_.size()];
        if (!from.claim || !*from.claim) return;
        q::read_claim other(std::move(*from.claim));
        check(!*from.claim && from.claim->data() == nullptr && from.claim->error() == errc{},
              "a moved-from read claim is not empty");
        const std::uint64_t position = from.position;
        if (&from != &to)
            release_slot(to, &other);  // `to`'s claim goes
        else
            *from.claim = std::move(other);  // move-assign into an empty claim
        to.position = position;
        check(static_cast<bool>(*to.claim), "move-assigned read claim lost its record");
    }

    // Thrown out of a drain() handler to check the records after it stay put.
    struct handler_threw {};

    // Producer operations the drain() handler runs while a record is being
    // handed out: the consumer and producers may share a thread, and a claim
    // made mid-drain sees exactly the space drain() has published so far.
    void producer_step(input& in) {
        switch (in.byte() % 6) {
            case 0:
            case 1:
                op_claim(in);
                break;
            case 2:
                op_write(in);
                break;
            case 3:
                op_commit(in);
                break;
            case 4:
                op_abort(in);
                break;
            case 5:
                op_drop(in);
                break;
        }
        verify_ring();
    }

    void op_drain(input& in) {
        const std::uint8_t m = in.byte();
        const std::size_t max = m % 8 == 7 ? SIZE_MAX : m % 8;
        // The model follows drain() record by record inside the handler:
        // next_committed() (passing skips), the handler, consume, and a
        // publish whenever a quarter ring has been released since the last.
        std::size_t seen = 0;
        bool threw = false;
        std::size_t got = 0;
        try {
            got = consumer_.drain(
                [&](std::span<const std::byte> bytes) {
                    check(seen < max, "drain(%zu): handler called %zu times", max, seen + 1);
                    region* front = model_.next_committed();
                    check(front != nullptr, "drain: handed a record, the model has none");
                    check_record(bytes, *front, "drain");
                    const std::uint64_t position = front->position;
                    model_.take(*front);
                    const std::uint8_t action = in.byte();
                    for (int i = 0; i < action % 4; ++i)
                        producer_step(in);
                    check_record(bytes, *model_.at(position), "drain after claims");
                    if ((action & 0xC4) == 0xC4) {
                        model_.untake(*model_.at(position));  // nothing taken after it
                        throw handler_threw{};
                    }
                    ++seen;
                    // What drain() does when we return.
                    model_.free_record(position);
                    if (model_.read - model_.head >= model_.capacity / 4) model_.publish();
                },
                max);
        } catch (const handler_threw&) {
            // The record it threw on is not released; the ones before are,
            // and published on the way out.
            threw = true;
        }
        if (!threw) {
            check(got == seen, "drain(%zu) returned %zu, handler saw %zu", max, got, seen);
            // drain() stopped at max or because nothing was committed.
            if (seen < max)
                check(model_.next_committed() == nullptr, "drain(%zu) stopped after %zu records",
                      max, seen);
        }
        model_.publish();
        trace("drain(%zu) -> %zu%s\n", max, seen, threw ? " (handler threw)" : "");
    }

    // ---- the byte image ----

    void put_header(std::vector<std::byte>& image, std::uint64_t position, d::header_word h) {
        std::memcpy(image.data() + model_.offset(position), &h, sizeof h);
    }

    // The bytes the ring must hold, from the model alone, compared with the
    // real buffer.
    void verify_ring() {
        const std::uint64_t word = model_.tail | (model_.turn ? d::turn_bit : 0);
        check(ring_->tail().load(std::memory_order_relaxed) == word,
              "tail word %#llx, model says %#llx",
              static_cast<unsigned long long>(ring_->tail().load(std::memory_order_relaxed)),
              static_cast<unsigned long long>(word));
        check(model_.head <= model_.read && model_.read <= model_.next &&
                  model_.next <= model_.tail && model_.tail - model_.head <= model_.capacity,
              "model positions out of order");
        std::vector<std::byte> image(model_.capacity, std::byte{0});
        std::uint64_t expected_position = model_.read;
        for (const region& r : model_.regions) {
            check(r.position == expected_position, "model regions are not contiguous");
            expected_position += r.bytes;
            switch (r.kind) {
                case region_kind::padding:
                case region_kind::aborted:
                case region_kind::freed:
                    put_header(image, r.position, d::skip_header(r.bytes));
                    break;
                case region_kind::committed:
                case region_kind::held:
                    put_header(image, r.position, r.len);
                    [[fallthrough]];
                case region_kind::pending:
                    for (std::size_t i = 0; i < r.written; ++i)
                        image[model_.offset(r.position) + d::header_size + i] = pattern(r.id, i);
                    break;
            }
        }
        check(expected_position == model_.tail, "model regions do not end at the tail");
        if (std::memcmp(image.data(), base_, image.size()) != 0) {
            std::size_t at = 0;
            while (image[at] == base_[at])
                ++at;
            check(false, "buffer byte at offset %zu is %u, model says %u", at,
                  static_cast<unsigned>(base_[at]), static_cast<unsigned>(image[at]));
        }
    }

    // ---- the program ----

    void step(input& in) {
        const std::uint8_t op = in.byte();
        switch (op % 16) {
            case 0:
            case 1:
            case 2:
                op_claim(in);
                break;
            case 3:
            case 4:
                op_write(in);
                break;
            case 5:
            case 6:
                op_commit(in);
                break;
            case 7:
                op_abort(in);
                break;
            case 8:
                op_drop(in);
                break;
            case 9:
            case 10:
                op_read(in);
                break;
            case 11:
                op_release(in);
                break;
            case 12:
                op_drain(in);
                break;
            case 13:
                op_move_claim(in);
                break;
            case 14:
                if (op & 0x80) {
                    op_move_read(in);
                } else if (op & 0x40) {
                    op_claim_waiting(in);
                } else {
                    op_copy_handle(in);
                }
                break;
            case 15:
                op_destroy_handle(in);
                break;
        }
        ++operations_;
        verify_ring();
    }

    // Ends every claim (committing or dropping as the input says), drains
    // everything and checks the ring is clean and still accepts a record of
    // max_payload() bytes: nothing was lost, nothing is stuck.
    void teardown(input& in) {
        release_all_reads(in);
        for (auto& slot : claims_) {
            if (slot.claim && *slot.claim && (in.byte() & 1)) {
                model_.find(slot.id)->kind = region_kind::committed;
                slot.claim->commit();
            }
            model_abort(slot);
            slot.claim.reset();
        }
        verify_ring();
        in = input(nullptr, 0);
        op_drain(in);  // byte 0: drain(0) - publishes only
        std::uint8_t all[] = {7};
        input everything(all, 1);
        op_drain(everything);
        verify_ring();
        check(model_.regions.empty() && model_.read == model_.tail, "records left after teardown");
        // Skip regions at the end are passed (and head published) by an empty read.
        op_read(in);
        check(model_.head == model_.tail, "head not caught up after an empty read");
        // The ring is completely free: the largest record must fit (the wrap rule),
        // at once or - if this claim had to write padding alone - after the
        // consumer has passed that padding. Never a second refusal.
        const int h = pick_handle(0);
        std::uint64_t id = 0;
        for (int attempt = 0;; ++attempt) {
            const errc expected = model_.claim(model_.max_payload(), h, id);
            q::write_claim c = try_claim(h, model_.max_payload());
            check(c.error() == expected, "max_payload claim: %s, model says %s",
                  logbuf::to_string(c.error()), logbuf::to_string(expected));
            if (c) {
                model_.regions.back().kind = region_kind::committed;
                c.commit();
                break;
            }
            check(attempt == 0, "max_payload claim refused twice in a free ring");
            verify_ring();
            op_read(in);  // passes the padding, publishes head
        }
        op_drain(everything = input(all, 1));
        verify_ring();
        check(model_.regions.empty(), "final record not drained");
    }

    bool spsc_;
    std::shared_ptr<d::in_process_ring> block_;  // what make() allocates
    const d::ring* ring_;                        // its view
    const std::byte* base_ = nullptr;
    std::optional<q::spsc::producer> spsc_producer_;
    std::array<std::optional<q::mpsc::producer>, 4> mpsc_producers_;
    q::consumer consumer_;
    std::array<open_claim, 8> claims_;
    std::array<read_slot, 4> reads_;  // several read claims, released in any order
    bool waiting_ = false;            // inside claim_waiting()
    model model_;
    std::uint64_t operations_ = 0;
};

// Requested capacities: powers of two and odd sizes that round up, tiny first.
constexpr std::array<std::size_t, 8> capacities = {16, 17, 24, 32, 48, 64, 200, 1024};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    fuzz_support::read_environment();
    // make() refuses capacities below 16 with invalid_argument, never UB.
    for (std::size_t bad : {std::size_t{0}, std::size_t{1}, std::size_t{15}}) {
        bool threw = false;
        try {
            (void)q::mpsc::make(bad);
        } catch (const std::invalid_argument&) {
            threw = true;
        }
        if (!threw) {
            std::fprintf(stderr, "ring_fuzzer: make(%zu) did not throw\n", bad);
            std::abort();
        }
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input in(data, size);
    const std::uint8_t config = in.byte();
    const bool spsc = (config & 1) != 0;
    const std::size_t capacity = capacities[(config >> 1) % capacities.size()];
    trace("---- %s capacity %zu\n", spsc ? "spsc" : "mpsc", capacity);
    harness h(spsc, capacity);
    h.run(in);
    return 0;
}
