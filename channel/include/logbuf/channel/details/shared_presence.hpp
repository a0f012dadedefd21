// logbuf/channel/details/shared_presence.hpp - who is still there, across
// processes, without anybody having to say goodbye: open-file-description
// locks (Linux F_OFD_SETLK) on the ring file, which the kernel drops when
// the last descriptor of that open file goes, however the process ended.
//
//   byte 0   write lock   held by the receiver for its whole life
//   byte 1   read locks   one per sender attachment (every open() in a
//                         process; its copies share it)
//
// The locks cover bytes of the file's header; they guard nothing, their
// only meaning is presence. Asking (F_OFD_GETLK) is a syscall: callers do
// it off the hot path, rate-limited.
//
// A process forked from a lock holder shares the open file description and
// so keeps the lock until it exits too (the descriptors are O_CLOEXEC, so
// an exec drops it).
#pragma once

namespace logbuf::channel::details {

// Takes the receiver's lock on the open file `fd`. False if another open
// file description holds it (a live receiver) or the call failed.
[[nodiscard]] bool take_receiver_lock(int fd) noexcept;
// Takes a sender attachment's lock on `fd`. False if the call failed.
[[nodiscard]] bool take_sender_lock(int fd) noexcept;

// True if some other open file description holds the receiver's lock.
// A failed call counts as "present" (never a false disconnection).
[[nodiscard]] bool receiver_present(int fd) noexcept;
// True if some other open file description holds a sender lock.
[[nodiscard]] bool senders_present(int fd) noexcept;

}  // namespace logbuf::channel::details
