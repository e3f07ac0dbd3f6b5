// expect-error: the field is declared with reg::field in several registers
// One reg::field type listed by two registers would fit both: it is refused.
#include "reg_maps.hpp"
using value = cf::reg::field<"value", 0, 8>;
using a = cf::reg::reg8<"a", 0, cf::reg::rw, 0, value>;
using b = cf::reg::reg8<"b", 1, cf::reg::rw, 0, value>;
using two = cf::reg::map<"two", 2, cf::reg::contract{}, a, b>;
int main() { cf::reg::bind<two>(cf::memory, 2).write<b>(value::val<1>); }
