// expect-error: the register is banked: reach it through its bank scope
#include "reg_maps.hpp"
int main() { cf::reg::bind<cf::uart::map>(cf::memory, 8).write<cf::uart::dll>(12); }
