// expect-error: modify would read a register whose reads have side effects
#include "reg_maps.hpp"
int main() { cf::reg::bind<cf::shapes>(cf::memory, 0x100).modify(cf::cmd::arg::val<1>, cf::cmd::go::val<0>); }
