// logbuf/queue/claims.hpp - the two RAII claims both byte rings hand out.
//
// write_claim: bytes reserved in the ring for one record. Write the payload
//   through data()/bytes(), then commit(). A claim destroyed without commit()
//   is aborted: its space becomes a skip region, so the consumer never waits
//   on a producer that threw half-way through writing.
// read_claim: the oldest committed record. Its bytes stay valid until
//   release() (or destruction), which zeroes them and returns the space.
//
// An empty claim (operator bool false) carries the reason in error(). A
// default-constructed or moved-from claim is empty with error() == errc{}.
// A claim must not outlive the producer/consumer (or sender/receiver) that
// made it.
#pragma once

#include <logbuf/error.hpp>
#include <logbuf/queue/details/record_format.hpp>
#include <logbuf/queue/details/ring.hpp>

#include <cstddef>
#include <cstring>
#include <span>
#include <utility>

namespace logbuf::queue {

class write_claim {
  public:
    write_claim() noexcept = default;
    explicit write_claim(errc why) noexcept : error_(why) {}
    // Reserved space for `len` payload bytes; `record` is its header's address.
    write_claim(std::byte* record, std::size_t len) noexcept : record_(record), size_(len) {}

    write_claim(write_claim&& other) noexcept
        : record_(std::exchange(other.record_, nullptr)),
          size_(std::exchange(other.size_, 0)),
          error_(std::exchange(other.error_, errc{})) {}
    write_claim& operator=(write_claim&& other) noexcept {
        if (this != &other) {
            abort();
            record_ = std::exchange(other.record_, nullptr);
            size_ = std::exchange(other.size_, 0);
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

    // Publishes the record to the consumer. No effect on an empty claim.
    void commit() noexcept {
        if (!record_) return;
        // Release pairs with the consumer's acquire in reader::next_committed():
        // the payload written through data() is visible once the length is.
        details::header_of(record_).store(size_, std::memory_order_release);
        record_ = nullptr;
    }

    // Gives the space back as a skip region. No effect on an empty claim.
    void abort() noexcept {
        if (!record_) return;
        // A skip region's body must read zero (record.hpp); we may have
        // written part of a payload, so we clear it ourselves.
        std::memset(details::payload_of(record_), 0, details::padded_length(size_));
        // Release pairs with the consumer's acquire in reader::next_committed():
        // it sees the zeroed body once it sees the skip header.
        details::header_of(record_).store(details::skip_header(details::record_size(size_)),
                                          std::memory_order_release);
        record_ = nullptr;
    }

  private:
    std::byte* record_ = nullptr;  // header of the claimed record; null when empty
    std::size_t size_ = 0;         // payload length
    errc error_{};                 // why the claim is empty
};

class read_claim {
  public:
    read_claim() noexcept = default;
    explicit read_claim(errc why) noexcept : error_(why) {}
    // The record at `reader`'s read position, `len` payload bytes. The
    // reader marks itself as having a claim out until release().
    read_claim(details::reader* reader, std::size_t len) noexcept
        : ring_(reader), data_(reader->read_payload()), size_(len) {
        ring_->set_claim_outstanding(true);
    }

    read_claim(read_claim&& other) noexcept
        : ring_(std::exchange(other.ring_, nullptr)),
          data_(std::exchange(other.data_, nullptr)),
          size_(std::exchange(other.size_, 0)),
          error_(std::exchange(other.error_, errc{})) {}
    read_claim& operator=(read_claim&& other) noexcept {
        if (this != &other) {
            release();
            ring_ = std::exchange(other.ring_, nullptr);
            data_ = std::exchange(other.data_, nullptr);
            size_ = std::exchange(other.size_, 0);
            error_ = std::exchange(other.error_, errc{});
        }
        return *this;
    }
    read_claim(const read_claim&) = delete;
    read_claim& operator=(const read_claim&) = delete;
    ~read_claim() { release(); }

    [[nodiscard]] explicit operator bool() const noexcept { return ring_ != nullptr; }
    [[nodiscard]] errc error() const noexcept { return error_; }

    [[nodiscard]] const std::byte* data() const noexcept { return data_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }

    // Zeroes the record, returns its space to the producers. No effect on an
    // empty claim.
    void release() noexcept {
        if (!ring_) return;
        ring_->consume(size_);
        ring_->publish();
        ring_->set_claim_outstanding(false);
        ring_ = nullptr;
        data_ = nullptr;
    }

  private:
    details::reader* ring_ = nullptr;  // null when empty
    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
    errc error_{};
};

}  // namespace logbuf::queue
