// expect-success
// The core's refused uses, done right: this must compile.
#include <string>
#include <mmapx/anonymous.hpp>
#include <mmapx/file.hpp>
#include <mmapx/typed.hpp>
int main() {
  auto r = mmapx::map_file("/etc/hostname");
  const char first = *mmapx::view<char>(r);            // reading through a read-only view
  auto w = mmapx::map_anonymous(4096);
  *mmapx::view<char>(w) = first;                        // writing through a writable one
  mmapx::view_array<char>(w)[1] = 'x';
  w.data()[2] = std::byte{1};
  auto moved = std::move(w);                            // moving, not copying
  auto f = mmapx::map_file<mmapx::access::read_write>("/tmp/x", {.open = mmapx::open_mode::create, .size = 1});
  f.flush();                                            // flush where it means something
  return moved.size() == 4096 ? 0 : 1;
}
