// harness/optimize.hpp - keeping the optimiser honest in a benchmark loop, and
// the polite spin-wait hint.
//
//   do_not_optimize(x)  the compiler must assume x is read (and may be changed),
//                       so the computation of x is not deleted or hoisted.
//   clobber_memory()    the compiler must assume all memory is read and written
//                       here, so stores before it really happen.
//   cpu_relax()         one spin-wait hint (x86 `pause`, AArch64 `yield`).
#pragma once

#include <type_traits>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace bench {

// A value that fits a register is handed to the asm in one ("r"): it must
// be computed, and afterwards it may have been changed. Anything larger is
// handed by address ("m"). The "memory" clobber also forces earlier stores
// through the value's address to be done. (No multi-alternative constraints
// such as "+m,r": GCC 12 can pick an alternative that loses the value.)
template <class T>
inline void do_not_optimize(T& value) noexcept {
    if constexpr (std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(void*))
        asm volatile("" : "+r"(value) : : "memory");
    else
        asm volatile("" : "+m"(value) : : "memory");
}

template <class T>
inline void do_not_optimize(const T& value) noexcept {
    if constexpr (std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(void*))
        asm volatile("" : : "r"(value) : "memory");
    else
        asm volatile("" : : "m"(value) : "memory");
}

inline void clobber_memory() noexcept {
    asm volatile("" : : : "memory");
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

}  // namespace bench
