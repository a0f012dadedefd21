// Uses each layer through the installed headers only.
#include <logbuf/logbuf.hpp>

#include <cstdio>
#include <cstring>

int main() {
    auto [tx, rx] = logbuf::queue::mpsc::make(1024);
    auto claim = tx.try_claim(5);
    if (!claim) return 1;
    std::memcpy(claim.data(), "hello", 5);
    claim.commit();
    auto record = rx.try_claim();
    if (!record || record.size() != 5 || std::memcmp(record.data(), "hello", 5) != 0) return 2;
    std::puts("consumer: logbuf found and working");
    return 0;
}
