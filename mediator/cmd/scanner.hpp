// The guest command scanner (intel-gpu.md §5.5, gvtg.md §3.5): walks a
// guest's ring section and the batches it starts, with every dword treated
// as hostile, and decides whether the workload may reach the GPU. Commands
// come from the descriptor table (command_table.hpp), registers from the
// allow-list (register_allowlist.hpp). Rewriting (user interrupts, store
// index forms, flips) is later work: the scanner only counts what needs it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "mediator/cmd/command_table.hpp"

namespace xengt::mediator::cmd {

// A guest's slice of graphics memory, [base, base + size).
struct GmRange {
    uint64_t base = 0;
    uint64_t size = 0;
};

struct ScanPolicy {
    Engine engine = Engine::Render;
    // The guest's mappable (aperture) and hidden GM ranges: GGTT addresses
    // in commands must fall inside one of them for the whole access.
    std::array<GmRange, 2> gm{};
    // Dwords one batch fetch may return, and all fetches of one scan
    // together: a batch that loops on itself stops at the budget.
    size_t max_batch_dwords = size_t{1} << 16;
    size_t batch_budget_dwords = size_t{1} << 20;
};

// Where batches come from: a host-owned copy (the shadow) of up to
// `max_dwords` of the batch at `address`, or nullopt when it cannot be read.
// A returned span must stay valid until scan() returns.
class BatchSource {
public:
    virtual ~BatchSource() = default;
    virtual std::optional<std::span<const uint32_t>> fetch(uint64_t address, bool ppgtt,
                                                           size_t max_dwords) = 0;
};

enum class ScanReason : uint8_t {
    None,
    UnknownCommand,       // §5.1: no row for the opcode
    WrongEngine,          // the command does not run on this engine
    BadLength,            // a length the command's layout does not allow
    Truncated,            // the command runs past the end of its buffer
    Rejected,             // never from a guest (the row says why)
    ForbiddenFlag,        // a flag the scanner does not allow (e.g. BB_START add-offset)
    AddressOutOfRange,    // a GGTT access outside the guest's GM ranges
    RegisterNotAllowed,   // a register not on the allow-list for that command
    SecondLevelFromRing,  // §5.5: a 2nd-level batch started straight from the ring
    NestedBatch,          // §5.5: a 2nd-level batch starting another batch
    BatchEndInRing,       // MI_BATCH_BUFFER_END outside any batch
    BatchUnreadable,      // the batch source could not provide the batch
    BatchUnterminated,    // a batch ran out without MI_BATCH_BUFFER_END
    BudgetExceeded,       // batches took more than the policy's dword budget
};
const char* to_string(ScanReason r);

struct ScanError {
    ScanReason reason = ScanReason::None;
    uint8_t level = 0;            // 0 ring, 1 first-level, 2 second-level batch
    uint64_t buffer_address = 0;  // the batch's graphics address (0 for the ring)
    size_t offset = 0;            // dword offset of the command in its buffer
    uint32_t dword0 = 0;
    const char* command = "";  // the row's name, "" when there is none
    const char* detail = "";   // the row's reason for Rejected
};

struct ScanCounts {
    uint64_t commands = 0;
    uint64_t dwords = 0;   // dwords of all scanned commands
    uint64_t fetched = 0;  // dwords the batch source returned
    uint32_t batches = 0;
    uint32_t user_interrupts = 0;    // MI_USER_INTERRUPT (to become virtual events)
    uint32_t notifies = 0;           // PIPE_CONTROL / MI_FLUSH_DW notify
    uint32_t ggtt_accesses = 0;      // audited GGTT address fields
    uint32_t ppgtt_accesses = 0;     // PPGTT address fields (confined by the shadow PPGTT)
    uint32_t hwsp_index_stores = 0;  // store-index forms (offsets into the HWSP)
    uint32_t register_loads = 0;     // allowed register fields
    uint32_t ppgtt_root_loads = 0;   // LRIs of RING_PDPn the shadow PPGTT must follow
};

struct ScanResult {
    ScanError error;
    ScanCounts counts;
    bool ok() const { return error.reason == ScanReason::None; }
};

// Scans a ring section (in the GGTT, §4.2) and every batch it starts.
// O(dwords scanned), no allocation. `batches` may be null: then any batch
// start is BatchUnreadable.
ScanResult scan(std::span<const uint32_t> commands, const ScanPolicy& policy, BatchSource* batches);

}  // namespace xengt::mediator::cmd
