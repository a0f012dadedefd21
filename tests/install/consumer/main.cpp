// Uses each layer through the installed headers and library only.
#include <logbuf/logbuf.hpp>

#if defined(CONSUMER_USES_SPDLOG)
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <logbuf/spdlog.hpp>

#include <sstream>
#endif

#include <cstdio>
#include <cstring>
#include <utility>

int main() {
    // queue layer
    auto [tx, rx] = logbuf::queue::mpsc::make(1024);
    auto claim = tx.try_claim(5);
    if (!claim) return 1;
    std::memcpy(claim.data(), "hello", 5);
    claim.commit();
    auto record = rx.try_claim();
    if (!record || record.size() != 5 || std::memcmp(record.data(), "hello", 5) != 0) return 2;
    record.release();

    // channel layer (links the compiled part: futex parking)
    auto [sender, receiver] = logbuf::channel::mpsc::make(1024);
    auto sent = sender.send(3);
    std::memcpy(sent.data(), "abc", 3);
    sent.commit();
    sender.notify();
    if (receiver.recv().size() != 3) return 3;

    auto [objects_tx, objects_rx] = logbuf::channel::object::make_unbounded<int>();
    if (!objects_tx.try_send(42)) return 4;
    auto value = objects_rx.try_recv();
    if (!value || *value != 42) return 5;

#if defined(CONSUMER_USES_SPDLOG)
    std::ostringstream out;
    {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
        auto log = logbuf::make_async_logger("consumer", sink);
        log->set_pattern("%v");  // after creation: the registry applies its own pattern
        log->info("through {}", "logbuf");
        // Registered like spdlog's own factories' loggers: the registry keeps
        // it (and its sink on `out`) alive until dropped.
        spdlog::drop("consumer");
    }
    if (out.str() != "through logbuf\n") {
        std::printf("consumer: spdlog output was [%s]\n", out.str().c_str());
        return 6;
    }
    std::puts("consumer: spdlog backend found and working");
#endif
    std::puts("consumer: logbuf found and working");
    return 0;
}
