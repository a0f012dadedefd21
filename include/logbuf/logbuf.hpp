// logbuf/logbuf.hpp - everything in the core library (the spdlog backend has
// its own header, logbuf/spdlog.hpp, because it pulls in spdlog).
#pragma once

#include <logbuf/error.hpp>
#include <logbuf/queue/mpsc.hpp>
#include <logbuf/queue/spsc.hpp>
