// What logbuf::async_factory needs from libspdlog beyond its headers:
//
// - spdlog::init_thread_pool(queue_size, threads)'s queue size. spdlog keeps
//   it private to the pool's queue and offers no accessor (queue_size()
//   returns how many messages are queued now), so we read the member through
//   the one access path C++ grants for private members: a pointer to member
//   named in an explicit instantiation. It is a constant after construction.
// - The logger functions libspdlog compiles rather than defines in its
//   headers (stdout_color_mt and friends, stdout_logger_mt and friends): it
//   instantiates them for its own factories only, so a program calling
//   spdlog::stdout_color_mt<logbuf::async_factory> needs the instantiations
//   below to link.
#include <logbuf/spdlog.hpp>

#include <spdlog/async.h>
#include <spdlog/details/registry.h>
#include <spdlog/details/thread_pool.h>
#include <spdlog/sinks/stdout_color_sinks-inl.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks-inl.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>

namespace logbuf {

namespace {

using pool_type = spdlog::details::thread_pool;
using queue_type = spdlog::details::mpmc_blocking_queue<spdlog::details::async_msg>;
using ring_type = spdlog::details::circular_q<spdlog::details::async_msg>;

// grant<Tag, &X::member> defines get(Tag), returning the member pointer.
template <class Tag, typename Tag::type Member>
struct grant {
    friend typename Tag::type get(Tag) noexcept { return Member; }
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-template-friend"
#endif
struct pool_queue {
    using type = queue_type pool_type::*;
    friend type get(pool_queue) noexcept;
};
struct queue_ring {
    using type = ring_type queue_type::*;
    friend type get(queue_ring) noexcept;
};
struct ring_slots {
    using type = std::size_t ring_type::*;
    friend type get(ring_slots) noexcept;
};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

template struct grant<pool_queue, &pool_type::q_>;
template struct grant<queue_ring, &queue_type::q_>;
template struct grant<ring_slots, &ring_type::max_items_>;

}  // namespace

async_options factory_options(overflow_policy policy) {
    async_options options;
    options.overflow = policy;
    if (const std::shared_ptr<pool_type> pool = spdlog::details::registry::instance().get_tp()) {
        // circular_q keeps one slot free: max_items_ is the queue size + 1.
        const std::size_t slots =
            ((*pool).*get(pool_queue{}).*get(queue_ring{})).*get(ring_slots{});
        const std::size_t messages =
            std::min<std::size_t>(slots > 0 ? slots - 1 : 0, std::size_t{1} << 30);
        options.capacity = std::max(min_async_capacity, messages * factory_bytes_per_message);
    }
    return options;
}

}  // namespace logbuf

// The compiled logger functions, for both logbuf factories.
#define LOGBUF_INSTANTIATE_CONSOLE_LOGGERS(factory)                                                \
    template std::shared_ptr<spdlog::logger> spdlog::stdout_color_mt<factory>(const std::string&,  \
                                                                              spdlog::color_mode); \
    template std::shared_ptr<spdlog::logger> spdlog::stdout_color_st<factory>(const std::string&,  \
                                                                              spdlog::color_mode); \
    template std::shared_ptr<spdlog::logger> spdlog::stderr_color_mt<factory>(const std::string&,  \
                                                                              spdlog::color_mode); \
    template std::shared_ptr<spdlog::logger> spdlog::stderr_color_st<factory>(const std::string&,  \
                                                                              spdlog::color_mode); \
    template std::shared_ptr<spdlog::logger> spdlog::stdout_logger_mt<factory>(                    \
        const std::string&);                                                                       \
    template std::shared_ptr<spdlog::logger> spdlog::stdout_logger_st<factory>(                    \
        const std::string&);                                                                       \
    template std::shared_ptr<spdlog::logger> spdlog::stderr_logger_mt<factory>(                    \
        const std::string&);                                                                       \
    template std::shared_ptr<spdlog::logger> spdlog::stderr_logger_st<factory>(const std::string&);

LOGBUF_INSTANTIATE_CONSOLE_LOGGERS(logbuf::async_factory)
LOGBUF_INSTANTIATE_CONSOLE_LOGGERS(logbuf::async_factory_nonblock)
