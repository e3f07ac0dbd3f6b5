// expect-error: modify would read a register whose reads have side effects
#include "reg_maps.hpp"
int main() { cf::reg::bind<cf::map>(cf::memory, 16).modify(cf::fifo::data::val<1>); }
