// A tiny ioreq server for the simulator's tests: the same C calls a device
// model makes, serviced on a helper thread with the correct state machine.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tools/xensim/xen_headers.hpp"

namespace xensim_test {

uint8_t slot_state(const ioreq_t* slot);
void set_slot_state(ioreq_t* slot, uint8_t state);  // keeps dir/df/data_is_ptr

struct Served {
    ioreq_t req;
    unsigned vcpu;
};

class Responder {
public:
    // Answers one request; the result is the data of a non-pointer read.
    using Handler = std::function<uint64_t(const ioreq_t&)>;
    // Replaces the state machine for a READY slot (protocol-violation tests);
    // returns whether to notify Xen afterwards.
    using Misbehave = std::function<bool(ioreq_t& slot)>;

    struct Config {
        int bufioreq = HVM_IOREQSRV_BUFIOREQ_OFF;
        Handler handler;
        Misbehave misbehave;
        bool enable = true;
    };

    Responder(uint16_t domid, Config config);
    ~Responder();
    Responder(const Responder&) = delete;
    Responder& operator=(const Responder&) = delete;

    ioservid_t id() const { return id_; }
    uint16_t domid() const { return domid_; }
    xendevicemodel_handle* dm() const { return dm_; }
    ioreq_t* slot(unsigned vcpu) const { return reinterpret_cast<ioreq_t*>(page_) + vcpu; }

    void claim_pio(uint64_t first, uint64_t last);
    void claim_mmio(uint64_t first, uint64_t last);
    void claim_pci(uint8_t bus, uint8_t device, uint8_t function);

    // Guest RAM through foreign mappings, as a device model reaches it.
    void write_guest(uint64_t gpa, const void* data, size_t len);
    void read_guest(uint64_t gpa, void* out, size_t len);

    std::vector<Served> served() const;
    std::string error() const;  // first failure seen on the service thread
    void unmap_page();          // drop the ioreq page mapping early
    void stop();                // join the service thread

private:
    void loop();
    void note_error(const std::string& what);

    uint16_t domid_;
    Config config_;
    xendevicemodel_handle* dm_ = nullptr;
    xenforeignmemory_handle* fmem_ = nullptr;
    xenevtchn_handle* xce_ = nullptr;
    xenforeignmemory_resource_handle* res_ = nullptr;
    void* page_ = nullptr;
    ioservid_t id_ = 0;
    std::vector<evtchn_port_t> local_ports_;
    int stop_pipe_[2] = {-1, -1};
    std::thread thread_;
    mutable std::mutex mu_;
    std::vector<Served> served_;
    std::string error_;
};

}  // namespace xensim_test
