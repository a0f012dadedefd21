// logbuf/queue/consumer.hpp - the reading end, the same for the SPSC and the
// MPSC ring: records come out in the order their space was claimed, and a
// record not yet committed holds back the ones behind it.
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

class consumer {
  public:
    explicit consumer(std::shared_ptr<details::ring> ring) noexcept : ring_(std::move(ring)) {}
    consumer(consumer&&) noexcept = default;
    consumer& operator=(consumer&&) noexcept = default;
    consumer(const consumer&) = delete;
    consumer& operator=(const consumer&) = delete;
    ~consumer() = default;

    // The oldest committed record, or an empty claim with errc::empty. Only
    // one read claim may be out at a time: release (or destroy) it before
    // asking for the next one.
    [[nodiscard]] read_claim try_claim() noexcept {
        assert(!ring_->claim_outstanding() && "release the previous read_claim first");
        const details::header_word len = ring_->next_committed();
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
        assert(!ring_->claim_outstanding() && "release the read_claim before drain()");
        details::ring& r = *ring_;
        struct publish_on_exit {
            details::ring& r;
            ~publish_on_exit() { r.publish(); }
        } publish{r};
        std::size_t count = 0;
        while (count < max) {
            const details::header_word len = r.next_committed();
            if (len == details::uncommitted) break;
            f(std::span<const std::byte>(r.read_payload(), static_cast<std::size_t>(len)));
            r.consume(len);
            if (r.quarter_released()) r.publish();
            ++count;
        }
        return count;
    }

    [[nodiscard]] std::size_t capacity() const noexcept { return ring_->capacity(); }
    [[nodiscard]] std::size_t max_payload() const noexcept { return ring_->max_payload(); }

  private:
    std::shared_ptr<details::ring> ring_;
};

namespace details {
// Both rings' make(): one ring, shared by the producer and the consumer.
template <class Producer>
[[nodiscard]] std::pair<Producer, consumer> make_ring(std::size_t capacity) {
    auto shared = std::make_shared<ring>(capacity);
    return {Producer(shared), consumer(std::move(shared))};
}
}  // namespace details

}  // namespace logbuf::queue
