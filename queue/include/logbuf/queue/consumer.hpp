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

#include <logbuf/error.hpp>
#include <logbuf/queue/claims.hpp>
#include <logbuf/queue/details/ring.hpp>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>

namespace logbuf::queue {

template <class Headers>
class basic_consumer {
  public:
    // `reader` must stay alive (and at its address) as long as the pointer
    // does; it may alias the storage that owns it.
    explicit basic_consumer(std::shared_ptr<details::reader> reader) noexcept
        : ring_(std::move(reader)) {}
    basic_consumer(basic_consumer&&) noexcept = default;
    basic_consumer& operator=(basic_consumer&&) noexcept = default;
    basic_consumer(const basic_consumer&) = delete;
    basic_consumer& operator=(const basic_consumer&) = delete;
    ~basic_consumer() = default;

    // The oldest committed record, or an empty claim with errc::empty. Only
    // one read claim may be out at a time: release (or destroy) it before
    // asking for the next one.
    [[nodiscard]] read_claim try_claim() noexcept {
        if (!ring_) [[unlikely]]
            return read_claim(errc::disconnected);  // moved from
        assert(!ring_->claim_outstanding() && "release the previous read_claim first");
        const details::header_word len = ring_->template next_committed<Headers>();
        if (len == details::uncommitted) {
            ring_->publish();  // skip regions passed on the way are free space too
            return read_claim(errc::empty);
        }
        return read_claim(ring_.get(), static_cast<std::size_t>(len));
    }

    // Calls f(std::span<const std::byte>) for up to `max` committed records in
    // order, releasing each after f returns, and hands the space back to the
    // producers once for the whole batch (and every quarter ring within a long
    // one). Returns how many records f saw
    // completely. If f throws, the records before the throwing one are
    // released and the throwing one is not: the next read returns it again.
    template <class F>
    std::size_t drain(F&& f, std::size_t max = SIZE_MAX) {
        if (!ring_) [[unlikely]]
            return 0;  // moved from
        assert(!ring_->claim_outstanding() && "release the read_claim before drain()");
        details::reader& r = *ring_;
        struct publish_on_exit {
            details::reader& r;
            ~publish_on_exit() { r.publish(); }
        } publish{r};
        std::size_t count = 0;
        while (count < max) {
            const details::header_word len = r.template next_committed<Headers>();
            if (len == details::uncommitted) break;
            f(std::span<const std::byte>(r.read_payload(), static_cast<std::size_t>(len)));
            r.consume(len);
            if (r.quarter_released()) r.publish();
            ++count;
        }
        return count;
    }

    // 0 on a moved-from consumer.
    [[nodiscard]] std::size_t capacity() const noexcept {
        return ring_ ? ring_->view().capacity() : 0;
    }
    [[nodiscard]] std::size_t max_payload() const noexcept {
        return ring_ ? ring_->view().max_payload() : 0;
    }

  private:
    std::shared_ptr<details::reader> ring_;
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
