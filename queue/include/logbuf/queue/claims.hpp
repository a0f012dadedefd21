// logbuf/queue/claims.hpp - the two RAII claims both byte rings hand out.
//
// write_claim: bytes reserved in the ring for one record. Write the payload
//   through data()/bytes(), then commit(). A claim destroyed without commit()
//   is aborted: its space becomes a skip region, so the consumer never waits
//   on a producer that threw half-way through writing.
// read_claim: a committed record, the next after those already handed out.
//   Its bytes stay valid until release() (or destruction), which zeroes them;
//   the space returns to the producers once every older claim is released.
//   Several may be out at once and be released in any order.
//
// An empty claim (operator bool false) carries the reason in error(). A
// default-constructed or moved-from claim is empty with error() == errc{}.
// A write claim must not outlive the producer (or sender) that made it. A
// read claim may outlive its consumer: the ring's storage stays alive until
// the claim is released.
#pragma once

#include <logbuf/error.hpp>
#include <logbuf/queue/details/reader.hpp>
#include <logbuf/queue/details/record_format.hpp>

#include <cstddef>
#include <cstdint>
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
    // The record `reader` took at `position`, `len` payload bytes; counted
    // as out until release().
    read_claim(details::reader* reader, std::uint64_t position, std::size_t len) noexcept
        : reader_(reader), data_(reader->payload_at(position)), size_(len), position_(position) {
        reader_->claim_taken();
    }

    read_claim(read_claim&& other) noexcept
        : reader_(std::exchange(other.reader_, nullptr)),
          data_(std::exchange(other.data_, nullptr)),
          size_(std::exchange(other.size_, 0)),
          position_(other.position_),
          error_(std::exchange(other.error_, errc{})) {}
    read_claim& operator=(read_claim&& other) noexcept {
        if (this != &other) {
            release();
            reader_ = std::exchange(other.reader_, nullptr);
            data_ = std::exchange(other.data_, nullptr);
            size_ = std::exchange(other.size_, 0);
            position_ = other.position_;
            error_ = std::exchange(other.error_, errc{});
        }
        return *this;
    }
    read_claim(const read_claim&) = delete;
    read_claim& operator=(const read_claim&) = delete;
    ~read_claim() { release(); }

    [[nodiscard]] explicit operator bool() const noexcept { return reader_ != nullptr; }
    [[nodiscard]] errc error() const noexcept { return error_; }

    [[nodiscard]] const std::byte* data() const noexcept { return data_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }

    // Zeroes the record; its space goes back to the producers once every
    // older claim is released too. No effect on an empty claim.
    void release() noexcept {
        if (!reader_) return;
        details::reader* r = std::exchange(reader_, nullptr);
        data_ = nullptr;
        r->release_claim(position_, size_);  // may free *r (its consumer is gone)
    }

  private:
    details::reader* reader_ = nullptr;  // null when empty
    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
    std::uint64_t position_ = 0;  // of the record's header, free-running
    errc error_{};
};

}  // namespace logbuf::queue
