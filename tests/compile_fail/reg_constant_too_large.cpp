// expect-error: constant does not fit its field
#include "reg_maps.hpp"
int main() { cf::reg::bind<cf::map>(cf::memory, 0x40).write(cf::ctrl::enable::val<2>); }
