// expect-error: use of deleted function|call to deleted|deleted function
// A view of a temporary region would dangle as soon as the statement ends.
#include <mmapx/anonymous.hpp>
#include <mmapx/typed.hpp>
int main() {
  auto v = mmapx::view<int>(mmapx::map_anonymous(4096));
  (void)v;
}
