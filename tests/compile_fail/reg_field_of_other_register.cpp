// expect-error: the field is not in this register
#include "reg_maps.hpp"
int main() { cf::reg::bind<cf::map>(cf::memory, 0x40).write<cf::ctrl>(cf::isr::mask::val<1>); }
