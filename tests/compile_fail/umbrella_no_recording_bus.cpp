// expect-error: recorder. is not a member of .mmapx::reg.|no (type|member) named 'recorder' in namespace 'mmapx::reg'
// The umbrella mmapx.hpp (and reg.hpp) leave out the test double
// mmapx/reg/recording_bus.hpp: tests include it on purpose, by name.
// umbrella_control.cpp is the control.
#include <mmapx/mmapx.hpp>

int main() {
  mmapx::reg::recorder rec;
  return rec.reads() == 0 ? 0 : 1;
}
