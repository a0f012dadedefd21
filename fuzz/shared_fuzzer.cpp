// fuzz/shared_fuzzer.cpp - corrupt and hostile ring files fed to the shared
// ring's open(), recover() and consumer (drain, try_claim, unblock), under
// ASan + UBSan. What must hold, whatever the file says:
//   - open() and recover() either refuse the file (std::invalid_argument,
//     std::system_error) or work;
//   - every record handed out lies inside the ring buffer and is at most
//     max_payload() bytes;
//   - the consumer never writes outside the buffer and its own position
//     words: the file header stays as it was;
//   - every call returns (bounded rounds, no hang).
//
// Input: byte 0: capacity 2^(4 + b % 9) (16 B .. 4 KiB); byte 1: flags
// (bit 0: change one header byte, bit 1: cut the file short, bits 2-3: how
// positions are chosen); then header change, positions, the buffer's bytes,
// and operations (drain / try_claim / unblock / produce) until the input ends.
//
// White box: the consumer is built on details::shared_consumer_state over
// the mapped file directly, so that it can run on a file's content as given
// (create() would make a fresh one).
#include "fuzz_support.hpp"

#include <logbuf/queue/shared.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace {

namespace qs = logbuf::queue::shared;
namespace d = logbuf::queue::details;
using fuzz_support::trace;

[[noreturn]] void mismatch(const char* format, ...) __attribute__((format(printf, 1, 2)));
void mismatch(const char* format, ...) {
    va_list args;
    va_start(args, format);
    fuzz_support::print_mismatch("shared_fuzzer", format, args);
    va_end(args);
    std::abort();
}

// One file per fuzzer process, rewritten by every input, removed at exit.
const std::string& file_path() {
    static const struct file {
        std::string path = "/dev/shm/logbuf-shared-fuzz-" + std::to_string(::getpid()) + ".ring";
        ~file() { ::unlink(path.c_str()); }
    } f;
    return f.path;
}

std::uint64_t u64(fuzz_support::input& in) {
    std::uint64_t x = 0;
    for (int i = 0; i < 8; ++i)
        x = x << 8 | in.byte();
    return x;
}

// Writes the file the input describes. Returns the capacity.
std::uint64_t write_file(const std::string& path, fuzz_support::input& in) {
    const std::uint64_t capacity = std::uint64_t{16} << (in.byte() % 9);
    const std::uint8_t flags = in.byte();
    std::vector<std::uint8_t> file(d::file_layout::buffer + capacity, 0);
    const d::file_header header = d::make_file_header(capacity);
    std::memcpy(file.data(), &header, sizeof header);
    if (flags & 1) {
        const std::size_t at = in.byte() % sizeof header;
        file[at] ^= static_cast<std::uint8_t>(in.byte() | 1);
        trace("header byte %zu changed\n", at);
    }
    // Positions: plausible (aligned, ordered) or anything.
    std::uint64_t head = 0, consumed = 0, tail = 0;
    switch ((flags >> 2) & 3) {
        case 0:
            break;  // a fresh ring
        case 1:
        case 2: {
            head = (u64(in) % (capacity * 64)) & ~std::uint64_t{7};
            tail = head + ((in.word() % (capacity + 1)) & ~std::uint64_t{7});
            consumed = head + ((in.word() % (tail - head + 9)) & ~std::uint64_t{7});
            if (consumed > tail) consumed = tail;
            break;
        }
        default:
            head = u64(in);
            consumed = u64(in);
            tail = u64(in);
    }
    std::memcpy(file.data() + d::file_layout::head, &head, 8);
    std::memcpy(file.data() + d::file_layout::tail, &tail, 8);
    std::memcpy(file.data() + d::file_layout::consumed, &consumed, 8);
    trace("capacity %llu head %llu consumed %llu tail %llu\n",
          static_cast<unsigned long long>(capacity), static_cast<unsigned long long>(head),
          static_cast<unsigned long long>(consumed), static_cast<unsigned long long>(tail));
    // The buffer: header-like words often, so that records parse.
    const std::size_t words = in.byte() % (capacity / 8 + 1);
    for (std::size_t i = 0; i < words; ++i) {
        const std::size_t at = (in.word() % (capacity / 8)) * 8;
        std::uint64_t w = 0;
        switch (in.byte() % 5) {
            case 0:
                w = in.word() % capacity;  // a committed length
                break;
            case 1:
                w = d::skip_header(in.word() % (capacity + 16));
                break;
            case 2:
                // A claim mark, with junk in the bits between the length
                // and claimed_bit sometimes (earlier builds put a tag there).
                w = d::claimed_header(in.word() % capacity) |
                    ((in.byte() * capacity) & (d::claimed_bit - 1));
                break;
            case 3:
                w = u64(in);
                break;
            default:
                w = 0;
        }
        std::memcpy(file.data() + d::file_layout::buffer + at, &w, 8);
    }
    std::size_t size = file.size();
    if (flags & 2) size = in.word() % (file.size() + 1);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) mismatch("cannot write %s", path.c_str());
    if (::write(fd, file.data(), size) != static_cast<ssize_t>(size)) mismatch("short write");
    ::close(fd);
    return capacity;
}

void run(fuzz_support::input& in) {
    const std::string& path = file_path();
    const std::uint64_t capacity = write_file(path, in);

    try {
        std::size_t n = qs::recover(path, [&](std::span<const std::byte> r) {
            if (r.empty() || r.size() > capacity - 8) mismatch("recover: record of %zu", r.size());
        });
        trace("recover: %zu records\n", n);
    } catch (const std::invalid_argument& e) {
        trace("recover refused: %s\n", e.what());
    } catch (const std::system_error& e) {
        trace("recover: %s\n", e.what());
    }

    std::shared_ptr<d::shared_consumer_state> state;
    try {
        state = std::make_shared<d::shared_consumer_state>(
            d::mapped_file::open(path, d::mapped_file::access::read_write));
    } catch (const std::invalid_argument& e) {
        trace("open refused: %s\n", e.what());
        return;
    } catch (const std::system_error& e) {
        trace("open: %s\n", e.what());
        return;
    }
    qs::consumer rx(state);
    qs::producer tx;
    try {
        tx = qs::open(path);
    } catch (const std::exception& e) {
        mismatch("the consumer's file opened, a producer's did not: %s", e.what());
    }
    const d::mapped_file& file = state->mapping.file;
    const std::byte* buffer = file.buffer();
    std::vector<std::byte> header_before(sizeof(d::file_header));
    std::memcpy(header_before.data(),
                reinterpret_cast<const std::byte*>(buffer) - d::file_layout::buffer,
                header_before.size());
    auto inside = [&](std::span<const std::byte> r) {
        if (r.data() < buffer + 8 || r.data() + r.size() > buffer + capacity ||
            r.size() > capacity - 8)
            mismatch("record of %zu bytes at offset %td outside the ring", r.size(),
                     r.data() - buffer);
    };
    for (int round = 0; round < 64 && !in.done(); ++round) {
        switch (in.byte() % 4) {
            case 0: {
                const std::size_t n = rx.drain(inside, in.byte() % 8 + 1);
                trace("drain: %zu\n", n);
                break;
            }
            case 1: {
                auto r = rx.try_claim();
                if (r) inside(r.bytes());
                trace("try_claim: %s\n", r ? "record" : "empty");
                break;
            }
            case 2: {
                const std::size_t n = rx.unblock(std::chrono::nanoseconds(0));
                trace("unblock: %zu\n", n);
                break;
            }
            default: {
                const std::size_t len = in.word() % (capacity + 8);
                auto c = tx.try_claim(len);
                trace("claim %zu: %s\n", len, c ? "ok" : logbuf::to_string(c.error()));
                if (c) {
                    std::memset(c.data(), 0x5a, c.size());
                    if (in.byte() & 1) c.commit();
                }
            }
        }
    }
    if (std::memcmp(header_before.data(),
                    reinterpret_cast<const std::byte*>(buffer) - d::file_layout::buffer,
                    header_before.size()) != 0)
        mismatch("the file header changed");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz_support::read_environment();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz_support::input in(data, size);
    run(in);
    return 0;
}
