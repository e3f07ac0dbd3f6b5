// mmapx/anonymous.hpp - anonymous memory: private scratch space, or shared
// with the children this process forks.
//
//   auto scratch = mmapx::map_anonymous(1 << 20);
//   auto shared  = mmapx::map_anonymous(4096, {.shared = true});
#pragma once

#include "region.hpp"

namespace mmapx {

/// Options of map_anonymous.
struct anonymous_options {
  bool shared = false;  ///< MAP_SHARED: forked children see the same pages
  /// Mapping options; explicit huge pages come from the hugetlb pool.
  map_options map{};
};

/// Maps `size` bytes of zero-filled memory backed by no file.
template <access A = access::read_write>
region<A> map_anonymous(std::size_t size, const anonymous_options& opts = {}) {
  return detail::throwing([&](detail::failure& f) {
    return detail::map_anonymous_range<A>(size, opts.shared, opts.map, f);
  });
}
/// noexcept form of the call above: a failure is stored in `ec` (cleared on success), not thrown.
template <access A = access::read_write>
region<A> map_anonymous(std::size_t size, const anonymous_options& opts, std::error_code& ec) noexcept {
  return detail::reporting(ec, [&](detail::failure& f) {
    return detail::map_anonymous_range<A>(size, opts.shared, opts.map, f);
  });
}

}  // namespace mmapx
