// Presence locks of the shared channel (details/shared_presence.hpp).
#include <logbuf/channel/details/shared_presence.hpp>

#include <cerrno>

#include <fcntl.h>

namespace logbuf::channel::details {

namespace {

constexpr off_t receiver_byte = 0;
constexpr off_t sender_byte = 1;

flock lock_of(short type, off_t byte) noexcept {
    flock l{};
    l.l_type = type;
    l.l_whence = SEEK_SET;
    l.l_start = byte;
    l.l_len = 1;
    l.l_pid = 0;  // must be 0 for OFD locks
    return l;
}

bool take(int fd, short type, off_t byte) noexcept {
    flock l = lock_of(type, byte);
    int r;
    do {
        r = ::fcntl(fd, F_OFD_SETLK, &l);
    } while (r != 0 && errno == EINTR);
    return r == 0;
}

// True if a lock of `type` on `byte` would conflict with one another open
// file description holds; true as well if we cannot tell.
bool held_by_other(int fd, short type, off_t byte) noexcept {
    flock l = lock_of(type, byte);
    if (::fcntl(fd, F_OFD_GETLK, &l) != 0) return true;
    return l.l_type != F_UNLCK;
}

}  // namespace

bool take_receiver_lock(int fd) noexcept {
    return take(fd, F_WRLCK, receiver_byte);
}

bool take_sender_lock(int fd) noexcept {
    return take(fd, F_RDLCK, sender_byte);
}

bool receiver_present(int fd) noexcept {
    return held_by_other(fd, F_RDLCK, receiver_byte);
}

bool senders_present(int fd) noexcept {
    return held_by_other(fd, F_WRLCK, sender_byte);
}

}  // namespace logbuf::channel::details
