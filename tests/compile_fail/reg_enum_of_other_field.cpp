// expect-error: enumerator of another type than the field.s enumeration
#include "reg_maps.hpp"
int main() { cf::reg::bind<cf::map>(cf::memory, 0x40).modify(cf::ctrl::rate::val<mmapx::edu::dma_direction::device_to_ram>); }
