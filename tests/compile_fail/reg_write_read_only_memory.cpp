// expect-error: the block is bound to read-only memory: it cannot be written
#include "reg_maps.hpp"
#include <span>
int main() {
  auto dev = cf::reg::bind<cf::map>(std::span<const std::byte>(cf::memory));
  dev.write(cf::ctrl::enable::val<1>);
}
