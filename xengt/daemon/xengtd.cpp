// xengtd: the dom0 GPU mediator daemon.
//
// Until the full service (xenstore-driven attach) exists, it is pointed at
// existing, normally paused, domains:
//   xl create -p guest.cfg && xengtd --domid N & xl unpause N
// It attaches a vGPU at the given PCI address to each, serves each until it
// dies (tearing that guest's vGPU down and going on with the others), and
// exits 0 once all are gone or on SIGTERM/SIGINT. xengt-ctl talks to it over
// its control socket (list, switch the foreground vGPU, capture planes).
#include <unistd.h>
#include <boost/program_options.hpp>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <system_error>
#include <vector>

#include "mediator/base/log.hpp"
#include "xengt/daemon/control_protocol.hpp"
#include "xengt/daemon/daemon.hpp"
#include "xengt/daemon/real_gpu.hpp"

namespace po = boost::program_options;

namespace {

std::optional<xengt::LogLevel> parse_level(const std::string& s) {
    if (s == "error")
        return xengt::LogLevel::Error;
    if (s == "warn")
        return xengt::LogLevel::Warn;
    if (s == "info")
        return xengt::LogLevel::Info;
    if (s == "debug")
        return xengt::LogLevel::Debug;
    return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
    po::options_description desc(
        "Usage: xengtd --domid N [--domid M ...] [options]\n"
        "Serve a virtual Intel GPU to Xen HVM guests until they die or SIGTERM.\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("version", "show the version")
        ("domid", po::value<std::vector<unsigned>>(),
         "guest domain to attach to (required; repeat for several guests)")
        ("bdf", po::value<std::string>()->default_value("00:02.0"),
         "PCI address of the vGPU in the guest ([SSSS:]BB:DD.F, hex)")
        ("log-level", po::value<std::string>()->default_value("info"),
         "error, warn, info or debug")
        ("control-socket",
         po::value<std::string>()->default_value(std::string(xengt::control::kDefaultSocket)),
         "Unix socket xengt-ctl talks to (created mode 0600: root only); '' for none")
        ("vgt_low_gm_sz", po::value<unsigned>()->default_value(64),
         "MiB of CPU-mappable (aperture) graphics memory per guest, as in xl.cfg")
        ("vgt_high_gm_sz", po::value<unsigned>()->default_value(448),
         "MiB of hidden graphics memory per guest, as in xl.cfg")
        ("vgt_fence_sz", po::value<unsigned>()->default_value(4),
         "fence registers per guest, as in xl.cfg")
        ("vgt_primary", po::value<unsigned>()->default_value(1),
         "1: the vGPU is each guest's primary display (PCI class VGA, 0x030000); "
         "0: secondary (class 'other display', 0x038000), so the guest's firmware "
         "keeps its emulated VGA as boot display while i915 still binds. Legacy "
         "VGA itself is not emulated either way")
        ("vgt_display", po::value<unsigned>()->default_value(0),
         "0: headless vGPUs, their display pipes fused off; 1: each vGPU has a "
         "virtual DisplayPort monitor (port D, 1024x768 EDID), as GVT-g gives a "
         "Skylake vGPU (not yet usable by a Linux guest: see README)")
        ("vgt_cap", po::value<unsigned>()->default_value(0),
         "most of each engine's time each guest may use, percent (0 = no cap, "
         "1-100), over 100 ms periods; a capped guest waits even when the engine "
         "is otherwise idle")
        ("vgt_weight", po::value<unsigned>()->default_value(1),
         "each guest's share of an engine relative to other guests with work for it "
         "(1-100)")
        ("host_low_gm_sz", po::value<unsigned>()->default_value(128),
         "MiB of mappable graphics memory dom0 keeps for itself")
        ("host_high_gm_sz", po::value<unsigned>()->default_value(384),
         "MiB of hidden graphics memory dom0 keeps for itself")
        ("host_fence_sz", po::value<unsigned>()->default_value(4),
         "fence registers dom0 keeps for itself")
        ("gpu", po::value<std::string>()->default_value("model"),
         "the GPU the vGPUs share: 'model' (the software Gen9 model) or the PCI "
         "address of the host's Intel GPU (SSSS:BB:DD.F), which needs the xengt-mfn "
         "kernel module; serving guests on it is not implemented yet (see README)")
        ("ggtt", po::value<std::string>()->default_value("ram"),
         "how guests' GGTT writes reach xengtd: 'ram' backs the GGTT half of BAR0 "
         "with guest memory and applies changes when the guest flushes (falls back "
         "to 'trap' where Xen refuses), 'trap' traps every entry write");
    // clang-format on
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::fprintf(stderr, "xengtd: %s\n(try --help)\n", e.what());
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    if (vm.count("version")) {
        std::cout << "xengtd " XENGT_VERSION "\n";
        return 0;
    }
    auto level = parse_level(vm["log-level"].as<std::string>());
    if (!level) {
        std::fprintf(stderr, "xengtd: --log-level must be error, warn, info or debug\n");
        return 2;
    }
    xengt::set_log_level(*level);
    if (!vm.count("domid")) {
        std::fprintf(stderr, "xengtd: --domid is required\n(try --help)\n");
        return 2;
    }
    const auto domids = vm["domid"].as<std::vector<unsigned>>();
    for (unsigned domid : domids) {
        if (domid == 0 || domid >= 0x7ff0) {  // DOMID_FIRST_RESERVED: the rest are not guests
            std::fprintf(stderr, "xengtd: --domid %u is not a guest domain\n", domid);
            return 2;
        }
    }
    // The per-guest partition, in xl.cfg's units (MiB, registers).
    xengt::mediator::GmRequest gm;
    const unsigned low = vm["vgt_low_gm_sz"].as<unsigned>();
    const unsigned high = vm["vgt_high_gm_sz"].as<unsigned>();
    const unsigned fences = vm["vgt_fence_sz"].as<unsigned>();
    if (low == 0 || low > 4096 || high == 0 || high > 4096 || fences == 0 || fences > 32) {
        std::fprintf(stderr,
                     "xengtd: vgt_low_gm_sz and vgt_high_gm_sz must be 1-4096 MiB and "
                     "vgt_fence_sz 1-32\n");
        return 2;
    }
    const unsigned primary = vm["vgt_primary"].as<unsigned>();
    const unsigned display = vm["vgt_display"].as<unsigned>();
    const unsigned cap = vm["vgt_cap"].as<unsigned>();
    const unsigned weight = vm["vgt_weight"].as<unsigned>();
    if (primary > 1 || display > 1 || cap > 100 || weight == 0 || weight > 100) {
        std::fprintf(stderr,
                     "xengtd: vgt_primary and vgt_display must be 0 or 1, vgt_cap 0-100 "
                     "(percent) and "
                     "vgt_weight 1-100\n");
        return 2;
    }
    xengt::mediator::GmRequest host;
    const unsigned host_low = vm["host_low_gm_sz"].as<unsigned>();
    const unsigned host_high = vm["host_high_gm_sz"].as<unsigned>();
    const unsigned host_fences = vm["host_fence_sz"].as<unsigned>();
    if (host_low == 0 || host_low > 4096 || host_high == 0 || host_high > 4096 ||
        host_fences == 0 || host_fences > 32) {
        std::fprintf(stderr,
                     "xengtd: host_low_gm_sz and host_high_gm_sz must be 1-4096 MiB and "
                     "host_fence_sz 1-32\n");
        return 2;
    }
    host.low_bytes = xengt::MiB(host_low);
    host.high_bytes = xengt::MiB(host_high);
    host.fences = host_fences;
    const std::string ggtt = vm["ggtt"].as<std::string>();
    if (ggtt != "ram" && ggtt != "trap") {
        std::fprintf(stderr, "xengtd: --ggtt must be 'ram' or 'trap'\n");
        return 2;
    }
    gm.low_bytes = xengt::MiB(low);
    gm.high_bytes = xengt::MiB(high);
    gm.fences = fences;
    auto bdf = xengt::xen::PciAddress::parse(vm["bdf"].as<std::string>());
    if (!bdf) {
        std::fprintf(stderr, "xengtd: --bdf '%s' is not a PCI address like 00:02.0\n",
                     vm["bdf"].as<std::string>().c_str());
        return 2;
    }

    // A real GPU: its prerequisites first, before any guest is touched.
    if (const std::string gpu = vm["gpu"].as<std::string>(); gpu != "model") {
        try {
            xengt::daemon::RealGpuPrerequisites real(gpu);
        } catch (const std::exception& e) {
            XENGT_LOG(xengt::LogLevel::Error, "xengtd",
                      "refusing to attach guests to the real GPU %s: %s", gpu.c_str(), e.what());
            return 1;
        }
        XENGT_LOG(xengt::LogLevel::Error, "xengtd",
                  "the real GPU %s and the xengt-mfn module are ready, but serving guests on "
                  "a real GPU is not implemented yet (README: \"Running on real hardware\"); "
                  "no guest attached",
                  gpu.c_str());
        return 1;
    }

    try {
        xengt::daemon::DaemonOptions daemon_options;
        daemon_options.host_share = host;
        xengt::daemon::Daemon daemon(daemon_options);
        uint32_t vgt_id = 1;  // GVT-g numbers vGPU instances from 1
        for (unsigned domid : domids) {
            xengt::xen::SessionOptions opts;
            opts.domid = static_cast<uint16_t>(domid);
            opts.bdf = *bdf;
            opts.vgpu.vgt_id = vgt_id++;
            opts.vgpu.primary = primary == 1;
            opts.vgpu.display = display == 1;
            opts.vgpu.cap_percent = cap;
            opts.vgpu.weight = weight;
            opts.vgpu.ggtt_strategy = ggtt == "ram" ? xengt::mediator::GgttStrategy::RamBacked
                                                    : xengt::mediator::GgttStrategy::Trap;
            try {
                daemon.attach(opts, gm);
            } catch (const xengt::mediator::AdmissionRefused& e) {
                XENGT_LOG(xengt::LogLevel::Error, "xengtd", "cannot attach a vGPU to dom%u: %s",
                          domid, e.what());
                return 1;
            } catch (const std::system_error& e) {
                const bool no_xen =
                    e.code().value() == ENOENT && access("/dev/xen/privcmd", F_OK) != 0;
                XENGT_LOG(xengt::LogLevel::Error, "xengtd", "cannot attach a vGPU to dom%u: %s%s",
                          domid, e.what(),
                          no_xen ? " (no /dev/xen/privcmd: run xengtd in dom0 of a Xen host)" : "");
                return 1;
            }
        }
        // After the guests are attached: an attach failure is the error to
        // report first, and the socket is only useful once there are vGPUs.
        const std::string socket = vm["control-socket"].as<std::string>();
        if (!socket.empty()) {
            try {
                daemon.listen(socket);
            } catch (const std::system_error& e) {
                XENGT_LOG(xengt::LogLevel::Error, "xengtd", "%s", e.what());
                return 1;
            }
        }
        return daemon.run();
    } catch (const xengt::mediator::AdmissionRefused& e) {
        XENGT_LOG(xengt::LogLevel::Error, "xengtd", "dom0's own graphics-memory share: %s",
                  e.what());
        return 1;
    } catch (const std::exception& e) {
        XENGT_LOG(xengt::LogLevel::Error, "xengtd", "%s", e.what());
        return 1;
    }
}
