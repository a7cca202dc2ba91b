// The vGPU's BAR0 register file: 2 MiB of virtual registers ("vregs"), with
// every access routed through the MMIO table.
//
// Guest accesses are 1, 2, 4 or 8 bytes, naturally aligned. The table works
// in dwords, so a qword is two dword accesses (low first) and a narrower
// access works on the dword containing it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "mediator/base/zeroed_array.hpp"

#include "mediator/display/display_timing.hpp"
#include "mediator/guest_log.hpp"
#include "mediator/mmio/mmio_context.hpp"
#include "mediator/pvinfo.hpp"
#include "mediator/trap.hpp"

namespace xengt::mediator::mmio {

class RegisterFile {
public:
    // Allocates the vregs and applies every table row's reset value.
    // `untracked` counts dword accesses that hit no table row; `events` (may
    // be null) is how handlers reach the owning vGPU.
    RegisterFile(GuestLog& log, uint64_t& untracked, VgpuEvents* events = nullptr);
    RegisterFile(const RegisterFile&) = delete;
    RegisterFile& operator=(const RegisterFile&) = delete;

    // `offset` is the byte offset into BAR0; anything outside the 2 MiB or
    // not naturally aligned is Rejected (reads all-ones).
    TrapRead read(uint32_t offset, AccessSize size);
    TrapResult write(uint32_t offset, AccessSize size, uint64_t value);

    // The stored dword containing `offset`, without side effects; all-ones
    // beyond the register file.
    uint32_t peek(uint32_t offset) const;

    // Every register back to its reset value: table rows to their init,
    // everything else to 0; the PVINFO page is blank (repopulate it) and the
    // guest no longer counts as PV-aware. g2v counts are kept (statistics).
    // No flip is pending and no plane armed any more (the platform's
    // flip-done bit is kept); the virtual monitor's link is untrained again
    // (whether it is plugged in is kept).
    void reset();

    // The dwords of [offset, offset + size) back to their reset values.
    // The range must lie inside the register file.
    void reset_range(uint32_t offset, uint32_t size);

    // The `n` registers the guest accessed most (reads and writes of each
    // dword, since the vGPU was created; resets keep them), most first:
    // what a guest driver polls. O(register file) per call: diagnostics only.
    struct HotRegister {
        uint32_t offset;
        uint32_t accesses;
    };
    std::vector<HotRegister> hottest(size_t n) const;

    // Host-side access for setting up emulated blocks (PVINFO).
    MmioContext& context() { return ctx_; }
    const MmioContext& context() const { return ctx_; }
    const PvInfoState& pvinfo() const { return pvinfo_; }
    display::DisplayState& display() { return display_; }
    const display::DisplayState& display() const { return display_; }

private:
    bool valid_access(uint32_t offset, AccessSize size, const char* what);
    void apply_row_defaults();
    uint32_t read_dword(uint32_t offset);
    TrapResult write_dword(uint32_t offset, uint32_t value, uint32_t byte_mask);

    ZeroedArray<uint32_t> vregs_;
    ZeroedArray<uint32_t> accesses_;  // per dword; pages commit as the guest touches them
    PvInfoState pvinfo_;
    display::DisplayState display_;
    GuestLog& log_;
    uint64_t& untracked_;
    MmioContext ctx_;
};

}  // namespace xengt::mediator::mmio
