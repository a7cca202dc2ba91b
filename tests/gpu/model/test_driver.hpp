// The tests drive the model through the shared native driver.
#pragma once

#include "tools/gpu_driver/native_driver.hpp"

namespace xengt::gpu::model::test {
using namespace native;
}  // namespace xengt::gpu::model::test
