// PNG files of captured planes (libpng): 8-bit RGB, no alpha.
#pragma once

#include <optional>
#include <string>

#include "gpu/port.hpp"

namespace xengt::gpu {

// Writes `capture` (XRGB8888; X ignored) as an 8-bit RGB PNG. On failure
// returns false, sets *error (if given) and leaves no complete file behind
// (a partial file is removed).
bool write_png(const PlaneCapture& capture, const std::string& path, std::string* error = nullptr);

// Reads any PNG libpng can decode, converted to 8-bit RGB, as XRGB8888 pixels
// with X = 0xFF. nullopt (and *error, if given) on failure.
std::optional<PlaneCapture> read_png(const std::string& path, std::string* error = nullptr);

}  // namespace xengt::gpu
