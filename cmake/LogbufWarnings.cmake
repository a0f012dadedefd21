# Warnings every logbuf target (library, tests, benchmarks, examples) is built with.
# CI turns them into errors with LOGBUF_WARNINGS_AS_ERRORS=ON.
add_library(logbuf_warnings INTERFACE)
target_compile_options(logbuf_warnings INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual)
if(LOGBUF_WARNINGS_AS_ERRORS)
    target_compile_options(logbuf_warnings INTERFACE -Werror)
endif()
