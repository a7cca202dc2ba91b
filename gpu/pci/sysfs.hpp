// Small POSIX/sysfs helpers for the real-GPU backend: an error type that
// names device, file and errno; RAII fds and mappings; strict parsers for the
// text files Linux exposes under /sys/bus/pci/devices/<bdf>/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace xengt::gpu::pci {

// Where the kernel's trees live; tests point both at a temp dir.
struct SysfsRoot {
    std::filesystem::path sys = "/sys";
    std::filesystem::path dev = "/dev";
};

// Every failure of the backend: "pci <bdf>: <file>: <reason>[: <strerror> (errno N)]".
class PciError : public std::runtime_error {
public:
    PciError(const std::string& bdf, const std::filesystem::path& file, const std::string& reason,
             int err = 0);
    int error_number() const noexcept { return err_; }

private:
    int err_;
};

// Owns one file descriptor.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd();
    int get() const { return fd_; }
    int release() noexcept;

private:
    int fd_ = -1;
};

// Owns one shared read/write mapping of a whole file (a BAR's resourceN).
class Mapping {
public:
    Mapping() = default;
    Mapping(Mapping&& o) noexcept;
    Mapping& operator=(Mapping&& o) noexcept;
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    ~Mapping();
    // Maps the first `bytes` of `file`; refuses if the file is shorter, since
    // touching a mapping beyond end of file is SIGBUS rather than an error.
    static Mapping map_file(const std::string& bdf, const std::filesystem::path& file,
                            uint64_t bytes);
    uint8_t* data() const { return data_; }
    uint64_t size() const { return size_; }

private:
    uint8_t* data_ = nullptr;
    uint64_t size_ = 0;
};

// One line of sysfs `resource`: "0x<start> 0x<end> 0x<flags>".
struct BarRange {
    uint64_t start = 0;
    uint64_t end = 0;
    uint64_t flags = 0;
    // A zero line means the BAR is absent.
    uint64_t size() const { return (start == 0 && end == 0) ? 0 : end - start + 1; }
};

// True for "SSSS:BB:DD.F" in lower- or upper-case hex (and nothing else, so a
// BDF can never climb out of the devices directory).
bool valid_bdf(const std::string& bdf);

UniqueFd open_file(const std::string& bdf, const std::filesystem::path& file, int flags);
// Reads a small text file whole; refuses files larger than `max_bytes`.
std::string read_text(const std::string& bdf, const std::filesystem::path& file,
                      std::size_t max_bytes = 4096);
// Parses "0x<hex>\n" (as in `vendor`, `device`, `class`) holding at most `max_value`.
uint64_t parse_hex(const std::string& bdf, const std::filesystem::path& file,
                   const std::string& text, uint64_t max_value);
// Parses every line of `resource`; refuses a malformed line or fewer than `min_lines`.
std::vector<BarRange> parse_resource(const std::string& bdf, const std::filesystem::path& file,
                                     const std::string& text, std::size_t min_lines);

}  // namespace xengt::gpu::pci
