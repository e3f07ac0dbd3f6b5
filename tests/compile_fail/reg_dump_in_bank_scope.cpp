// expect-error: name-driven calls are made on the block, not in a bank scope
// Inside the divisor latch, offset 0 is dll: a dump would label it rbr.
#include "reg_maps.hpp"
int main() {
  const auto latch = cf::reg::bind<cf::uart::map>(cf::memory, 8).bank<cf::uart::divisor_latch>();
  return static_cast<int>(latch.dump().size());
}
