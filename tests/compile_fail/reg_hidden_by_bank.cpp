// expect-error: the register is hidden by the selected bank
#include "reg_maps.hpp"
int main() {
  const auto latch = cf::reg::bind<cf::uart::map>(cf::memory, 8).bank<cf::uart::divisor_latch>();
  return latch.read<cf::uart::ier>();
}
