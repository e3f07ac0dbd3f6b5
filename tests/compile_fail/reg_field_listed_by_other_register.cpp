// expect-error: a register lists a field declared in another register
#include "reg_maps.hpp"
struct c : cf::reg::reg32<"c", 0x0, cf::reg::rw, 0> {
  using fields = cf::reg::fields<cf::normal::value>;
};
using bad_map = cf::reg::map<"m", 4, cf::reg::contract{}, c>;
int main() { return static_cast<int>(cf::reg::bind<bad_map>(cf::memory, 0x100).read<c>()); }
