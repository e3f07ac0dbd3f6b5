// mmapx/version.hpp - the library's semantic version (kept equal to meson.build's).
#pragma once

/// Raised for incompatible API changes (while it is 0, a minor release may
/// break the API too).
#define MMAPX_VERSION_MAJOR 0
/// Raised when features are added.
#define MMAPX_VERSION_MINOR 1
/// Raised for fixes that change no interface.
#define MMAPX_VERSION_PATCH 0
/// "MAJOR.MINOR.PATCH" as a string literal, e.g. for a --version message.
#define MMAPX_VERSION_STRING "0.1.0"

namespace mmapx {
/// The same version as constexpr values, for code that prefers them to macros.
/// @{
inline constexpr int version_major = MMAPX_VERSION_MAJOR;
inline constexpr int version_minor = MMAPX_VERSION_MINOR;
inline constexpr int version_patch = MMAPX_VERSION_PATCH;
inline constexpr const char* version_string = MMAPX_VERSION_STRING;
/// @}
}  // namespace mmapx
