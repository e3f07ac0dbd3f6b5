// expect-error: the array index is out of range
#include "reg_maps.hpp"
int main() { cf::reg::bind<cf::shapes>(cf::memory, 0x100).at<cf::queues, 3>().write<cf::tdt>(1u); }
