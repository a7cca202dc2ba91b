#include "tests/xensim/responder.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace xensim_test {
namespace {

constexpr size_t kFlagsByte = 30;
constexpr uint8_t kStateMask = 0x0f;
constexpr uint64_t kPage = 4096;

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

uint8_t slot_state(const ioreq_t* slot) {
    return __atomic_load_n(reinterpret_cast<const uint8_t*>(slot) + kFlagsByte, __ATOMIC_ACQUIRE) &
           kStateMask;
}

void set_slot_state(ioreq_t* slot, uint8_t state) {
    auto* flags = reinterpret_cast<uint8_t*>(slot) + kFlagsByte;
    const uint8_t others = __atomic_load_n(flags, __ATOMIC_RELAXED) & ~kStateMask;
    __atomic_store_n(flags, static_cast<uint8_t>(others | state), __ATOMIC_RELEASE);
}

Responder::Responder(uint16_t domid, Config config) : domid_(domid), config_(std::move(config)) {
    dm_ = xendevicemodel_open(nullptr, 0);
    fmem_ = xenforeignmemory_open(nullptr, 0);
    xce_ = xenevtchn_open(nullptr, 0);
    if (dm_ == nullptr || fmem_ == nullptr || xce_ == nullptr) {
        fail("open handles");
    }
    unsigned vcpus = 0;
    if (xendevicemodel_nr_vcpus(dm_, domid_, &vcpus) != 0) {
        fail("nr_vcpus");
    }
    if (xendevicemodel_create_ioreq_server(dm_, domid_, config_.bufioreq, &id_) != 0) {
        fail("create_ioreq_server");
    }
    res_ = xenforeignmemory_map_resource(fmem_, domid_, XENMEM_resource_ioreq_server, id_,
                                         XENMEM_resource_ioreq_server_frame_ioreq(0), 1, &page_,
                                         PROT_READ | PROT_WRITE, 0);
    if (res_ == nullptr) {
        fail("map_resource");
    }
    if (config_.enable) {
        if (xendevicemodel_set_ioreq_server_state(dm_, domid_, id_, 1) != 0) {
            fail("enable");
        }
        for (unsigned v = 0; v < vcpus; ++v) {
            int local = xenevtchn_bind_interdomain(xce_, domid_, slot(v)->vp_eport);
            if (local < 0) {
                fail("bind vCPU port");
            }
            local_ports_.push_back(static_cast<evtchn_port_t>(local));
        }
    }
    if (pipe2(stop_pipe_, O_CLOEXEC) != 0) {
        fail("pipe");
    }
    thread_ = std::thread([this] { loop(); });
}

Responder::~Responder() {
    stop();
    // Teardown in reverse; a dead domain makes some of these fail, which is fine.
    for (evtchn_port_t p : local_ports_) {
        xenevtchn_unbind(xce_, p);
    }
    xendevicemodel_set_ioreq_server_state(dm_, domid_, id_, 0);
    unmap_page();
    xendevicemodel_destroy_ioreq_server(dm_, domid_, id_);
    xenevtchn_close(xce_);
    xenforeignmemory_close(fmem_);
    xendevicemodel_close(dm_);
    close(stop_pipe_[0]);
    close(stop_pipe_[1]);
}

void Responder::claim_pio(uint64_t first, uint64_t last) {
    if (xendevicemodel_map_io_range_to_ioreq_server(dm_, domid_, id_, 0, first, last) != 0) {
        fail("map pio range");
    }
}

void Responder::claim_mmio(uint64_t first, uint64_t last) {
    if (xendevicemodel_map_io_range_to_ioreq_server(dm_, domid_, id_, 1, first, last) != 0) {
        fail("map mmio range");
    }
}

void Responder::claim_pci(uint8_t bus, uint8_t device, uint8_t function) {
    if (xendevicemodel_map_pcidev_to_ioreq_server(dm_, domid_, id_, 0, bus, device, function) !=
        0) {
        fail("map pcidev");
    }
}

void Responder::write_guest(uint64_t gpa, const void* data, size_t len) {
    const auto* in = static_cast<const std::byte*>(data);
    while (len > 0) {
        xen_pfn_t gfn = gpa / kPage;
        void* va = xenforeignmemory_map(fmem_, domid_, PROT_READ | PROT_WRITE, 1, &gfn, nullptr);
        if (va == nullptr) {
            fail("map guest page");
        }
        const size_t n = std::min<size_t>(len, kPage - gpa % kPage);
        std::memcpy(static_cast<std::byte*>(va) + gpa % kPage, in, n);
        xenforeignmemory_unmap(fmem_, va, 1);
        in += n;
        gpa += n;
        len -= n;
    }
}

void Responder::read_guest(uint64_t gpa, void* out, size_t len) {
    auto* to = static_cast<std::byte*>(out);
    while (len > 0) {
        xen_pfn_t gfn = gpa / kPage;
        void* va = xenforeignmemory_map(fmem_, domid_, PROT_READ, 1, &gfn, nullptr);
        if (va == nullptr) {
            fail("map guest page");
        }
        const size_t n = std::min<size_t>(len, kPage - gpa % kPage);
        std::memcpy(to, static_cast<std::byte*>(va) + gpa % kPage, n);
        xenforeignmemory_unmap(fmem_, va, 1);
        to += n;
        gpa += n;
        len -= n;
    }
}

std::vector<Served> Responder::served() const {
    std::lock_guard lock(mu_);
    return served_;
}

std::string Responder::error() const {
    std::lock_guard lock(mu_);
    return error_;
}

void Responder::unmap_page() {
    if (res_ != nullptr) {
        xenforeignmemory_unmap_resource(fmem_, res_);
        res_ = nullptr;
    }
}

void Responder::stop() {
    if (thread_.joinable()) {
        const char byte = 0;
        [[maybe_unused]] ssize_t n = write(stop_pipe_[1], &byte, 1);
        thread_.join();
    }
}

void Responder::note_error(const std::string& what) {
    std::lock_guard lock(mu_);
    if (error_.empty()) {
        error_ = what + ": " + std::strerror(errno);
    }
}

void Responder::loop() {
    for (;;) {
        pollfd fds[2] = {{xenevtchn_fd(xce_), POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            note_error("poll");
            return;
        }
        if (fds[1].revents != 0) {
            return;
        }
        const int port = xenevtchn_pending(xce_);
        if (port < 0) {
            note_error("pending");
            return;
        }
        // Unmask first: the slot state, not the event, says what to do.
        xenevtchn_unmask(xce_, static_cast<evtchn_port_t>(port));
        auto it =
            std::find(local_ports_.begin(), local_ports_.end(), static_cast<evtchn_port_t>(port));
        if (it == local_ports_.end()) {
            continue;
        }
        const auto vcpu = static_cast<unsigned>(it - local_ports_.begin());
        ioreq_t* s = slot(vcpu);
        if (slot_state(s) != STATE_IOREQ_READY) {
            continue;  // e.g. the event every bind raises
        }
        if (config_.misbehave) {
            if (config_.misbehave(*s)) {
                xenevtchn_notify(xce_, static_cast<evtchn_port_t>(port));
            }
            continue;
        }
        ioreq_t req;
        std::memcpy(&req, s, sizeof req);
        set_slot_state(s, STATE_IOREQ_INPROCESS);
        uint64_t data = 0;
        try {
            data = config_.handler ? config_.handler(req) : 0;
        } catch (const std::exception& e) {
            note_error(std::string("handler threw ") + e.what());
        }
        if (req.dir == IOREQ_READ && !req.data_is_ptr) {
            __atomic_store_n(&s->data, data, __ATOMIC_RELAXED);
        }
        {
            std::lock_guard lock(mu_);
            served_.push_back(Served{req, vcpu});
        }
        set_slot_state(s, STATE_IORESP_READY);
        if (xenevtchn_notify(xce_, static_cast<evtchn_port_t>(port)) != 0) {
            note_error("notify");
        }
    }
}

}  // namespace xensim_test
