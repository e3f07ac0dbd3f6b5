// tests/compile_fail/reg_maps.hpp - the register maps the reg tests share
// (tests/unit/reg_test_maps.hpp) and the device maps, under one short
// namespace; each case then commits exactly one mistake.
#pragma once

#include "../unit/reg_test_maps.hpp"

#include <mmapx/devices/edu.hpp>
#include <mmapx/devices/uart16550.hpp>

namespace cf {
using namespace regtest;
namespace uart = mmapx::uart16550;
}  // namespace cf
