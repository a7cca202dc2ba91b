#include "mediator/trap.hpp"

namespace xengt::mediator {

const char* to_string(TrapResult r) {
    switch (r) {
        case TrapResult::Handled:
            return "handled";
        case TrapResult::Unclaimed:
            return "unclaimed";
        case TrapResult::Rejected:
            return "rejected";
    }
    return "?";
}

}  // namespace xengt::mediator
