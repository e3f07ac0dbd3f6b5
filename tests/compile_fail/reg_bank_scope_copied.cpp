// expect-error: deleted
// A copy would restore the select register twice, or late.
#include "reg_maps.hpp"
int main() {
  const auto latch = cf::reg::bind<cf::uart::map>(cf::memory, 8).bank<cf::uart::divisor_latch>();
  auto copy = latch;
  copy.write<cf::uart::dll>(1);
}
