// docs/expect.hpp - the one helper the guide pages' programs share: a claim
// the page makes that turns out false fails the 'docs' test suite. (The claim
// text identifies the spot: std::source_location is not available with
// clang 14 and libstdc++ 12.)
#pragma once

#include <cstdio>
#include <cstdlib>

inline void expect(bool ok, const char* claim) {
  if (!ok) {
    std::fprintf(stderr, "docs: not true: %s\n", claim);
    std::exit(1);
  }
}
