// tests/catch.hpp - includes Catch2 2.13 (Debian 12) or Catch2 3, whichever the build found.
#pragma once
#ifdef MMAPX_CATCH2_V3
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
