#include "gpu/pci/sysfs.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <sstream>

namespace xengt::gpu::pci {

namespace {

std::string describe(const std::string& bdf, const std::filesystem::path& file,
                     const std::string& reason, int err) {
    std::string msg = "pci " + bdf + ": " + file.string() + ": " + reason;
    if (err != 0) {
        msg += ": " + std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")";
    }
    return msg;
}

}  // namespace

PciError::PciError(const std::string& bdf, const std::filesystem::path& file,
                   const std::string& reason, int err)
    : std::runtime_error(describe(bdf, file, reason, err)), err_(err) {}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = o.release();
    }
    return *this;
}

UniqueFd::~UniqueFd() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

int UniqueFd::release() noexcept {
    int fd = fd_;
    fd_ = -1;
    return fd;
}

Mapping::Mapping(Mapping&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
}

Mapping& Mapping::operator=(Mapping&& o) noexcept {
    if (this != &o) {
        if (data_ != nullptr) {
            ::munmap(data_, size_);
        }
        data_ = o.data_;
        size_ = o.size_;
        o.data_ = nullptr;
        o.size_ = 0;
    }
    return *this;
}

Mapping::~Mapping() {
    if (data_ != nullptr) {
        ::munmap(data_, size_);
    }
}

Mapping Mapping::map_file(const std::string& bdf, const std::filesystem::path& file,
                          uint64_t bytes) {
    UniqueFd fd = open_file(bdf, file, O_RDWR | O_CLOEXEC);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw PciError(bdf, file, "fstat failed", errno);
    }
    if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) < bytes) {
        throw PciError(
            bdf, file,
            "file is " + std::to_string(st.st_size) + " bytes, BAR needs " + std::to_string(bytes));
    }
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) {
        throw PciError(bdf, file, "mmap failed", errno);
    }
    // The mapping outlives the fd by design (mmap holds its own reference).
    Mapping m;
    m.data_ = static_cast<uint8_t*>(p);
    m.size_ = bytes;
    return m;
}

bool valid_bdf(const std::string& bdf) {
    // SSSS:BB:DD.F
    if (bdf.size() != 12 || bdf[4] != ':' || bdf[7] != ':' || bdf[10] != '.') {
        return false;
    }
    for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u}) {
        if (std::isxdigit(static_cast<unsigned char>(bdf[i])) == 0) {
            return false;
        }
    }
    return bdf[11] >= '0' && bdf[11] <= '7';
}

UniqueFd open_file(const std::string& bdf, const std::filesystem::path& file, int flags) {
    int fd = ::open(file.c_str(), flags);
    if (fd < 0) {
        throw PciError(bdf, file, "cannot open", errno);
    }
    return UniqueFd(fd);
}

std::string read_text(const std::string& bdf, const std::filesystem::path& file,
                      std::size_t max_bytes) {
    UniqueFd fd = open_file(bdf, file, O_RDONLY | O_CLOEXEC);
    std::string out;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw PciError(bdf, file, "read failed", errno);
        }
        if (n == 0) {
            break;
        }
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > max_bytes) {
            throw PciError(bdf, file, "file larger than " + std::to_string(max_bytes) + " bytes");
        }
    }
    return out;
}

namespace {

// Parses one "0x<hex>" token strictly (no sign, no trailing junk).
bool parse_hex_token(const std::string& tok, uint64_t& out) {
    if (tok.size() < 3 || tok[0] != '0' || (tok[1] != 'x' && tok[1] != 'X')) {
        return false;
    }
    const char* first = tok.data() + 2;
    const char* last = tok.data() + tok.size();
    auto [ptr, ec] = std::from_chars(first, last, out, 16);
    return ec == std::errc() && ptr == last;
}

}  // namespace

uint64_t parse_hex(const std::string& bdf, const std::filesystem::path& file,
                   const std::string& text, uint64_t max_value) {
    std::string tok = text;
    while (!tok.empty() && std::isspace(static_cast<unsigned char>(tok.back())) != 0) {
        tok.pop_back();
    }
    uint64_t v = 0;
    if (!parse_hex_token(tok, v)) {
        throw PciError(bdf, file, "expected \"0x<hex>\", got \"" + tok.substr(0, 40) + "\"");
    }
    if (v > max_value) {
        throw PciError(bdf, file, "value " + tok + " out of range");
    }
    return v;
}

std::vector<BarRange> parse_resource(const std::string& bdf, const std::filesystem::path& file,
                                     const std::string& text, std::size_t min_lines) {
    std::vector<BarRange> bars;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string a, b, c, extra;
        BarRange r;
        if (!(words >> a >> b >> c) || (words >> extra) || !parse_hex_token(a, r.start) ||
            !parse_hex_token(b, r.end) || !parse_hex_token(c, r.flags) ||
            (r.end < r.start && !(r.start == 0 && r.end == 0))) {
            throw PciError(bdf, file,
                           "malformed line " + std::to_string(bars.size() + 1) + ": \"" +
                               line.substr(0, 80) + "\"");
        }
        bars.push_back(r);
    }
    if (bars.size() < min_lines) {
        throw PciError(bdf, file,
                       "has " + std::to_string(bars.size()) + " lines, need at least " +
                           std::to_string(min_lines));
    }
    return bars;
}

}  // namespace xengt::gpu::pci
