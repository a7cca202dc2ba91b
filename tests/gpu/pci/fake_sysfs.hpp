// A fake /sys + /dev tree for one Intel iGPU, built from ordinary files in a
// fresh temp dir: text attribute files, a binary `config`, sparse resource0/2
// files (mmap works on them) and, optionally, a uio binding whose /dev node is
// a FIFO so a test can raise an "interrupt" by writing a 4-byte count.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpu/pci/sysfs.hpp"

namespace xengt::gpu::pci::test {

inline constexpr const char* kBdf = "0000:00:02.0";

struct FakeSpec {
    std::string vendor_text = "0x8086\n";
    std::string class_text = "0x030000\n";
    uint16_t config_vendor = 0x8086;
    uint16_t device = 0x1912;
    uint8_t revision = 0x06;
    uint16_t mggc = (0x02 << 8) | (3 << 6);  // 64 MiB stolen, 8 MiB GGTT table
    uint64_t bar0_bytes = uint64_t{16} << 20;
    uint64_t bar2_bytes = uint64_t{256} << 20;
    uint64_t resource0_file_bytes = 0;  // 0: same as bar0_bytes
    bool uio = false;
};

class FakeDevice {
public:
    explicit FakeDevice(const FakeSpec& spec = {}) {
        std::string tmpl = (std::filesystem::temp_directory_path() / "xengt-pci-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        root_ = tmpl;
        dir_ = root_ / "sys" / "bus" / "pci" / "devices" / kBdf;
        std::filesystem::create_directories(dir_);
        std::filesystem::create_directories(root_ / "dev");
        write_text("vendor", spec.vendor_text);
        write_text("class", spec.class_text);

        std::vector<uint8_t> cfg(256, 0);
        put16(cfg, 0x00, spec.config_vendor);
        put16(cfg, 0x02, spec.device);
        cfg[0x08] = spec.revision;
        cfg[0x0A] = 0x00;
        cfg[0x0B] = 0x03;
        put16(cfg, 0x50, spec.mggc);
        std::ofstream(dir_ / "config", std::ios::binary)
            .write(reinterpret_cast<const char*>(cfg.data()), static_cast<long>(cfg.size()));

        std::string res =
            line(0xf0000000, spec.bar0_bytes) + line(0, 0) + line(0xe0000000, spec.bar2_bytes);
        for (int i = 3; i < 13; ++i) {
            res += line(0, 0);
        }
        write_text("resource", res);
        sparse("resource0",
               spec.resource0_file_bytes ? spec.resource0_file_bytes : spec.bar0_bytes);
        if (spec.bar2_bytes != 0) {
            sparse("resource2", spec.bar2_bytes);
        }
        if (spec.uio) {
            std::filesystem::create_directories(dir_ / "uio" / "uio0");
            if (::mkfifo((root_ / "dev" / "uio0").c_str(), 0600) != 0) {
                throw std::runtime_error("mkfifo failed");
            }
        }
    }
    ~FakeDevice() {
        std::error_code ec;
        std::filesystem::remove_all(root_, ec);
    }
    FakeDevice(const FakeDevice&) = delete;
    FakeDevice& operator=(const FakeDevice&) = delete;

    SysfsRoot root() const { return {root_ / "sys", root_ / "dev"}; }
    const std::filesystem::path& dir() const { return dir_; }
    std::filesystem::path uio_dev() const { return root_ / "dev" / "uio0"; }

    void write_text(const std::string& name, const std::string& text) {
        std::ofstream(dir_ / name, std::ios::binary | std::ios::trunc) << text;
    }
    void remove(const std::string& name) { std::filesystem::remove(dir_ / name); }

    // Raw bytes of a file of the device directory at `offset`.
    uint64_t peek(const std::string& name, uint64_t offset, unsigned width) const {
        uint64_t v = 0;
        std::ifstream f(dir_ / name, std::ios::binary);
        f.seekg(static_cast<std::streamoff>(offset));
        f.read(reinterpret_cast<char*>(&v), width);
        return v;
    }
    void poke(const std::string& name, uint64_t offset, uint64_t value, unsigned width) {
        std::fstream f(dir_ / name, std::ios::binary | std::ios::in | std::ios::out);
        f.seekp(static_cast<std::streamoff>(offset));
        f.write(reinterpret_cast<const char*>(&value), width);
    }

private:
    static std::string line(uint64_t start, uint64_t bytes) {
        char buf[80];
        const uint64_t end = bytes ? start + bytes - 1 : 0;
        std::snprintf(buf, sizeof buf, "0x%016llx 0x%016llx 0x%016llx\n",
                      static_cast<unsigned long long>(bytes ? start : 0),
                      static_cast<unsigned long long>(end), bytes ? 0x140204ull : 0ull);
        return buf;
    }
    static void put16(std::vector<uint8_t>& cfg, std::size_t off, uint16_t v) {
        cfg[off] = static_cast<uint8_t>(v);
        cfg[off + 1] = static_cast<uint8_t>(v >> 8);
    }
    void sparse(const std::string& name, uint64_t bytes) {
        std::ofstream(dir_ / name, std::ios::binary).close();
        std::filesystem::resize_file(dir_ / name, bytes);
    }

    std::filesystem::path root_;
    std::filesystem::path dir_;
};

}  // namespace xengt::gpu::pci::test
