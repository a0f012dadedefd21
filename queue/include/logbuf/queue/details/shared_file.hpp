// logbuf/queue/details/shared_file.hpp - the ring file of the shared rings:
// its layout, creating it, opening and validating it, mapping it.
//
//   offset  bytes     what                                        written by
//   0       64        file_header: magic, version, sizes, checksum create() only
//   128     384       ring_positions (ring.hpp): tail, head, turn  producers, consumer
//                     each on a 128-byte line of its own
//   512     8         consumed: where recovery starts             the consumer
//   1024    1024      upper area: the layer above keeps its state  that layer
//                     here (the channel: futex word, counts)
//   2048    2048      (zero)
//   4096    capacity  the ring buffer (record format: record_format.hpp)
//
// Nothing read from the file is trusted: open() reads the header with
// pread(), checks every field and the checksum before it maps anything, and
// then checks that the mapped header still equals what it checked. After
// that every process keeps its own copy of the sizes and never reads them
// from the file again; positions read from the file are checked where they
// are used.
#pragma once

#include <logbuf/queue/details/record_format.hpp>
#include <logbuf/queue/details/ring.hpp>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace logbuf::queue::details {

// The header at offset 0. Fixed layout, native byte order (a file from a
// machine of the other byte order fails the magic check).
struct file_header {
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t buffer_offset;  // where the ring buffer starts
    std::uint64_t capacity;       // ring bytes, a power of two in [16, 2^62]
    std::uint64_t file_size;      // buffer_offset + capacity
    std::uint32_t tail_offset;
    std::uint32_t head_offset;
    std::uint32_t consumed_offset;
    std::uint32_t upper_offset;
    std::uint32_t upper_size;
    std::uint32_t reserved;  // zero
    std::uint64_t checksum;  // FNV-1a of every byte above
};
static_assert(sizeof(file_header) == 64);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "positions in a shared mapping must be address-free atomics");
static_assert(sizeof(std::atomic<std::uint64_t>) == sizeof(std::uint64_t));

// "logbufR1" read as a little-endian word.
inline constexpr std::uint64_t file_magic = 0x3152667562676f6cull;
inline constexpr std::uint32_t file_version = 1;

struct file_layout {
    static constexpr std::uint32_t positions = 128;
    static constexpr std::uint32_t tail = positions + offsetof(ring_positions, tail);
    static constexpr std::uint32_t head = positions + offsetof(ring_positions, head);
    static constexpr std::uint32_t consumed = 512;  // its own line: written per record
    static constexpr std::uint32_t upper = 1024;
    static constexpr std::uint32_t upper_size = 1024;
    static constexpr std::uint32_t buffer = 4096;  // a page: the buffer is page aligned
};
static_assert(file_layout::positions % alignof(ring_positions) == 0);
static_assert(file_layout::positions + sizeof(ring_positions) <= file_layout::consumed);

[[nodiscard]] constexpr std::uint64_t header_checksum(const file_header& h) noexcept {
    // FNV-1a over the fields before `checksum`, field by field so that it is
    // constexpr and independent of padding (there is none, see static_assert).
    std::uint64_t x = 0xcbf29ce484222325ull;
    auto mix = [&x](std::uint64_t value, int bytes) {
        for (int i = 0; i < bytes; ++i) {
            x ^= (value >> (8 * i)) & 0xff;
            x *= 0x100000001b3ull;
        }
    };
    mix(h.magic, 8);
    mix(h.version, 4);
    mix(h.buffer_offset, 4);
    mix(h.capacity, 8);
    mix(h.file_size, 8);
    mix(h.tail_offset, 4);
    mix(h.head_offset, 4);
    mix(h.consumed_offset, 4);
    mix(h.upper_offset, 4);
    mix(h.upper_size, 4);
    mix(h.reserved, 4);
    return x;
}

// The header create() writes for a ring of `capacity` bytes (already rounded).
[[nodiscard]] constexpr file_header make_file_header(std::uint64_t capacity) noexcept {
    file_header h{};
    h.magic = file_magic;
    h.version = file_version;
    h.buffer_offset = file_layout::buffer;
    h.capacity = capacity;
    h.file_size = file_layout::buffer + capacity;
    h.tail_offset = file_layout::tail;
    h.head_offset = file_layout::head;
    h.consumed_offset = file_layout::consumed;
    h.upper_offset = file_layout::upper;
    h.upper_size = file_layout::upper_size;
    h.reserved = 0;
    h.checksum = header_checksum(h);
    return h;
}

// Why `h` (read from a file of `file_size` bytes) is not a ring of this
// version, or nullptr if it is one.
[[nodiscard]] constexpr const char* header_problem(const file_header& h,
                                                   std::uint64_t file_size) noexcept {
    if (h.magic != file_magic) return "not a logbuf ring file (wrong magic number)";
    if (h.version != file_version) return "logbuf ring file of another format version";
    if (h.capacity < min_capacity || h.capacity > max_capacity || !std::has_single_bit(h.capacity))
        return "ring file with an invalid capacity";
    const file_header expected = make_file_header(h.capacity);
    if (h.buffer_offset != expected.buffer_offset || h.tail_offset != expected.tail_offset ||
        h.head_offset != expected.head_offset || h.consumed_offset != expected.consumed_offset ||
        h.upper_offset != expected.upper_offset || h.upper_size != expected.upper_size ||
        h.reserved != 0)
        return "ring file with an unknown layout";
    if (h.file_size != expected.file_size)
        return "ring file whose size does not match its capacity";
    if (h.checksum != expected.checksum) return "ring file whose header was changed (checksum)";
    if (file_size < h.file_size) return "truncated ring file";
    if (file_size > h.file_size) return "ring file longer than its capacity says";
    return nullptr;
}

// Why the positions are impossible, or nullptr. They are multiples of 8,
// head <= tail <= head + capacity, and consumed <= tail (consumed may lag
// head: passing skip regions moves head but not consumed).
[[nodiscard]] constexpr const char* positions_problem(std::uint64_t head, std::uint64_t consumed,
                                                      std::uint64_t tail,
                                                      std::uint64_t capacity) noexcept {
    if ((head | consumed | tail) % record_alignment != 0)
        return "ring file with a misaligned position";
    if (head > tail || tail - head > capacity || consumed > tail)
        return "ring file with inconsistent positions";
    return nullptr;
}

// An open, mapped, validated ring file. Move-only; unmaps and closes on
// destruction.
class mapped_file {
  public:
    enum class access { read_only, read_write };

    mapped_file() noexcept = default;
    mapped_file(mapped_file&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)),
          base_(std::exchange(other.base_, nullptr)),
          capacity_(std::exchange(other.capacity_, 0)) {}
    mapped_file& operator=(mapped_file&& other) noexcept {
        if (this != &other) {
            close();
            fd_ = std::exchange(other.fd_, -1);
            base_ = std::exchange(other.base_, nullptr);
            capacity_ = std::exchange(other.capacity_, 0);
        }
        return *this;
    }
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    ~mapped_file() { close(); }

    // Creates a ring file of at least `requested` bytes (rounded up to a power
    // of two; std::invalid_argument below 16 or above 2^62) at `path`,
    // replacing what was there: the file is built under a temporary name in
    // the same directory and renamed over `path`, so open() never sees a
    // half-written header, and handles still attached to an old file at that
    // path keep that (now nameless) file. `before_publish(file)` runs on the
    // mapped file just before the rename (the channel takes its presence
    // lock there). Throws std::system_error on a file error.
    template <class BeforePublish>
    [[nodiscard]] static mapped_file create(const std::filesystem::path& path,
                                            std::size_t requested, BeforePublish&& before_publish) {
        const std::uint64_t capacity = checked_capacity(requested);
        const file_header header = make_file_header(capacity);

        std::filesystem::path temporary = path;
        temporary += ".tmp." + std::to_string(::getpid());
        const int fd = ::open(temporary.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
        if (fd < 0) throw file_error(temporary, "cannot create");
        mapped_file file;
        file.fd_ = fd;
        try {
            // A new file reads zero everywhere: positions 0, buffer zeroed,
            // which is what the record format needs.
            if (::ftruncate(fd, static_cast<off_t>(header.file_size)) != 0)
                throw file_error(temporary, "cannot size");
            if (::pwrite(fd, &header, sizeof header, 0) != static_cast<ssize_t>(sizeof header))
                throw file_error(temporary, "cannot write the header of");
            file.map(temporary, capacity, access::read_write);
            before_publish(static_cast<const mapped_file&>(file));
            if (::rename(temporary.c_str(), path.c_str()) != 0)
                throw file_error(path, "cannot rename the new ring file to");
        } catch (...) {
            ::unlink(temporary.c_str());
            throw;
        }
        return file;
    }
    [[nodiscard]] static mapped_file create(const std::filesystem::path& path,
                                            std::size_t requested) {
        return create(path, requested, [](const mapped_file&) {});
    }

    // Opens and maps an existing ring file. Throws std::system_error if it
    // cannot be opened (missing, no permission), std::invalid_argument if it
    // is not a ring of this version or is inconsistent; nothing is mapped
    // before the header has passed every check.
    [[nodiscard]] static mapped_file open(const std::filesystem::path& path, access mode) {
        const int fd =
            ::open(path.c_str(), (mode == access::read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (fd < 0) throw file_error(path, "cannot open ring file");
        mapped_file file;
        file.fd_ = fd;
        struct stat st {};
        if (::fstat(fd, &st) != 0) throw file_error(path, "cannot stat ring file");
        if (!S_ISREG(st.st_mode)) throw bad_file(path, "not a regular file");
        file_header header{};
        const ssize_t got = ::pread(fd, &header, sizeof header, 0);
        if (got < 0) throw file_error(path, "cannot read ring file");
        if (static_cast<std::size_t>(got) < sizeof header)
            throw bad_file(path, "truncated ring file");
        if (const char* why = header_problem(header, static_cast<std::uint64_t>(st.st_size)))
            throw bad_file(path, why);
        file.map(path, header.capacity, mode);
        // The file may have changed between pread() and mmap(): what we map
        // must be what we checked.
        if (std::memcmp(file.base_, &header, sizeof header) != 0)
            throw bad_file(path, "ring file header changed while opening");
        const std::uint64_t head = file.head().load(std::memory_order_acquire);
        const std::uint64_t consumed = file.consumed().load(std::memory_order_acquire);
        const std::uint64_t tail = file.tail().load(std::memory_order_acquire);
        if (const char* why = positions_problem(head, consumed, tail, header.capacity))
            throw bad_file(path, why);
        return file;
    }

    [[nodiscard]] explicit operator bool() const noexcept { return base_ != nullptr; }
    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::byte* buffer() const noexcept { return base_ + file_layout::buffer; }
    // The words producers and the consumer share, as the ring layer lays
    // them out (all zero in a new file: an empty ring).
    [[nodiscard]] ring_positions& positions() const noexcept {
        return *std::launder(reinterpret_cast<ring_positions*>(base_ + file_layout::positions));
    }
    [[nodiscard]] std::atomic<std::uint64_t>& tail() const noexcept { return positions().tail; }
    [[nodiscard]] std::atomic<std::uint64_t>& head() const noexcept { return positions().head; }
    // The consumer's read position as far as recovery is concerned: every
    // record at or after it is intact (see shared.hpp, recover()).
    [[nodiscard]] std::atomic<std::uint64_t>& consumed() const noexcept {
        return position_at(file_layout::consumed);
    }
    // file_layout::upper_size bytes, zero in a new file, which this layer
    // never reads: the layer above keeps its shared state there.
    [[nodiscard]] std::byte* upper_area() const noexcept { return base_ + file_layout::upper; }

  private:
    static std::system_error file_error(const std::filesystem::path& path, const char* what) {
        return std::system_error(errno, std::generic_category(),
                                 std::string("logbuf: ") + what + " " + path.string());
    }
    static std::invalid_argument bad_file(const std::filesystem::path& path, const char* why) {
        return std::invalid_argument("logbuf: " + path.string() + ": " + why);
    }

    void map(const std::filesystem::path& path, std::uint64_t capacity, access mode) {
        const std::size_t size = file_layout::buffer + static_cast<std::size_t>(capacity);
        const int protection = mode == access::read_only ? PROT_READ : PROT_READ | PROT_WRITE;
        // MAP_POPULATE: fault the pages in now rather than on a producer's
        // first lap.
        void* base = ::mmap(nullptr, size, protection, MAP_SHARED | MAP_POPULATE, fd_, 0);
        if (base == MAP_FAILED) throw file_error(path, "cannot map ring file");
        base_ = static_cast<std::byte*>(base);
        capacity_ = capacity;
    }

    [[nodiscard]] std::atomic<std::uint64_t>& position_at(std::uint32_t offset) const noexcept {
        // The word is 8-byte aligned in a page-aligned mapping; a lock-free
        // 64-bit atomic is address-free, so every process may use it.
        return *std::launder(reinterpret_cast<std::atomic<std::uint64_t>*>(base_ + offset));
    }

    void close() noexcept {
        if (base_) ::munmap(base_, file_layout::buffer + capacity_);
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        base_ = nullptr;
        capacity_ = 0;
    }

    int fd_ = -1;
    std::byte* base_ = nullptr;
    std::uint64_t capacity_ = 0;
};

}  // namespace logbuf::queue::details
