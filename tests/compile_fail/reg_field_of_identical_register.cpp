// expect-error: the field is not in this register
// dll and dlm declare `value` with the same text; each is its register's own.
#include "reg_maps.hpp"
int main() {
  const auto latch = cf::reg::bind<cf::uart::map>(cf::memory, 8).bank<cf::uart::divisor_latch>();
  latch.write<cf::uart::dlm>(cf::uart::dll::value::val<1>);
}
