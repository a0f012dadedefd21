# LOGBUF_SANITIZE=thread   -> ThreadSanitizer
# LOGBUF_SANITIZE=address  -> AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer)
# Applied to everything in the tree so that the library code is instrumented too.
if(LOGBUF_SANITIZE STREQUAL "thread")
    add_compile_options(-fsanitize=thread -g -O1)
    add_link_options(-fsanitize=thread)
    add_compile_definitions(LOGBUF_UNDER_TSAN=1)
elseif(LOGBUF_SANITIZE STREQUAL "address")
    add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                        -fno-omit-frame-pointer -g -O1)
    add_link_options(-fsanitize=address,undefined)
elseif(NOT LOGBUF_SANITIZE STREQUAL "")
    message(FATAL_ERROR "LOGBUF_SANITIZE must be '', 'thread' or 'address'")
endif()
