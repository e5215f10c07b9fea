#pragma once

#include <cstdio>
#include <cstdlib>

// An invariant of the code under test. A violation aborts, which libFuzzer reports as a crash and
// saves the input; the message says which invariant it was.
#define LIGER_FUZZ_CHECK(condition)                                                          \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)
