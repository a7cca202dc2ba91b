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
    // Dwords the scanner reads of one batch at most, and of all batches of
    // one scan together (every fetch and extension counts): a batch that
    // loops on itself stops at the budget.
    size_t max_batch_dwords = size_t{1} << 16;
    size_t batch_budget_dwords = size_t{1} << 20;
};

// Where a batch start was found and what it asks for.
struct BatchCall {
    uint64_t address = 0;  // the batch's graphics address (from the command)
    bool ppgtt = false;    // address space of the batch
    uint8_t level = 1;     // level of the new batch: 1 first-level, 2 second-level
    // Level of the buffer holding the MI_BATCH_BUFFER_START (0 = the ring section).
    uint8_t parent_level = 0;
    size_t parent_offset = 0;  // dword offset of that MI_BATCH_BUFFER_START in its buffer
    size_t max_dwords = 0;     // the most the scanner will read of this batch
};

// Where batches come from: host-owned copies (the shadows) handed out a
// piece at a time, so that a short batch costs a short copy.
class BatchSource {
public:
    virtual ~BatchSource() = default;
    // Starts the batch `call` describes: a host-owned copy of its first
    // dwords (at least one, at most call.max_dwords; a source typically copies
    // up to the end of the first page), or nullopt if it cannot be read.
    // A first-level batch started from a first-level batch (a chain) replaces
    // the level-1 batch. Spans returned stay valid until scan() returns.
    virtual std::optional<std::span<const uint32_t>> fetch(const BatchCall& call) = 0;
    // The scanner reached the end of what it was given for the batch at
    // `level` (1 or 2) with `have` dwords: a longer span with the same start
    // (more than `have` dwords, at most that batch's max_dwords), or nullopt
    // when nothing more can be read. The span may be a new copy elsewhere
    // (the scanner keeps offsets, not pointers) but its first `have` dwords
    // must be those already given.
    virtual std::optional<std::span<const uint32_t>> extend(uint8_t level, size_t have) = 0;
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
    BatchUnreadable,      // the batch source could not start the batch (fetch)
    BatchUnterminated,    // a batch ended (its max, or extend said no more) without
                          // MI_BATCH_BUFFER_END
    BudgetExceeded,       // batches took more than the policy's dword budget
};
const char* to_string(ScanReason r);

struct ScanError {
    ScanReason reason = ScanReason::None;
    uint8_t level = 0;            // 0 ring, 1 first-level, 2 second-level batch
    uint64_t buffer_address = 0;  // the batch's graphics address (0 for the ring)
    size_t offset = 0;            // dword offset of the command in its buffer
    uint32_t dword0 = 0;
    const char* command = "";      // the row's name, "" when there is none
    const char* detail = "";       // the row's reason for Rejected
    uint32_t register_offset = 0;  // RegisterNotAllowed: the first register refused
};

struct ScanCounts {
    uint64_t commands = 0;
    uint64_t dwords = 0;  // dwords of all scanned commands
    // Dwords the batch source returned (fetches and extensions), as far as
    // the budget and each batch's max let the scanner use them.
    uint64_t fetched = 0;
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
// start is BatchUnreadable. A batch's span is extended when the scanner
// reaches its end, or a command straddles it; a command is Truncated only
// when its batch cannot grow (extend says no more, or the batch is at its
// max: then BudgetExceeded if the budget set that max). The ring section is
// never extended.
ScanResult scan(std::span<const uint32_t> commands, const ScanPolicy& policy, BatchSource* batches);

}  // namespace xengt::mediator::cmd
