// Placeholder: implemented by the mediator work.
#include "mediator/vgpu.hpp"
