// The one Catch2 2.x translation unit that defines main(); Catch2 3 ships its own.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
