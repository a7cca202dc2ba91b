#include "xengt/daemon/control_server.hpp"

#include <sys/stat.h>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <filesystem>
#include <istream>
#include <system_error>
#include <utility>
#include <vector>

#include "mediator/base/log.hpp"
#include "xengt/daemon/control_protocol.hpp"

namespace xengt::daemon {
namespace {

using Protocol = boost::asio::local::stream_protocol;
namespace fs = std::filesystem;

constexpr const char* kSubject = "control";

[[noreturn]] void fail(int err, const std::string& path, const char* step) {
    throw std::system_error(err, std::generic_category(), "control socket " + path + ": " + step);
}

// A socket file is a leftover if nothing answers on it; a live daemon's is
// never taken over.
void clear_stale_socket(boost::asio::io_context& io, const std::string& path) {
    std::error_code ec;
    const fs::file_status st = fs::symlink_status(path, ec);
    if (ec || !fs::exists(st)) {
        return;
    }
    if (!fs::is_socket(st)) {
        fail(EEXIST, path, "exists and is not a socket");
    }
    Protocol::socket probe(io);
    boost::system::error_code connect_ec;
    probe.connect(Protocol::endpoint(path), connect_ec);
    if (!connect_ec) {
        fail(EADDRINUSE, path, "another xengtd answers there");
    }
    if (!fs::remove(path, ec) && ec) {
        fail(ec.value(), path, "remove the stale socket");
    }
    XENGT_LOG(LogLevel::Info, kSubject, "replaced stale socket %s", path.c_str());
}

void make_directory(const std::string& path) {
    const fs::path dir = fs::path(path).parent_path();
    if (dir.empty()) {
        return;
    }
    std::error_code ec;
    if (fs::exists(dir, ec)) {
        return;
    }
    if (!fs::create_directories(dir, ec) && ec) {
        fail(ec.value(), path, "create its directory");
    }
    // Only root may reach the socket; the directory says so too.
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
}

}  // namespace

struct ControlServer::Connection : std::enable_shared_from_this<Connection> {
    Connection(Protocol::socket s, std::shared_ptr<Handler> h)
        : socket(std::move(s)), handler(std::move(h)), input(control::kMaxRequestBytes + 1) {}

    void read() {
        boost::asio::async_read_until(
            socket, input, '\n',
            [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                self->on_line(ec);
            });
    }

    void on_line(const boost::system::error_code& ec) {
        if (ec == boost::asio::error::not_found) {
            // The line does not fit: answer once, then hang up (what follows
            // would be the rest of that line, not a request).
            reply = std::string(control::kErrorPrefix) + "request longer than " +
                    std::to_string(control::kMaxRequestBytes) + " bytes\n\n";
            boost::asio::async_write(
                socket, boost::asio::buffer(reply),
                [self = shared_from_this()](const boost::system::error_code&, size_t) {
                    boost::system::error_code ignored;
                    self->socket.close(ignored);
                });
            return;
        }
        if (ec) {
            return;  // the client went away (or the server is closing)
        }
        std::istream in(&input);
        std::string line;
        std::getline(in, line);
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        try {
            reply = (*handler)(line);
        } catch (const std::exception& e) {
            // One failed request must not take the control loop (and every
            // guest's teardown with it) down.
            XENGT_LOG(LogLevel::Error, kSubject, "request '%s' failed: %s", line.c_str(), e.what());
            reply = std::string(control::kErrorPrefix) + "internal error: " + e.what();
        }
        reply += "\n\n";
        boost::asio::async_write(
            socket, boost::asio::buffer(reply),
            [self = shared_from_this()](const boost::system::error_code& e, size_t) {
                if (!e) {
                    self->read();
                }
            });
    }

    Protocol::socket socket;
    std::shared_ptr<Handler> handler;
    boost::asio::streambuf input;
    std::string reply;
};

ControlServer::ControlServer(boost::asio::io_context& io, std::string path, Handler handler)
    : path_(std::move(path)),
      handler_(std::make_shared<Handler>(std::move(handler))),
      acceptor_(io) {
    make_directory(path_);
    clear_stale_socket(io, path_);
    boost::system::error_code ec;
    acceptor_.open(Protocol(), ec);
    if (!ec) {
        acceptor_.bind(Protocol::endpoint(path_), ec);
    }
    if (ec) {
        fail(ec.value(), path_, "bind");
    }
    // bind() created the file under the umask; narrow it before listening,
    // so no connection is accepted while it is wider.
    if (::chmod(path_.c_str(), S_IRUSR | S_IWUSR) != 0) {
        const int err = errno;
        std::error_code ignored;
        fs::remove(path_, ignored);
        fail(err, path_, "chmod 0600");
    }
    acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
    if (ec) {
        std::error_code ignored;
        fs::remove(path_, ignored);
        fail(ec.value(), path_, "listen");
    }
    XENGT_LOG(LogLevel::Info, kSubject, "listening on %s", path_.c_str());
    accept();
}

ControlServer::~ControlServer() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (const std::weak_ptr<Connection>& weak : connections_) {
        if (auto c = weak.lock()) {
            c->socket.close(ignored);
        }
    }
    std::error_code ec;
    fs::remove(path_, ec);
}

void ControlServer::accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, Protocol::socket s) {
        if (ec == boost::asio::error::operation_aborted) {
            return;  // closing
        }
        if (ec) {
            // E.g. out of file descriptors: retrying at once would spin. The
            // guests are served on regardless; only the socket is lost.
            XENGT_LOG(LogLevel::Error, kSubject, "accept on %s failed (%s): no longer listening",
                      path_.c_str(), ec.message().c_str());
            return;
        }
        auto c = std::make_shared<Connection>(std::move(s), handler_);
        std::erase_if(connections_, [](const auto& w) { return w.expired(); });
        connections_.push_back(c);
        c->read();
        accept();
    });
}

}  // namespace xengt::daemon
