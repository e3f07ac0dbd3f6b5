// expect-error: the bus contract allows no access of a register.s width
#include "reg_maps.hpp"
using a = cf::reg::reg16<"a", 0x0, cf::reg::rw, 0>;
using bad_map = cf::reg::map<"m", 8, cf::reg::contract{cf::reg::w32}, a>;
int main() { return static_cast<int>(cf::reg::bind<bad_map>(cf::memory, 0x100).read<a>()); }
