// expect-error: a block array.s map must have the bus contract of the map that lists it
// A queue map that allows 64-bit accesses inside a device that takes only 32-bit ones.
#include "reg_maps.hpp"
using wide_queue = cf::reg::map<"wq", 0x10, cf::reg::contract{}, cf::tdh, cf::tdt>;
using bad_map = cf::reg::map<"m", 0x100, cf::reg::contract{cf::reg::w32}, cf::reg::block_array<wide_queue, 0x0, 2, 0x10>>;
int main() { return static_cast<int>(sizeof(cf::reg::bind<bad_map>(cf::memory, 0x100))); }
