#include "tools/ctl/control_client.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <istream>

#include "xengt/daemon/control_protocol.hpp"

namespace xengt::control {
namespace {

using Protocol = boost::asio::local::stream_protocol;

std::string connect_failure(const std::string& path, const boost::system::error_code& ec) {
    switch (ec.value()) {
        case ENOENT:
            return "xengtd is not running (no control socket at " + path + ")";
        case ECONNREFUSED:
            return "xengtd is not running (nothing answers on " + path + ")";
        case EACCES:
        case EPERM:
            return "permission denied on " + path + ": the control socket is root's (run as root)";
        default:
            return "cannot connect to xengtd at " + path + ": " + ec.message();
    }
}

}  // namespace

ControlClient::ControlClient(const std::string& path, std::chrono::seconds timeout)
    : path_(path), socket_(io_) {
    boost::system::error_code ec;
    socket_.connect(Protocol::endpoint(path), ec);
    if (ec) {
        throw ControlError(connect_failure(path, ec));
    }
    // Blocking reads with a bound: a wedged daemon must not hang the tool.
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count());
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

Reply ControlClient::request(std::string_view line) {
    if (line.find('\n') != std::string_view::npos) {
        throw std::invalid_argument("a control request is one line");
    }
    std::string out(line);
    out += '\n';
    boost::system::error_code ec;
    boost::asio::write(socket_, boost::asio::buffer(out), ec);
    if (ec) {
        throw ControlError("xengtd at " + path_ + " hung up: " + ec.message());
    }
    // A reply ends with an empty line; the lines before it are never empty.
    boost::asio::read_until(socket_, input_, "\n\n", ec);
    if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again ||
        ec == boost::asio::error::timed_out) {
        throw ControlError("xengtd at " + path_ + " did not answer in time");
    }
    if (ec) {
        throw ControlError("xengtd at " + path_ + " hung up: " + ec.message());
    }
    std::istream in(&input_);
    Reply reply;
    std::string first;
    std::getline(in, first);
    if (first == kOk) {
        reply.ok = true;
    } else if (first.starts_with(kErrorPrefix)) {
        reply.error = first.substr(kErrorPrefix.size());
    } else {
        throw ControlError("xengtd at " + path_ + " answered '" + first +
                           "', which is not this protocol");
    }
    for (std::string l; std::getline(in, l) && !l.empty();) {
        reply.lines.push_back(l);
    }
    return reply;
}

}  // namespace xengt::control
