// xengt-ctl: talk to xengtd over its control socket.
//
//   xengt-ctl list                           vGPUs and the physical display
//   xengt-ctl switch DOMID|none              choose the foreground vGPU
//   xengt-ctl capture DOMID|physical FILE    a plane as PNG
//
// Exit status: 0 done, 1 the daemon refused or could not be reached (the
// reason on stderr), 2 usage error.
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "tools/ctl/control_client.hpp"
#include "xengt/daemon/control_protocol.hpp"

namespace po = boost::program_options;

namespace {

constexpr const char* kUsage =
    "Usage: xengt-ctl [options] COMMAND [ARGS]\n"
    "Talk to xengtd, the XenGT vGPU daemon, over its control socket (as root).\n\n"
    "Commands:\n"
    "  list                             every vGPU: domid, name, state, foreground mark (*),\n"
    "                                   display_ready, plane size and format, frame and\n"
    "                                   flip counters; then what the physical display shows\n"
    "  stats DOMID                      what the guest made its vGPU do so far: trapped\n"
    "                                   config, MMIO, GGTT and port accesses, MSIs\n"
    "  switch DOMID|none                show DOMID's plane on the physical display from its\n"
    "                                   next vblank (once the guest has set display_ready)\n"
    "  capture DOMID|physical FILE.png  write a vGPU's plane (foreground or not), or the\n"
    "                                   physical plane, as a PNG file\n\n"
    "Options";

int usage_error(const std::string& what) {
    std::fprintf(stderr, "xengt-ctl: %s\n(try --help)\n", what.c_str());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    po::options_description desc(kUsage);
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("socket,s",
         po::value<std::string>()->default_value(std::string(xengt::control::kDefaultSocket)),
         "xengtd's control socket")
        ("timeout", po::value<unsigned>()->default_value(30),
         "seconds to wait for xengtd's answer");
    // clang-format on
    po::options_description hidden;
    hidden.add_options()("words", po::value<std::vector<std::string>>(), "command and arguments");
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description positional;
    positional.add("words", -1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(),
                  vm);
        po::notify(vm);
    } catch (const po::error& e) {
        return usage_error(e.what());
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    std::vector<std::string> words;
    if (vm.count("words")) {
        words = vm["words"].as<std::vector<std::string>>();
    }
    if (words.empty()) {
        return usage_error("a command is required: list, stats, switch or capture");
    }
    const std::string& command = words[0];
    std::string request;
    if (command == "list" && words.size() == 1) {
        request = "list";
    } else if (command == "stats" && words.size() == 2) {
        request = "stats " + words[1];
    } else if (command == "switch" && words.size() == 2) {
        request = "switch " + words[1];
    } else if (command == "capture" && words.size() == 3) {
        // The daemon writes the file and has its own working directory.
        const std::string path = std::filesystem::absolute(words[2]).lexically_normal().string();
        if (path.find('\n') != std::string::npos) {
            return usage_error("the capture file name must not contain a newline");
        }
        request = "capture " + words[1] + " " + path;
    } else if (command == "list" || command == "stats" || command == "switch" ||
               command == "capture") {
        return usage_error("wrong arguments for '" + command + "'");
    } else {
        return usage_error("unknown command '" + command + "' (list, stats, switch or capture)");
    }
    try {
        xengt::control::ControlClient client(vm["socket"].as<std::string>(),
                                             std::chrono::seconds(vm["timeout"].as<unsigned>()));
        const xengt::control::Reply reply = client.request(request);
        if (!reply.ok) {
            std::fprintf(stderr, "xengt-ctl: %s\n", reply.error.c_str());
            return 1;
        }
        for (const std::string& line : reply.lines) {
            std::printf("%s\n", line.c_str());
        }
        return 0;
    } catch (const xengt::control::ControlError& e) {
        std::fprintf(stderr, "xengt-ctl: %s\n", e.what());
        return 1;
    }
}
