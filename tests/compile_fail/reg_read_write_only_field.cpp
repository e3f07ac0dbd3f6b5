// expect-error: the field is write-only: it cannot be read
#include "reg_maps.hpp"
int main() { return cf::reg::bind<cf::shapes>(cf::memory, 0x100).read<cf::cmd::go>() ? 1 : 0; }
