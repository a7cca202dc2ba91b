#include "gpu/port.hpp"

namespace xengt::gpu {

const char* to_string(Engine e) {
    switch (e) {
        case Engine::Render:
            return "rcs";
        case Engine::Blitter:
            return "bcs";
        case Engine::Video:
            return "vcs";
        case Engine::VideoEnhance:
            return "vecs";
    }
    return "?";
}

}  // namespace xengt::gpu
