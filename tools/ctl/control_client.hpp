// A client of xengtd's control socket (xengt/daemon/control_protocol.hpp),
// shared by xengt-ctl and the tests that drive the daemon through it.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/streambuf.hpp>

namespace xengt::control {

// A failure to talk to the daemon at all, said for the user: the daemon is
// not running, the socket is root's, the daemon hung up or did not answer.
struct ControlError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Reply {
    bool ok = false;
    std::string error;               // the reason, when !ok
    std::vector<std::string> lines;  // the command's output, after the status line
};

class ControlClient {
public:
    // Connects to `path`; throws ControlError. `timeout` bounds each reply.
    explicit ControlClient(const std::string& path,
                           std::chrono::seconds timeout = std::chrono::seconds(30));

    // Sends one request line (no newline in it) and reads its reply.
    // Throws ControlError if the daemon hangs up or does not answer in time,
    // std::invalid_argument for a request with a newline.
    Reply request(std::string_view line);

private:
    std::string path_;
    boost::asio::io_context io_;
    boost::asio::local::stream_protocol::socket socket_;
    boost::asio::streambuf input_;
};

}  // namespace xengt::control
