// expect-error: a register lies outside its block
#include "reg_maps.hpp"
using a = cf::reg::reg32<"a", 0x8, cf::reg::rw, 0>;
using bad_map = cf::reg::map<"m", 8, cf::reg::contract{}, a>;
int main() { return static_cast<int>(cf::reg::bind<bad_map>(cf::memory, 0x100).read<a>()); }
