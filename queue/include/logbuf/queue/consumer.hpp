// logbuf/queue/consumer.hpp - the reading end, the same for the SPSC and the
// MPSC ring: records come out in the order their space was claimed, and a
// record not yet committed holds back the ones behind it.
//
// basic_consumer<Headers> runs on a details::reader kept wherever its owner
// put it (make(): in the ring's one allocation). Headers says whether the
// header words are checked before use: queue::consumer trusts them (our own
// producers wrote them); a ring in a file other processes write uses
// details::untrusted_headers.
#pragma once

#include <logbuf/details/cache_line.hpp>
#include <logbuf/error.hpp>
#include <logbuf/queue/claims.hpp>
#include <logbuf/queue/details/in_process_ring.hpp>
#include <logbuf/queue/details/reader.hpp>
#include <logbuf/queue/details/ring.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>

namespace logbuf::queue {

// Handles never share a cache line with a neighbour (a std::pair from
// make() puts the producer right before it): 128-byte aligned and sized.
template <class Headers>
class alignas(logbuf::details::false_sharing_range) basic_consumer {
  public:
    // `reader` must stay alive (and at its address) as long as the pointer
    // does; it may alias the storage that owns it.
    explicit basic_consumer(std::shared_ptr<details::reader> reader) noexcept
        : reader_(std::move(reader)) {}
    // A moved-from consumer is empty: try_claim() reports errc::disconnected.
    basic_consumer(basic_consumer&&) noexcept = default;
    basic_consumer& operator=(basic_consumer&& other) noexcept {
        if (this != &other) {
            leave();
            reader_ = std::move(other.reader_);
        }
        return *this;
    }
    basic_consumer(const basic_consumer&) = delete;
    basic_consumer& operator=(const basic_consumer&) = delete;
    // Read claims still out stay valid: they keep the ring alive.
    ~basic_consumer() { leave(); }

    // The next committed record after those already handed out, or an empty
    // claim: errc::empty when there is none yet, errc::disconnected on a
    // moved-from consumer. Several claims may be out at once; each keeps its
    // bytes until it is released, in any order.
    [[nodiscard]] read_claim try_claim() noexcept {
        if (!reader_) [[unlikely]]
            return read_claim(errc::disconnected);
        details::reader& r = *reader_;
        const details::header_word len = r.template next_committed<Headers>();
        if (len == details::uncommitted) {
            r.publish();  // skip regions passed on the way are free space too
            return read_claim(errc::empty);
        }
        return read_claim(&r, r.take(len), static_cast<std::size_t>(len));
    }

    // Calls f(std::span<const std::byte>) for up to `max` committed records in
    // order (after any read claims still out), releasing each after f
    // returns, and hands the space back to the producers once for the whole
    // batch (and every quarter ring within a long one). Returns how many
    // records f saw completely. If f throws, the records before the throwing
    // one are released and the throwing one is not: the next read returns it
    // again (unless f itself took read claims after it; then it is released).
    template <class F>
    std::size_t drain(F&& f, std::size_t max = SIZE_MAX) {
        if (!reader_) [[unlikely]]
            return 0;  // moved from
        return reader_->template drain<Headers>(f, max);
    }

    // 0 on a moved-from consumer.
    [[nodiscard]] std::size_t capacity() const noexcept {
        return reader_ ? reader_->view().capacity() : 0;
    }
    [[nodiscard]] std::size_t max_payload() const noexcept {
        return reader_ ? reader_->view().max_payload() : 0;
    }

  private:
    void leave() noexcept {
        if (reader_) reader_->consumer_gone(std::move(reader_));
        reader_.reset();
    }

    std::shared_ptr<details::reader> reader_;  // null once moved from
};

// The in-process consumer: it trusts the headers its own producers wrote.
using consumer = basic_consumer<details::trusted_headers>;

namespace details {
// Both rings' make(): one allocation holds the positions, the consumer's
// reader and the buffer; the producer and the consumer share it.
template <class Producer>
[[nodiscard]] std::pair<Producer, consumer> make_ring(std::size_t capacity) {
    std::shared_ptr<in_process_ring> block = in_process_ring::make(capacity);
    const ring view = block->consumer.view();
    std::shared_ptr<reader> reader_of(block, &block->consumer);
    return {Producer(view, std::move(block)), consumer(std::move(reader_of))};
}
}  // namespace details

}  // namespace logbuf::queue
