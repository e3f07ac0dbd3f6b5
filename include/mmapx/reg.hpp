// mmapx/reg.hpp - typed device registers: layout fixed at compile time, base
// chosen at run time, accesses exactly as cheap as hand-written volatile code.
//
// Declare registers and fields (reg/field.hpp, reg/register.hpp), list them
// in a map with its bus contract (reg/map.hpp), bind the map to memory
// (reg/block.hpp) and access registers by type, or by name at run time
// (reg/names.hpp). reg/recording_bus.hpp stands in for hardware in tests:
// a test double, so it is included on purpose, by name, and not from here.
#pragma once

#include <mmapx/reg/block.hpp>
#include <mmapx/reg/bus.hpp>
#include <mmapx/reg/field.hpp>
#include <mmapx/reg/fixed_name.hpp>
#include <mmapx/reg/map.hpp>
#include <mmapx/reg/names.hpp>
#include <mmapx/reg/register.hpp>
