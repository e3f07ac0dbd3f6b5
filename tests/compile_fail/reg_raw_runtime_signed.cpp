// expect-error: constant expression
// A run-time value of a signed type is neither a constant nor unsigned: use checked() or truncated().
#include "reg_maps.hpp"
int main(int argc, char**) { cf::reg::bind<cf::uart::map>(cf::memory, 8).write<cf::uart::scr>(argc); }
