// lib/log_driver.hpp - the thread that runs log_source: polls it, serves
// flush requests, drains it at shutdown and at process exit, and keeps fork
// safe. (Stands in for the shared backend thread until that one serves
// log sources too.)
#pragma once

namespace logbuf::log::details::driver {

void ensure_started();  // the first logger or ring starts it
bool flush() noexcept;  // synchronous drain_and_flush(); false if it gave up
void wake() noexcept;   // a blocked caller wants room now
bool on_backend_thread() noexcept;
void shutdown() noexcept;  // drain, flush, stop; idempotent
bool stopped() noexcept;   // after shutdown()

}  // namespace logbuf::log::details::driver
