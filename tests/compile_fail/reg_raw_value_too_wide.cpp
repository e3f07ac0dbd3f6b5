// expect-error: a raw register value must be an unsigned integer no wider than the register
#include "reg_maps.hpp"
int main() { cf::reg::bind<cf::map>(cf::memory, 16).write<cf::ctrl>(std::uint64_t{1}); }
