// expect-error: the register is the read-only side of an alias
#include "reg_maps.hpp"
int main() { cf::reg::bind<cf::uart::map>(cf::memory, 8).write<cf::uart::rbr>(0x41); }
