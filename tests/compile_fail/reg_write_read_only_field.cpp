// expect-error: the field is read-only: it cannot be written
#include "reg_maps.hpp"
int main() { cf::reg::bind<cf::map>(cf::memory, 0x40).modify(cf::ctrl::busy::val<1>); }
