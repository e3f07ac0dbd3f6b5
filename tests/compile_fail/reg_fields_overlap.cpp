// expect-error: two fields of a register overlap
#include "reg_maps.hpp"
using bad = cf::reg::reg32<"bad", 0, cf::reg::rw, 0, cf::reg::field<"a", 0, 4>, cf::reg::field<"b", 3, 2>>;
using bad_map = cf::reg::map<"m", 4, cf::reg::contract{}, bad>;
int main() { return static_cast<int>(cf::reg::bind<bad_map>(cf::memory, 0x100).read<bad>()); }
