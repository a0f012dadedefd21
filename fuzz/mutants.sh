#!/usr/bin/env bash
# fuzz/mutants.sh [seconds] - shows that the fuzzers can fail. Each mutant is
# one known mistake applied (with sed) to a private copy of the headers; the
# fuzzer built against that copy must report a MISMATCH or a sanitizer error
# within `seconds` (default 60) of fuzzing from the seed corpus.
#
# Not run in CI (it builds one fuzzer per mutant, a few minutes in all); run
# it after changing a fuzzer or the code it checks. A mutant whose sed
# pattern no longer matches the code is reported as STALE: update it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
cxx=${CXX:-clang++-14}
work=$(mktemp -d "${TMPDIR:-/tmp}/logbuf-mutants.XXXXXX")
trap 'rm -rf "$work"' EXIT

# name | fuzzer | file | sed expression
mutants=(
    "wrap: no padding-alone rule|ring|queue/include/logbuf/queue/details/claim_space.hpp|s|take = padding;  // the wrap rule|return write_claim(errc::full); //|"
    "wrap: padding test off by one|ring|queue/include/logbuf/queue/details/claim_space.hpp|s|need <= to_end ? 0 : to_end|need < to_end ? 0 : to_end|"
    "has_room: strict compare|ring|queue/include/logbuf/queue/details/ring.hpp|s|return position + n <= cached_head + capacity_;|return position + n < cached_head + capacity_;|"
    "consume: payload not zeroed|ring|queue/include/logbuf/queue/details/reader.hpp|s|std::memset(payload_of(record), 0, padded_length(len));|(void)0;|"
    "skip: header not cleared|ring|queue/include/logbuf/queue/details/reader.hpp|/clearing its/,/skip_length(h)/ s|header_of(record).store(uncommitted, std::memory_order_relaxed);|(void)0;|"
    "abort: payload not zeroed|ring|queue/include/logbuf/queue/claims.hpp|s|std::memset(details::payload_of(record_), 0, details::padded_length(size_));|(void)0;|"
    "try_claim: no publish when empty|ring|queue/include/logbuf/queue/consumer.hpp|s|r.publish();  // skip regions|// skip regions|"
    "turn: padding alone clears the turn|ring|queue/include/logbuf/queue/details/claim_space.hpp|s|(HoldsTurn \&\& !record_too ? turn_bit : 0)|(0)|"
    "turn: giving up keeps the turn|ring|queue/include/logbuf/queue/details/claim_space.hpp|s|if (held) tail.drop_turn();|(void)held;|"
    "read claims: the walk keeps skip headers|ring|queue/include/logbuf/queue/details/reader.hpp|/a record still held/,/released_ +=/ s|header_of(record).store(uncommitted, std::memory_order_relaxed);|(void)0;|"
    "read claims: no lap check|ring|queue/include/logbuf/queue/details/reader.hpp|s|if (next_ - released_ == ring_.capacity()) \[\[unlikely\]\]|if (false)|"
    "drain: no quarter-ring publish|ring|queue/include/logbuf/queue/details/reader.hpp|s|if (end >= publish_at) \[\[unlikely\]\] {|if (false) {|"
    "block_list: popped value not destroyed|object|queue/include/logbuf/queue/block_list.hpp|s|value->~T();|(void)value;|"
    "discard: arrived values not destroyed|object|queue/include/logbuf/queue/block_list.hpp|s|} while (status == pop_status::value);|} while (false);|"
    "discard: writer ignores the hand-over|object|queue/include/logbuf/queue/block_list.hpp|s|if (b->publish(offset)) \[\[unlikely\]\]|if (b->publish(offset) \&\& false)|"
    "bounded: permit not returned|object|channel/include/logbuf/channel/object.hpp|s|        state_->return_permits(1);|        (void)0;|"
    "untrusted header: a record may end past the buffer|shared|queue/include/logbuf/queue/details/reader.hpp|s|return h <= room - header_size;|return h <= room;|"
)

caught=0
failed=0
for entry in "${mutants[@]}"; do
    # The sed expression itself contains '|': split on the first three only.
    name=${entry%%|*}; rest=${entry#*|}
    fuzzer=${rest%%|*}; rest=${rest#*|}
    file=${rest%%|*}; expr=${rest#*|}
    dir=$work/m$((caught + failed))
    mkdir -p "$dir/corpus"
    cp -r "$root/include" "$root/queue" "$root/channel" "$dir/"
    cp "$dir/$file" "$dir/orig"
    sed -i "$expr" "$dir/$file"
    if cmp -s "$dir/$file" "$dir/orig"; then
        echo "STALE   $name: pattern not found in $file"
        failed=$((failed + 1))
        continue
    fi
    extra=()
    [[ $fuzzer == object ]] && extra=("$root/channel/futex.cpp" "$root/channel/parker.cpp")
    if ! "$cxx" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -UNDEBUG -I"$dir/include" -I"$dir/queue/include" -I"$dir/channel/include" \
        "$root/fuzz/${fuzzer}_fuzzer.cpp" "${extra[@]}" -o "$dir/fuzzer" >"$dir/build.log" 2>&1; then
        echo "BUILD   $name: the mutant does not compile"
        tail -5 "$dir/build.log"
        failed=$((failed + 1))
        continue
    fi
    (cd "$dir" && ./fuzzer -max_total_time="$secs" corpus "$root/fuzz/corpus/$fuzzer" \
        >fuzz.log 2>&1) || true
    if grep -qE "MISMATCH|ERROR: AddressSanitizer|runtime error|ERROR: LeakSanitizer" "$dir/fuzz.log"; then
        echo "caught  $name: $(grep -m1 -oE "MISMATCH.*|ERROR: [A-Za-z]+Sanitizer: [a-z-]+|runtime error.*" \
            "$dir/fuzz.log" | cut -c1-90)"
        caught=$((caught + 1))
    else
        echo "MISSED  $name: not caught in ${secs}s"
        failed=$((failed + 1))
    fi
done
echo "mutants: $caught caught, $failed missed/stale/broken"
((failed == 0))
