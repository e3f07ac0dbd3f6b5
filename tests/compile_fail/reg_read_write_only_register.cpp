// expect-error: the register is write-only: it cannot be read
#include "reg_maps.hpp"
int main() { return static_cast<int>(cf::reg::bind<mmapx::edu::map>(cf::memory, 0x100).read<mmapx::edu::irq_raise>()); }
