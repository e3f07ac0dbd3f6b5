// expect-error: the field is write-only: it cannot be read
#include "reg_maps.hpp"
int main() { return cf::reg::bind<cf::map>(cf::memory, 16).read<cf::ctrl::kick>() ? 1 : 0; }
