// expect-error: constant_does_not_fit_the_register
#include "reg_maps.hpp"
int main() { cf::reg::bind<cf::uart::map>(cf::memory, 8).write<cf::uart::scr>(0x1ff); }
