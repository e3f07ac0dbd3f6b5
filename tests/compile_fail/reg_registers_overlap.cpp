// expect-error: two registers overlap
#include "reg_maps.hpp"
using a = cf::reg::reg64<"a", 0x0, cf::reg::rw, 0>;
using b = cf::reg::reg32<"b", 0x4, cf::reg::rw, 0>;
using bad_map = cf::reg::map<"m", 8, cf::reg::contract{}, a, b>;
int main() { return static_cast<int>(cf::reg::bind<bad_map>(cf::memory, 0x100).read<b>()); }
