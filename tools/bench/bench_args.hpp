// Command line shared by the benchmarks: how many accesses per run, how many
// runs (the median is reported).
#pragma once

#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>

namespace xengt::bench {

struct BenchArgs {
    uint64_t iterations;
    unsigned runs;
};

// nullopt: --help was printed or the arguments were bad (exit_code says which).
inline std::optional<BenchArgs> parse_bench_args(int argc, char** argv, const char* name,
                                                 uint64_t default_iterations, int* exit_code) {
    namespace po = boost::program_options;
    po::options_description desc(std::string("Usage: ") + name + " [options]\nOptions");
    desc.add_options()("help,h", "show this help")(
        "iterations", po::value<uint64_t>()->default_value(default_iterations), "accesses per run")(
        "runs", po::value<unsigned>()->default_value(5), "runs per case (the median is reported)");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
    } catch (const po::error& e) {
        std::fprintf(stderr, "%s: %s\n", name, e.what());
        *exit_code = 2;
        return std::nullopt;
    }
    if (vm.count("help")) {
        std::ostringstream help;
        help << desc;
        std::printf("%s\n", help.str().c_str());
        *exit_code = 0;
        return std::nullopt;
    }
    return BenchArgs{std::max<uint64_t>(1, vm["iterations"].as<uint64_t>()),
                     std::max(1u, vm["runs"].as<unsigned>())};
}

}  // namespace xengt::bench
