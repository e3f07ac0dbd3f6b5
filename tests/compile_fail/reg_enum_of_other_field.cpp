// expect-error: enumerator of another type than the field.s enumeration
#include "reg_maps.hpp"
int main() { cf::reg::bind<cf::map>(cf::memory, 16).modify(cf::ctrl::tint::val<cf::shape::square>); }
