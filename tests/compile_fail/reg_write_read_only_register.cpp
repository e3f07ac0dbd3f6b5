// expect-error: the register is read-only: it cannot be written
#include "reg_maps.hpp"
int main() { cf::reg::bind<mmapx::edu::map>(cf::memory, 0x100).write<mmapx::edu::id>(1u); }
