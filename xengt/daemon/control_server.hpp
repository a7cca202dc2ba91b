// The daemon's control socket: accepts connections on the daemon's control
// event loop and answers each request line (control_protocol.hpp) with what
// its handler returns. Everything runs on that loop, so the handler may use
// loop-owned state (the display owner) without locks.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace xengt::daemon {

class ControlServer {
public:
    // The reply to one request: its lines without the terminating empty
    // line; the first is "ok" or "error: ...".
    using Handler = std::function<std::string(std::string_view request)>;

    // Binds `path` and starts accepting on `io` (call before the loop runs,
    // or from it). The socket file is made mode 0600; its directory is
    // created (mode 0700) if missing. A socket file nobody answers on is a
    // leftover and is replaced; one a live daemon answers on is not. Throws
    // std::system_error naming the path and the step that failed.
    ControlServer(boost::asio::io_context& io, std::string path, Handler handler);
    // Stops accepting, closes every connection and removes the socket file.
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    const std::string& path() const { return path_; }

private:
    struct Connection;
    void accept();

    std::string path_;
    std::shared_ptr<Handler> handler_;  // shared with connections still in flight
    boost::asio::local::stream_protocol::acceptor acceptor_;
    std::vector<std::weak_ptr<Connection>> connections_;  // to close them on the way out
};

}  // namespace xengt::daemon
