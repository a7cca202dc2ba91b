// The physical engines as the scheduler drives them: start a shadow context,
// learn which ones finished or failed, save and restore engine registers,
// reset an engine. Implemented over the GPU port's registers (gpu/
// execlist_engines.hpp); tests use a fake that runs nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "mediator/exec/engines.hpp"

namespace xengt::mediator::exec {

// What became of one started context.
struct EngineEvent {
    enum class Kind : uint8_t { Completed, Failed };
    Kind kind = Kind::Completed;
    uint32_t ctx_id = 0;
};

class EnginePort {
public:
    virtual ~EnginePort() = default;

    // Contexts one submission may carry (Gen9 execlists: two elements).
    virtual unsigned depth() const = 0;
    // Starts `descriptors` (1..depth(); each valid, LRCA in host GM, context
    // ID in bits 63:32) as one execlist on engine `e`, which has reported
    // everything it was given before. They run in order.
    virtual void start(Engine e, std::span<const uint64_t> descriptors) = 0;
    // What the engine reported since the last call, oldest first, into `out`
    // (at most out.size(); the rest stays for the next call). Returns the
    // count. A Failed event means the engine stopped on the context it was
    // running; it stays stopped until reset().
    virtual size_t collect(Engine e, std::span<EngineEvent> out) = 0;
    // Stops and resets engine `e`: every context it held is gone, unreported.
    virtual void reset(Engine e) = 0;
    // Engine register access, for the per-vGPU register context.
    virtual uint32_t read(uint32_t offset) = 0;
    virtual void write(uint32_t offset, uint32_t value) = 0;
    // Called, from any thread, whenever the engines may have something to report.
    virtual void set_notify(std::function<void()> notify) = 0;
};

}  // namespace xengt::mediator::exec
