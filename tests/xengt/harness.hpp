// Test harness: the shipping GuestSession serving a simulated guest on its own
// thread, exactly as the daemon runs it.
#pragma once

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <thread>

#include "tools/xensim/guest.hpp"
#include "tools/xensim/host.hpp"
#include "xengt/xen/guest_session.hpp"

namespace xengt::test {

class ServedGuest {
public:
    ServedGuest(sim::Host& host, sim::DomainConfig config, xen::SessionOptions options = {})
        : host_(host), domid_(host.create_domain(std::move(config))) {
        options.domid = domid_;
        session_ = std::make_unique<xen::GuestSession>(options);
    }
    ~ServedGuest() {
        stop();
        if (host_.status(domid_).state != sim::DomainState::Gone) {
            host_.destroy_domain(domid_);
        }
    }

    // Start serving on a thread, then let the guest run.
    void start() {
        serve();
        host_.unpause(domid_);
    }
    // (Re)start serving on a thread; after stop(), the test may use the
    // session from its own thread and then serve() again.
    void serve() {
        ended_promise_ = std::promise<void>();
        ended_ = ended_promise_.get_future();
        thread_ = std::thread([this] {
            reason_ = session_->run();
            ended_promise_.set_value();
        });
    }
    // Stop serving (the session stays attached) and join the thread.
    void stop() {
        if (thread_.joinable()) {
            session_->stop();
            thread_.join();
        }
    }
    // Wait (bounded) for the serving loop to end by itself, e.g. because the
    // domain died. nullopt if it is still serving after `limit`.
    std::optional<xen::GuestSession::EndReason> wait_end(
        std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        if (ended_.wait_for(limit) != std::future_status::ready) {
            return std::nullopt;
        }
        thread_.join();
        return reason_.load();
    }
    void detach() { session_.reset(); }

    uint16_t domid() const { return domid_; }
    xen::GuestSession& session() { return *session_; }

private:
    sim::Host& host_;
    uint16_t domid_;
    std::unique_ptr<xen::GuestSession> session_;
    std::thread thread_;
    std::promise<void> ended_promise_;
    std::future<void> ended_;
    std::atomic<xen::GuestSession::EndReason> reason_{xen::GuestSession::EndReason::Stopped};
};

}  // namespace xengt::test
