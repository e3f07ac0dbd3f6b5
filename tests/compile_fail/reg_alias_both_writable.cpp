// expect-error: two registers overlap
// Registers may share an offset only as a read-only/write-only pair (or in different banks).
#include "reg_maps.hpp"
using a = cf::reg::reg32<"a", 0x0, cf::reg::rw, 0>;
using b = cf::reg::reg32<"b", 0x0, cf::reg::wo, 0>;
using bad_map = cf::reg::map<"m", 8, cf::reg::contract{}, a, b>;
int main() { cf::reg::bind<bad_map>(cf::memory, 0x100).write<b>(1u); }
