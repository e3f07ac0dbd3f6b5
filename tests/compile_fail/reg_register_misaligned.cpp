// expect-error: a register is not aligned to its width
#include "reg_maps.hpp"
using bad = cf::reg::reg32<"bad", 0x2, cf::reg::rw, 0>;
using bad_map = cf::reg::map<"m", 8, cf::reg::contract{}, bad>;
int main() { return static_cast<int>(cf::reg::bind<bad_map>(cf::memory, 0x100).read<bad>()); }
