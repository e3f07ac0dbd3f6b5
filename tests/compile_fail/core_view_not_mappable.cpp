// expect-error: requires +mappable<T>|does not satisfy 'mappable'
// A std::string owns heap memory: its bytes mean nothing in a mapping.
#include <string>
#include <mmapx/anonymous.hpp>
#include <mmapx/typed.hpp>
int main() {
  auto r = mmapx::map_anonymous(4096);
  auto v = mmapx::view<std::string>(r);
  (void)v;
}
