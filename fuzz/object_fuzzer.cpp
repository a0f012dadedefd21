// fuzz/object_fuzzer.cpp - model-based fuzzer for the typed block list and
// the object channel built on it.
//
// The first byte picks the subject:
//   0  queue::block_list<value> directly (spare-block limit from the input),
//   1  channel::object bounded (bound 1..70 from the input),
//   2  channel::object unbounded;
// the rest is a program of operations run in this one thread, each checked
// against a reference model: a deque of the value ids in the channel, the
// closed flag, and (bounded) the number in flight.
//
// The value type counts its lives. Every object that carries a value holds a
// unique token; constructing registers the token, destroying unregisters it,
// a move hands it over, a copy makes a new one. After every operation the
// live tokens must be exactly the values the model says exist - those in the
// channel plus those the test holds - so a value destroyed twice, never
// destroyed (leaked), or destroyed while still in the channel shows at once,
// not just at the end.
//
// Mid-write: a send can run more sends, and destroy the receiver, from
// inside the move of its value into the slot (a sender caught between claim
// and publish, in one thread); afterwards nothing sent may be alive.
//
// Exceptions: the input can arm "the n-th copy or move from now throws" for
// one call into the library. A send that throws must leave nothing in the
// channel and the caller's value intact; a receive that throws must leave the
// value in the channel (block_list.hpp, object.hpp). Whether the n-th copy
// or move happens inside the call is the library's business; the model only
// checks the outcome is one of the two allowed ones.
//
// Any difference aborts with "object_fuzzer: MISMATCH ...".
// LOGBUF_FUZZ_TRACE=1 prints every operation.
#include <logbuf/channel/object.hpp>
#include <logbuf/error.hpp>
#include <logbuf/queue/block_list.hpp>

#include <array>
#include <chrono>
#include "fuzz_support.hpp"

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace {

using logbuf::errc;
namespace object = logbuf::channel::object;
using logbuf::queue::pop_status;

using fuzz_support::input;
using fuzz_support::trace;

[[noreturn]] void fail(const char* format, ...) __attribute__((format(printf, 1, 2)));
void fail(const char* format, ...) {
    va_list args;
    va_start(args, format);
    fuzz_support::print_mismatch("object_fuzzer", format, args);
    va_end(args);
    std::abort();
}

#define CHECK(cond, ...)                \
    do {                                \
        if (!(cond)) fail(__VA_ARGS__); \
    } while (0)

// ---- the counted value ------------------------------------------------------

constexpr std::uint64_t no_token = 0;

struct injected_failure {};

// Live tokens, and the armed failure: when `countdown` reaches zero the copy
// or move that brought it there throws (before touching its source).
struct life_registry {
    std::set<std::uint64_t> live;
    std::uint64_t next_token = 1;
    int countdown = 0;
    // Runs (once) inside the next copy or move: the write of a slot.
    std::function<void()> during_write;

    std::uint64_t born() {
        const std::uint64_t t = next_token++;
        live.insert(t);
        return t;
    }
    void died(std::uint64_t token) {
        CHECK(live.erase(token) == 1, "token %llu destroyed twice or never born",
              static_cast<unsigned long long>(token));
    }
    void copy_or_move() {
        if (during_write) std::exchange(during_write, nullptr)();
        if (countdown > 0 && --countdown == 0) throw injected_failure{};
    }
};
life_registry lives;

class value {
  public:
    explicit value(std::uint64_t id) : id_(id), token_(lives.born()) {}
    value(const value& other) : id_(other.id_), token_(copy_token(other)) {}
    value(value&& other) : id_(other.id_), token_(move_token(other)) {}
    value& operator=(const value&) = delete;
    value& operator=(value&&) = delete;
    ~value() {
        if (token_ != no_token) lives.died(token_);
    }

    [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
    [[nodiscard]] bool holds_value() const noexcept { return token_ != no_token; }

  private:
    static std::uint64_t copy_token(const value& other) {
        lives.copy_or_move();
        return other.token_ == no_token ? no_token : lives.born();
    }
    static std::uint64_t move_token(value& other) {
        lives.copy_or_move();
        return std::exchange(other.token_, no_token);
    }

    std::uint64_t id_;
    std::uint64_t token_;
};

// Arms an injected failure for the duration of one library call.
class armed_failure {
  public:
    explicit armed_failure(int nth) { lives.countdown = nth; }
    ~armed_failure() { disarm(); }
    void disarm() { lives.countdown = 0; }
    armed_failure(const armed_failure&) = delete;
    armed_failure& operator=(const armed_failure&) = delete;
};

// ---- what the test holds ------------------------------------------------------

// Values the test owns: made to be sent, kept after a failed send, or
// received. Each slot is checked to still hold what the model says.
struct held_values {
    std::array<std::optional<value>, 4> slots;

    void clear() {
        for (auto& s : slots)
            s.reset();
    }
    [[nodiscard]] std::size_t live() const {
        std::size_t n = 0;
        for (const auto& s : slots)
            n += (s && s->holds_value()) ? 1 : 0;
        return n;
    }
};

// ---- subject 0: the block list ----------------------------------------------

class list_harness {
  public:
    explicit list_harness(std::size_t spare) : list_(std::in_place, spare) {}

    void run(input& in) {
        int steps = 0;
        while (!in.done() && steps++ < 4096) {
            step(in);
            verify();
        }
        // Leave values in the list: its destructor must destroy them.
        list_.reset();
        model_.clear();
        verify();
        held_.clear();
        CHECK(lives.live.empty(), "%zu values outlived the list", lives.live.size());
    }

  private:
    void verify() {
        const std::size_t expect = model_.size() + held_.live();
        CHECK(lives.live.size() == expect, "%zu live values, model says %zu (%zu in the list)",
              lives.live.size(), expect, model_.size());
        if (list_) CHECK(list_->is_closed() == closed_, "is_closed() disagrees");
    }

    // The status a pop must see now.
    [[nodiscard]] pop_status expected_status() const {
        if (!model_.empty()) return pop_status::value;
        return closed_ ? pop_status::closed : pop_status::empty;
    }

    void push(input& in) {
        const std::uint8_t how = in.byte();
        const int nth = (how >> 4) % 4;  // 0: no failure armed
        auto& slot = held_.slots[how % held_.slots.size()];
        if (!slot || !slot->holds_value()) slot.emplace(next_id_++);
        const std::uint64_t id = slot->id();
        const bool by_copy = (how & 8) != 0;
        bool pushed = false;
        bool threw = false;
        try {
            armed_failure arm(nth);
            if (by_copy) {
                pushed = list_->push(*slot);
            } else {
                pushed = list_->emplace(std::move(*slot));
            }
        } catch (const injected_failure&) {
            threw = true;
        }
        trace("push id %llu %s nth %d -> %s\n", static_cast<unsigned long long>(id),
              by_copy ? "copy" : "move", nth,
              threw    ? "threw"
              : pushed ? "ok"
                       : "closed");
        if (closed_) {
            CHECK(!pushed && !threw, "a push into a closed list succeeded");
            CHECK(slot->holds_value(), "a refused push took the value");
            return;
        }
        if (threw) {
            CHECK(slot->holds_value(), "a push that threw took the value");
            return;
        }
        CHECK(pushed, "push into an open list failed");
        CHECK(by_copy == slot->holds_value(), "push %s the source", by_copy ? "emptied" : "kept");
        model_.push_back(id);
    }

    void pop(input& in) {
        const std::uint8_t how = in.byte();
        const int nth = (how >> 4) % 4;
        const pop_status want = expected_status();
        bool threw = false;
        pop_status got = pop_status::empty;
        std::optional<std::uint64_t> id;
        try {
            armed_failure arm(nth);
            if (how & 1) {
                auto r = list_->try_pop();
                got = r.status;
                CHECK(r.value.has_value() == (got == pop_status::value), "pop_result inconsistent");
                if (r.value) id = r.value->id();
            } else {
                // A handler that may throw itself after looking at the value.
                const bool handler_throws = (how & 2) != 0;
                got = list_->try_pop_with([&](value&& v) {
                    id = v.id();
                    if (handler_throws) throw injected_failure{};
                });
            }
        } catch (const injected_failure&) {
            threw = true;
        }
        trace("pop nth %d -> %s\n", nth, threw ? "threw" : "done");
        if (threw) {
            CHECK(want == pop_status::value, "a pop of nothing threw");
            return;  // the value stays: verify() counts it, the next pop sees it
        }
        CHECK(got == want, "pop status %d, model says %d", static_cast<int>(got),
              static_cast<int>(want));
        if (got == pop_status::value) {
            CHECK(id && *id == model_.front(), "popped id %llu, model says %llu",
                  static_cast<unsigned long long>(id.value_or(0)),
                  static_cast<unsigned long long>(model_.front()));
            model_.pop_front();
        }
    }

    void step(input& in) {
        switch (in.byte() % 8) {
            case 0:
            case 1:
            case 2:
                push(in);
                break;
            case 3:
            case 4:
                pop(in);
                break;
            case 5: {
                const pop_status got = list_->peek();
                CHECK(got == expected_status(), "peek %d, model says %d", static_cast<int>(got),
                      static_cast<int>(expected_status()));
                break;
            }
            case 6: {
                const bool first = list_->close();
                CHECK(first == !closed_, "close() returned %d", first);
                closed_ = true;
                trace("close\n");
                break;
            }
            case 7:
                held_.slots[in.byte() % held_.slots.size()].reset();
                break;
        }
    }

    std::optional<logbuf::queue::block_list<value>> list_;
    std::deque<std::uint64_t> model_;
    held_values held_;
    bool closed_ = false;
    std::uint64_t next_id_ = 1;
};

// ---- subjects 1 and 2: the object channel ---------------------------------------

class channel_harness {
  public:
    explicit channel_harness(std::size_t bound) : bound_(bound) {
        auto [tx, rx] = bound == 0 ? object::make_unbounded<value>() : object::make<value>(bound);
        senders_[0].emplace(std::move(tx));
        receiver_.emplace(std::move(rx));
    }

    void run(input& in) {
        int steps = 0;
        while (!in.done() && steps++ < 4096) {
            step(in);
            verify();
        }
        // Tear down in an order the input picks: every value still in the
        // channel must be destroyed exactly once, by whichever goes last.
        const std::uint8_t order = in.byte();
        if (order & 1) drop_receiver();
        for (auto& s : senders_) {
            s.reset();
        }
        refresh_closed();
        verify();
        if (!(order & 1)) drop_receiver();
        held_.clear();
        CHECK(lives.live.empty(), "%zu values outlived the channel", lives.live.size());
    }

  private:
    [[nodiscard]] std::size_t live_senders() const {
        std::size_t n = 0;
        for (const auto& s : senders_)
            n += s ? 1 : 0;
        return n;
    }

    // The channel closes when the receiver closes it or goes, or the last
    // sender goes.
    void refresh_closed() {
        if (live_senders() == 0) closed_ = true;
    }

    void drop_receiver() {
        if (!receiver_) return;
        receiver_.reset();  // closes and destroys what is in the channel
        model_.clear();
        closed_ = true;
        trace("drop receiver\n");
        verify();
    }

    void verify() {
        // Values in the channel stay alive until received or until the
        // receiver goes; with no receiver the model holds nothing.
        const std::size_t expect = model_.size() + held_.live();
        CHECK(lives.live.size() == expect, "%zu live values, model says %zu (%zu in the channel)",
              lives.live.size(), expect, model_.size());
        for (const auto& s : senders_) {
            if (!s) continue;
            CHECK(s->is_closed() == closed_, "sender is_closed() %d, model %d", s->is_closed(),
                  closed_);
            CHECK(s->bound() == bound_, "sender bound()");
        }
        if (receiver_) {
            CHECK(receiver_->is_closed() == closed_, "receiver is_closed() disagrees");
            CHECK(receiver_->bound() == bound_, "receiver bound()");
        }
    }

    [[nodiscard]] errc expected_send() const {
        if (closed_) return errc::disconnected;
        if (bound_ != 0 && in_flight_ >= bound_) return errc::full;
        return errc{};
    }

    void send(input& in) {
        const std::uint8_t how = in.byte();
        const int nth = (how >> 5) % 4;
        auto& sender = senders_[(how >> 2) % senders_.size()];
        if (!sender) return;
        auto& slot = held_.slots[how % held_.slots.size()];
        if (!slot || !slot->holds_value()) slot.emplace(next_id_++);
        const std::uint64_t id = slot->id();
        const bool by_copy = (how & 0x10) != 0;
        const errc want = expected_send();
        // send() waits while a bounded channel is full: in one thread that is
        // for ever, so the blocking form is used only when it cannot wait.
        const bool blocking = (how & 0x80) != 0 && want != errc::full;
        errc got = errc::empty;
        bool threw = false;
        try {
            armed_failure arm(nth);
            object::send_result r =
                blocking ? (by_copy ? sender->send(*slot) : sender->send(std::move(*slot)))
                         : (by_copy ? sender->try_send(*slot) : sender->try_send(std::move(*slot)));
            got = r.error();
            CHECK(static_cast<bool>(r) == (got == errc{}), "send_result inconsistent");
        } catch (const injected_failure&) {
            threw = true;
        }
        trace("%s id %llu %s nth %d -> %s\n", blocking ? "send" : "try_send",
              static_cast<unsigned long long>(id), by_copy ? "copy" : "move", nth,
              threw ? "threw" : logbuf::to_string(got));
        if (threw) {
            CHECK(want == errc{}, "a send that must fail (%s) threw", logbuf::to_string(want));
            CHECK(slot->holds_value(), "a send that threw took the value");
            return;
        }
        CHECK(got == want, "send: %s, model says %s", logbuf::to_string(got),
              logbuf::to_string(want));
        if (got != errc{}) {
            CHECK(slot->holds_value(), "a failed send took the value");
            return;
        }
        CHECK(by_copy == slot->holds_value(), "send %s the source", by_copy ? "emptied" : "kept");
        model_.push_back(id);
        ++in_flight_;
    }

    // A send during whose write of the slot (T's move constructor) more
    // values are sent behind it and, if the input says so, the receiver is
    // destroyed. The receiver cannot pass the slot being written, so the
    // send that writes it must destroy its value and every value behind it
    // once written: after the call nothing sent may be alive, although the
    // senders are.
    void send_while_writing(input& in) {
        const std::uint8_t how = in.byte();
        const std::size_t behind = in.byte() % 41;  // up to past a block boundary
        auto& sender = senders_[(how >> 2) % senders_.size()];
        if (!sender || expected_send() != errc{}) return;  // no write would happen
        auto& slot = held_.slots[how % held_.slots.size()];
        if (!slot || !slot->holds_value()) slot.emplace(next_id_++);
        const std::uint64_t id = slot->id();
        const bool drop = (how & 0x80) != 0;
        bool ran = false;
        lives.during_write = [&] {
            ran = true;
            model_.push_back(id);  // its permit and slot are taken: it will land
            ++in_flight_;
            object::sender<value> other = *sender;
            for (std::size_t i = 0; i < behind; ++i) {
                const errc want = expected_send();
                value v(next_id_++);
                const std::uint64_t vid = v.id();
                const errc got = other.try_send(std::move(v)).error();
                CHECK(got == want, "send behind a slot being written: %s, model says %s",
                      logbuf::to_string(got), logbuf::to_string(want));
                if (got == errc{}) {
                    model_.push_back(vid);
                    ++in_flight_;
                }
            }
            if (drop) {
                receiver_.reset();
                closed_ = true;
            }
        };
        const errc got = sender->try_send(std::move(*slot)).error();
        lives.during_write = nullptr;
        trace("try_send id %llu, %zu behind%s -> %s\n", static_cast<unsigned long long>(id), behind,
              drop ? ", receiver dropped" : "", logbuf::to_string(got));
        CHECK(ran, "try_send did not move the value into the channel");
        CHECK(got == errc{}, "a send that wrote its slot failed: %s", logbuf::to_string(got));
        CHECK(!slot->holds_value(), "a send by move kept the value");
        if (drop) {
            model_.clear();  // verify(): every value is gone now
            in_flight_ = 0;
        }
    }

    // Checks one received value against the front of the model.
    void took(std::uint64_t id) {
        CHECK(!model_.empty(), "received id %llu from an empty channel",
              static_cast<unsigned long long>(id));
        CHECK(id == model_.front(), "received id %llu, model says %llu",
              static_cast<unsigned long long>(id), static_cast<unsigned long long>(model_.front()));
        model_.pop_front();
        --in_flight_;
    }

    void receive(input& in) {
        if (!receiver_) return;
        const std::uint8_t how = in.byte();
        const int nth = (how >> 4) % 4;
        const bool has_value = !model_.empty();
        // recv() and recv_many() wait for a value: used only when one is
        // there or the channel is closed (they return at once then);
        // otherwise try_recv() stands in.
        const bool would_wait = !has_value && !closed_;
        int kind = how % 4;  // try_recv, recv_for(0), recv, recv_many
        if (would_wait && kind >= 2) kind = 0;
        std::vector<value> many;
        const std::uint8_t reserve = in.byte() % 3;
        const std::size_t limit = 1 + in.byte() % 40;
        // Little room on purpose: recv_many must grow the vector before it
        // takes a value, so a throw while relocating loses nothing.
        many.reserve(reserve);
        // One call into the library; its result is a prvalue, so no copy or
        // move of ours runs while the failure is armed.
        const auto call = [&]() -> object::recv_result<value> {
            switch (kind) {
                case 0:
                    return receiver_->try_recv();
                case 1:
                    return receiver_->recv_for(std::chrono::seconds(0));
                default:
                    return receiver_->recv();
            }
        };
        std::size_t n = 0;
        std::optional<errc> got;  // set for the single-value receives
        std::optional<std::uint64_t> id;
        bool threw = false;
        try {
            armed_failure arm(nth);
            if (kind == 3) {
                n = receiver_->recv_many(many, limit);
                arm.disarm();
            } else {
                object::recv_result<value> r = call();
                arm.disarm();
                got = r.error();
                CHECK(static_cast<bool>(r) == (r.error() == errc{}), "recv_result inconsistent");
                if (r) {
                    id = r->id();
                    // Keep some received values: they must stay alive with us.
                    if (how & 0x80) {
                        auto& keep = held_.slots[(how >> 2) % held_.slots.size()];
                        keep.reset();
                        keep.emplace(std::move(*r));
                    }
                }
            }
        } catch (const injected_failure&) {
            threw = true;
        }
        trace("receive kind %d nth %d -> %s\n", kind, nth,
              threw ? "threw"
              : got ? logbuf::to_string(*got)
                    : "many");
        if (threw) {
            CHECK(has_value, "a receive of nothing threw");
            // recv_many: the values appended before the failure count as
            // received; the one being appended stays in the channel.
            for (const value& v : many)
                took(v.id());
            return;
        }
        if (kind == 3) {
            CHECK(many.size() == n, "recv_many returned %zu, appended %zu", n, many.size());
            CHECK(n <= limit, "recv_many over its limit");
            CHECK((n == 0) == !has_value, "recv_many returned %zu, model has %zu", n,
                  model_.size());
            for (const value& v : many)
                took(v.id());
            // It takes what is there, up to the limit.
            CHECK(n == limit || model_.empty(), "recv_many stopped early");
            return;
        }
        if (has_value) {
            CHECK(id.has_value(), "receive: %s with values waiting", logbuf::to_string(*got));
            took(*id);
            return;
        }
        const errc want = closed_ ? errc::disconnected : kind == 1 ? errc::timeout : errc::empty;
        CHECK(*got == want, "receive: %s, model says %s", logbuf::to_string(*got),
              logbuf::to_string(want));
    }

    void step(input& in) {
        const std::uint8_t op = in.byte();
        switch (op % 10) {
            case 0:
            case 1:
            case 2:
            case 3:
                send(in);
                break;
            case 4:
            case 5:
            case 6:
                receive(in);
                break;
            case 7: {  // copy a sender into a free place, or drop one
                auto& from = senders_[in.byte() % senders_.size()];
                auto& to = senders_[in.byte() % senders_.size()];
                if (&from == &to) {
                    to.reset();
                    trace("drop sender\n");
                } else if (from) {
                    if (op & 0x80) {
                        to.emplace(std::move(*from));  // move: the count stays
                        from.reset();
                        trace("move sender\n");
                    } else if (to) {
                        *to = *from;  // copy-assign: drops the old, adds one
                        trace("copy-assign sender\n");
                    } else {
                        to.emplace(*from);
                        trace("copy sender\n");
                    }
                }
                refresh_closed();
                break;
            }
            case 8:
                if (receiver_) {
                    receiver_->close();
                    closed_ = true;
                    trace("close\n");
                }
                break;
            case 9:
                if (op & 0x80) {
                    drop_receiver();
                } else if (op & 0x40) {
                    send_while_writing(in);
                } else {
                    held_.slots[in.byte() % held_.slots.size()].reset();
                }
                break;
        }
    }

    std::size_t bound_;
    std::array<std::optional<object::sender<value>>, 3> senders_;
    std::optional<object::receiver<value>> receiver_;
    std::deque<std::uint64_t> model_;
    std::size_t in_flight_ = 0;  // sent and not yet received (bounded: permits taken)
    held_values held_;
    bool closed_ = false;
    std::uint64_t next_id_ = 1;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    fuzz_support::read_environment();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input in(data, size);
    const std::uint8_t config = in.byte();
    const std::uint8_t parameter = in.byte();
    lives = life_registry{};
    switch (config % 3) {
        case 0: {
            const std::size_t spare = parameter % 4;
            trace("---- block_list spare %zu\n", spare);
            list_harness h(spare);
            h.run(in);
            break;
        }
        case 1: {
            const std::size_t bound = 1 + parameter % 70;
            trace("---- object channel bound %zu\n", bound);
            channel_harness h(bound);
            h.run(in);
            break;
        }
        case 2: {
            trace("---- object channel unbounded\n");
            channel_harness h(0);
            h.run(in);
            break;
        }
    }
    CHECK(lives.live.empty(), "%zu values leaked", lives.live.size());
    return 0;
}
