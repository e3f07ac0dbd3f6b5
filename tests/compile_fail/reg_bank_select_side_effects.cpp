// expect-error: a bank.s select field must be in one register of the map
// The select register (it pops a FIFO when read) could not be restored.
#include "reg_maps.hpp"
struct sel : cf::reg::reg8<"sel", 0, cf::reg::rw, 0, cf::reg::reads_have_side_effects> {
  using page = field<"page", 0, 1>;
  using fields = cf::reg::fields<page>;
};
struct paged : cf::reg::reg8<"paged", 1, cf::reg::rw, 0> {};
using bad_map = cf::reg::map<"m", 2, cf::reg::contract{}, sel, cf::reg::bank<"p1", sel::page::val<1>, paged>>;
int main() { return cf::reg::bind<bad_map>(cf::memory, 2).read<sel>(); }
