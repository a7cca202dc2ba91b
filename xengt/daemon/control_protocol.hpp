// The control socket's protocol, shared by xengtd and xengt-ctl.
//
// A Unix stream socket (root only, mode 0600). A request is one line of
// words separated by spaces, at most kMaxRequestBytes. Each request is
// answered by one or more non-empty lines and then an empty line; the first
// line is "ok" or "error: <reason>", any further lines are the command's
// output. A client may send several requests on one connection; they are
// answered in order. Requests:
//
//   list                           every vGPU (domid, name, state, foreground
//                                  mark, display_ready, plane, counters) and
//                                  what the physical display shows
//   switch <domid>|none            make a vGPU foreground (or none), from the
//                                  next physical vblank on
//   capture <domid>|physical <path.png>
//                                  write a vGPU's plane, or the physical
//                                  plane, as PNG; the path must be absolute
//                                  (the daemon's working directory is not the
//                                  client's)
#pragma once

#include <cstddef>
#include <string_view>

namespace xengt::control {

inline constexpr std::string_view kDefaultSocket = "/run/xengt/xengtd.sock";
inline constexpr size_t kMaxRequestBytes = 4096;
inline constexpr std::string_view kOk = "ok";
inline constexpr std::string_view kErrorPrefix = "error: ";

}  // namespace xengt::control
