// expect-error: the field is not in this register
#include "reg_maps.hpp"
int main() { cf::reg::bind<cf::map>(cf::memory, 16).write<cf::ctrl>(cf::fifo::data::val<1>); }
