// expect-error: a field lies outside its register
#include "reg_maps.hpp"
using bad = cf::reg::reg8<"bad", 0, cf::reg::rw, 0, cf::reg::field<"wide", 4, 8>>;
using bad_map = cf::reg::map<"m", 4, cf::reg::contract{}, bad>;
int main() { return cf::reg::bind<bad_map>(cf::memory, 0x100).read<bad>(); }
