// expect-error: a raw register value must be an unsigned integer no wider than the register
#include "reg_maps.hpp"
int main() { cf::reg::bind<cf::map>(cf::memory, 0x40).write<cf::tx>(std::uint16_t{1}); }
