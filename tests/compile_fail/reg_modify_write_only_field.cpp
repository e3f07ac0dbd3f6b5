// expect-error: modify would reset a write-only field it does not name
// fcr is write-only: a read-modify-write cannot know enable or trigger (use a reg::shadow).
#include "reg_maps.hpp"
int main() { cf::reg::bind<cf::uart::map>(cf::memory, 8).modify(cf::uart::fcr::trigger::val<cf::uart::rx_trigger::four>); }
