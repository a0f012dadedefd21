// logbuf/logbuf.hpp - everything in the core library: the queue layer and the
// channel layer. (The spdlog backend has its own header, logbuf/spdlog.hpp,
// because it pulls in spdlog.)
#pragma once

#include <logbuf/channel/mpsc.hpp>
#include <logbuf/channel/object.hpp>
#include <logbuf/channel/spsc.hpp>
#include <logbuf/error.hpp>
#include <logbuf/queue/block_list.hpp>
#include <logbuf/queue/mpsc.hpp>
#include <logbuf/queue/spsc.hpp>
