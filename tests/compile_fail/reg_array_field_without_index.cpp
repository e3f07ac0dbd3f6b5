// expect-error: the field is in no register of this map
// A field of an array's register names no element: say which (at<I>, or at(i)).
#include "reg_maps.hpp"
int main() { cf::reg::bind<cf::shapes>(cf::memory, 0x100).write(cf::rah_reg::valid::val<1>); }
