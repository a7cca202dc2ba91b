// A vCPU's view of the machine: instructions that touch RAM complete at once,
// everything else is emulated as Xen's hvmemul/hvm_io code would.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "tools/xensim/state.hpp"

namespace xengt::sim::detail {
namespace {

constexpr uint16_t kDebugConsolePort = 0xe9;  // XEN_HVM_DEBUGCONS_IOPORT
constexpr uint16_t kPciConfigAddressPort = 0xcf8;
constexpr size_t kConsoleLineMax = 199;  // DOMAIN_PBUF_SIZE - 1

uint64_t all_ones(unsigned size) {
    return size >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * size)) - 1;
}

void check_size(unsigned size, unsigned max) {
    if (size != 1 && size != 2 && size != 4 && !(size == 8 && max == 8)) {
        throw std::invalid_argument("xensim: access size " + std::to_string(size) +
                                    " is not valid here");
    }
}

ioreq_t make_req(uint8_t type, uint64_t addr, unsigned size, uint32_t count, bool read,
                 bool data_is_ptr, bool df, uint64_t data) {
    ioreq_t r{};
    r.type = type;
    r.addr = addr;
    r.size = size;
    r.count = count;
    r.dir = read ? IOREQ_READ : IOREQ_WRITE;
    r.data_is_ptr = data_is_ptr ? 1 : 0;
    r.df = df ? 1 : 0;
    r.data = data;
    return r;
}

// How many elements of a string op starting at `addr` stay in its page.
uint32_t elements_in_page(uint64_t addr, unsigned size, uint32_t remaining, bool df) {
    const uint64_t off = addr % kPageSize;
    uint64_t room;
    if (off + size > kPageSize) {
        room = 1;  // the element itself straddles; it goes alone
    } else {
        room = df ? off / size + 1 : (kPageSize - off) / size;
    }
    return static_cast<uint32_t>(std::max<uint64_t>(1, std::min<uint64_t>(remaining, room)));
}

uint64_t element(uint64_t base, uint64_t index, unsigned size, bool df) {
    return df ? base - index * size : base + index * size;
}

class GuestCpuImpl final : public GuestCpu {
public:
    GuestCpuImpl(State& s, Domain& d, Vcpu& v) : s_(s), d_(d), v_(v) {}

    uint16_t domid() const override { return d_.domid; }
    unsigned vcpu_id() const override { return v_.id; }

    uint32_t in(uint16_t port, unsigned size) override {
        check_size(size, 4);
        auto lock = enter();
        return static_cast<uint32_t>(
            emulate(lock, make_req(IOREQ_TYPE_PIO, port, size, 1, true, false, false, 0)) &
            all_ones(size));
    }

    void out(uint16_t port, unsigned size, uint32_t value) override {
        check_size(size, 4);
        auto lock = enter();
        value &= static_cast<uint32_t>(all_ones(size));
        if (port == kPciConfigAddressPort && size == 4) {
            d_.cf8 = value;  // hvm_access_cf8 latches, then lets the access go on
        }
        if (port == kDebugConsolePort && size == 1) {
            console_byte(static_cast<char>(value));  // hvm_print_line; never routed
            return;
        }
        emulate(lock, make_req(IOREQ_TYPE_PIO, port, size, 1, false, false, false, value));
    }

    uint64_t read(uint64_t gpa, unsigned size) override {
        check_size(size, 8);
        auto lock = enter();
        if (gpa_is_ram(d_, gpa, size)) {
            uint64_t v = 0;
            copy_from_guest(d_, gpa, reinterpret_cast<std::byte*>(&v), size);
            return v;
        }
        return emulate(lock, make_req(IOREQ_TYPE_COPY, gpa, size, 1, true, false, false, 0)) &
               all_ones(size);
    }

    void write(uint64_t gpa, unsigned size, uint64_t value) override {
        check_size(size, 8);
        auto lock = enter();
        value &= all_ones(size);
        if (gpa_is_ram(d_, gpa, size)) {
            guest_store(s_, lock, d_, v_, gpa, reinterpret_cast<const std::byte*>(&value), size);
            return;
        }
        emulate(lock, make_req(IOREQ_TYPE_COPY, gpa, size, 1, false, false, false, value));
    }

    void rep_movs_from_mmio(uint64_t ram_gpa, uint64_t mmio_gpa, unsigned size, uint32_t count,
                            bool df) override {
        rep_movs(false, mmio_gpa, ram_gpa, size, count, df);
    }

    void rep_movs_to_mmio(uint64_t mmio_gpa, uint64_t ram_gpa, unsigned size, uint32_t count,
                          bool df) override {
        rep_movs(true, mmio_gpa, ram_gpa, size, count, df);
    }

    void rep_ins(uint64_t ram_gpa, uint16_t port, unsigned size, uint32_t count) override {
        rep_pio(true, port, ram_gpa, size, count);
    }

    void rep_outs(uint16_t port, uint64_t ram_gpa, unsigned size, uint32_t count) override {
        rep_pio(false, port, ram_gpa, size, count);
    }

    void rep_stos_mmio(uint64_t mmio_gpa, unsigned size, uint32_t count, uint64_t value) override {
        check_size(size, 8);
        auto lock = enter();
        value &= all_ones(size);
        for (uint32_t done = 0; done < count;) {
            const uint64_t dev = element(mmio_gpa, done, size, false);
            const uint32_t n = elements_in_page(dev, size, count - done, false);
            if (gpa_is_ram(d_, dev, uint64_t{n} * size)) {
                for (uint32_t i = 0; i < n; ++i) {
                    guest_store(s_, lock, d_, v_, dev + uint64_t{i} * size,
                                reinterpret_cast<const std::byte*>(&value), size);
                }
            } else {
                emulate(lock, make_req(IOREQ_TYPE_COPY, dev, size, n, false, false, false, value));
            }
            done += n;
        }
    }

    uint64_t send_raw(const RawIoreq& raw) override {
        auto lock = enter();
        for (auto it = d_.servers.rbegin(); it != d_.servers.rend(); ++it) {
            if (it->second->enabled) {
                return ioreq_send_wait(s_, lock, d_, v_, it->first,
                                       make_req(raw.type, raw.addr, raw.size, raw.count,
                                                raw.dir_read, raw.data_is_ptr, raw.df, raw.data));
            }
        }
        throw std::runtime_error("xensim: domain " + std::to_string(d_.domid) +
                                 " has no enabled ioreq server for send_raw");
    }

    void ram_read(uint64_t gpa, std::span<std::byte> out) override {
        auto lock = enter();
        check_ram(gpa, out.size());
        copy_from_guest(d_, gpa, out.data(), out.size());
    }

    void ram_write(uint64_t gpa, std::span<const std::byte> in) override {
        auto lock = enter();
        check_ram(gpa, in.size());
        guest_store(s_, lock, d_, v_, gpa, in.data(), in.size());
    }

    void release_ram_page(uint64_t gfn) override {
        auto lock = enter();
        if (gfn >= d_.p2m.size() && !p2m_frame(d_, gfn)) {
            throw std::out_of_range("xensim: gfn " + std::to_string(gfn) + " is not guest RAM");
        }
        // The frame goes back to the pool once dom0 no longer maps it.
        if (!p2m_release(s_, d_, gfn)) {
            return;  // nothing given back, nothing to invalidate
        }
        // Every enabled server must drop its mappings before the guest goes
        // on (ioreq_signal_mapcache_invalidate, sent synchronously).
        std::vector<uint16_t> ids;
        for (auto it = d_.servers.rbegin(); it != d_.servers.rend(); ++it) {
            ids.push_back(it->first);
        }
        for (uint16_t id : ids) {
            auto it = d_.servers.find(id);
            if (it != d_.servers.end() && it->second->enabled) {
                ioreq_send_wait(
                    s_, lock, d_, v_, id,
                    make_req(IOREQ_TYPE_INVALIDATE, 0, 4, 1, false, false, false, ~uint64_t{0}));
            }
        }
    }

private:
    std::unique_lock<std::mutex> enter() {
        std::unique_lock lock(s_.mu);
        if (!d_.alive()) {
            throw_guest_died(d_);
        }
        return lock;
    }

    // Boot RAM and anything populated since; holes throw.
    void check_ram(uint64_t gpa, uint64_t len) const {
        if (len != 0 && !gpa_is_ram(d_, gpa, len)) {
            throw std::out_of_range("xensim: [" + std::to_string(gpa) + ", +" +
                                    std::to_string(len) + ") is outside guest RAM");
        }
    }

    // The RAM side of a string op must be RAM all along (hvmemul_acquire_page).
    void check_buffer(uint64_t ram, unsigned size, uint32_t count, bool df) const {
        const uint64_t span = uint64_t{count} * size;
        const uint64_t low = df ? ram - (span - size) : ram;
        if ((df && ram < span - size) || !gpa_is_ram(d_, low, span)) {
            throw std::out_of_range("xensim: string-op buffer is not guest RAM");
        }
    }

    // Route an access: to the selected server, else Xen's null handler.
    uint64_t emulate(std::unique_lock<std::mutex>& lock, ioreq_t req) {
        if (IoreqServer* srv = ioreq_select(d_, req)) {
            return ioreq_send_wait(s_, lock, d_, v_, srv->id, req);
        }
        if (req.dir != IOREQ_READ) {
            return 0;  // writes nobody claims are dropped
        }
        if (req.data_is_ptr) {
            const uint64_t ones = ~uint64_t{0};
            for (uint32_t i = 0; i < req.count; ++i) {
                guest_store(s_, lock, d_, v_, element(req.data, i, req.size, req.df),
                            reinterpret_cast<const std::byte*>(&ones), req.size);
            }
        }
        return ~uint64_t{0};
    }

    void rep_movs(bool to_device, uint64_t mmio, uint64_t ram, unsigned size, uint32_t count,
                  bool df) {
        check_size(size, 8);
        auto lock = enter();
        if (count == 0) {
            return;
        }
        check_buffer(ram, size, count, df);
        for (uint32_t done = 0; done < count;) {
            const uint64_t dev = element(mmio, done, size, df);
            const uint64_t buf = element(ram, done, size, df);
            // Split only the device side; the RAM buffer may cross pages.
            const uint32_t n = elements_in_page(dev, size, count - done, df);
            const uint64_t dev_low = df ? dev - uint64_t{n - 1} * size : dev;
            if (gpa_is_ram(d_, dev_low, uint64_t{n} * size)) {
                for (uint32_t i = 0; i < n; ++i) {  // RAM to RAM: a plain copy
                    uint64_t v = 0;
                    const uint64_t from = element(to_device ? buf : dev, i, size, df);
                    const uint64_t to = element(to_device ? dev : buf, i, size, df);
                    copy_from_guest(d_, from, reinterpret_cast<std::byte*>(&v), size);
                    guest_store(s_, lock, d_, v_, to, reinterpret_cast<const std::byte*>(&v), size);
                }
            } else {
                emulate(lock, make_req(IOREQ_TYPE_COPY, dev, size, n, !to_device, true, df, buf));
            }
            done += n;
        }
    }

    void rep_pio(bool read, uint16_t port, uint64_t ram, unsigned size, uint32_t count) {
        check_size(size, 4);
        auto lock = enter();
        if (count == 0) {
            return;
        }
        check_buffer(ram, size, count, false);
        if (!read && port == kDebugConsolePort && size == 1) {
            for (uint32_t i = 0; i < count; ++i) {
                std::byte c{};
                copy_from_guest(d_, ram + i, &c, 1);
                console_byte(static_cast<char>(c));
            }
            return;
        }
        emulate(lock, make_req(IOREQ_TYPE_PIO, port, size, count, read, true, false, ram));
    }

    void console_byte(char c) {
        const auto u = static_cast<unsigned char>(c);
        if (!std::isprint(u) && c != '\n' && c != '\t') {
            return;  // Xen drops what it cannot print
        }
        if (c != '\n') {
            d_.console_partial.push_back(c);
        }
        if (c == '\n' || d_.console_partial.size() == kConsoleLineMax) {
            d_.console.push_back(std::move(d_.console_partial));
            d_.console_partial.clear();
            s_.changed();
        }
    }

    State& s_;
    Domain& d_;
    Vcpu& v_;
};

}  // namespace

void run_vcpu(std::shared_ptr<State> s, Domain& d, Vcpu& v) {
    std::string failure;
    try {
        GuestCpuImpl cpu(*s, d, v);
        v.program(cpu);
    } catch (const GuestDied&) {
        // the domain died under the program; that is how it is meant to end
    } catch (const std::exception& e) {
        failure = e.what();
    } catch (...) {
        failure = "unknown exception";
    }
    std::lock_guard lock(s->mu);
    if (!failure.empty()) {
        crash_domain(*s, d, "vCPU " + std::to_string(v.id) + " program threw: " + failure);
    }
    v.finished = true;
    s->changed();
}

}  // namespace xengt::sim::detail
