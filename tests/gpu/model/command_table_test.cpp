// The command-descriptor table: every row can be executed and found.
#include <catch2/catch.hpp>

#include "gpu/model/engine.hpp"

namespace xengt::gpu::model {
namespace {

TEST_CASE("Every command descriptor has a handler and is found by its own header",
          "[gpu][model][commands]") {
    REQUIRE_FALSE(command_table().empty());
    for (const CmdDesc& d : command_table()) {
        INFO(d.name);
        CHECK(d.handler != nullptr);
        CHECK(find_command(d.header) == &d);
    }
}

}  // namespace
}  // namespace xengt::gpu::model
