// expect-error: the register is the write-only side of an alias
#include "reg_maps.hpp"
int main() { return cf::reg::bind<cf::uart::map>(cf::memory, 8).read<cf::uart::thr>(); }
