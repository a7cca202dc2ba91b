// Guest memory: the machine-memory pool, the p2m, and dom0's foreign mappings
// of frames (what privcmd does for xenforeignmemory).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>
#include <system_error>

#include "tools/xensim/state.hpp"

namespace xengt::sim::detail {
namespace {

// Where libxenguest puts the ioreq server pages of an HVM guest: eight pages
// below the special-page block that ends at 0xff000, then the two legacy
// HVM_PARAM_{IOREQ,BUFIOREQ}_PFN pages Xen falls back to.
constexpr std::array<uint64_t, 10> kSpecialGfns = {0xfeff0, 0xfeff1, 0xfeff2, 0xfeff3, 0xfeff4,
                                                   0xfeff5, 0xfeff6, 0xfeff7, 0xfeffd, 0xfeffb};

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), "xensim: " + what);
}

}  // namespace

std::shared_ptr<SharedMemory> SharedMemory::create(const std::string& name, uint64_t bytes) {
    int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
    if (fd < 0) {
        throw_errno("memfd_create " + name);
    }
    if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        throw_errno("ftruncate " + name);
    }
    void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        int err = errno;
        close(fd);
        errno = err;
        throw_errno("mmap " + name);
    }
    return std::shared_ptr<SharedMemory>(
        new SharedMemory(fd, bytes, static_cast<std::byte*>(base)));
}

SharedMemory::~SharedMemory() {
    munmap(base_, size_);
    close(fd_);
}

void pool_init(State& s, uint64_t bytes) {
    const uint64_t frames = bytes / kPageSize;
    if (frames == 0) {
        throw std::invalid_argument("xensim: machine memory must hold at least one frame");
    }
    s.pool.mem = SharedMemory::create("xensim-machine-memory", frames * kPageSize);
    s.pool.maps.assign(frames, 0);
    s.pool.orphaned.assign(frames, false);
    // Hand frames out from all over the pool, as a long-running host would.
    s.pool.free.resize(frames);
    std::iota(s.pool.free.begin(), s.pool.free.end(), uint64_t{0});
    std::shuffle(s.pool.free.begin(), s.pool.free.end(), std::mt19937_64{0x58656e});
}

std::vector<uint64_t> pool_alloc(State& s, uint64_t count, uint64_t seed) {
    if (count > s.pool.free.size()) {
        throw std::runtime_error("xensim: machine memory exhausted (" + std::to_string(count) +
                                 " frames wanted, " + std::to_string(s.pool.free.size()) +
                                 " free)");
    }
    std::vector<uint64_t> out(s.pool.free.end() - static_cast<ptrdiff_t>(count), s.pool.free.end());
    s.pool.free.resize(s.pool.free.size() - count);
    // Never in gfn order: neighbouring gfns land on unrelated frames.
    std::shuffle(out.begin(), out.end(), std::mt19937_64{seed});
    return out;
}

namespace {

void pool_free(State& s, uint64_t frame) {
    // A frame goes back zeroed (and its host memory with it).
    if (fallocate(s.pool.mem->fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  static_cast<off_t>(frame * kPageSize), static_cast<off_t>(kPageSize)) != 0) {
        std::memset(s.pool.mem->data() + frame * kPageSize, 0, kPageSize);
    }
    s.pool.orphaned[frame] = false;
    s.pool.free.push_back(frame);
}

}  // namespace

void pool_release(State& s, uint64_t frame) {
    if (s.pool.maps[frame] != 0) {
        s.pool.orphaned[frame] = true;
    } else {
        pool_free(s, frame);
    }
}

std::optional<PageRef> p2m_lookup(const Domain& d, uint64_t gfn) {
    if (auto frame = p2m_frame(d, gfn)) {
        return PageRef{d.machine, *frame * kPageSize};
    }
    auto it = d.special_p2m.find(gfn);
    if (it == d.special_p2m.end()) {
        return std::nullopt;
    }
    return it->second;
}

bool gpa_is_ram(const Domain& d, uint64_t gpa, uint64_t len) {
    if (len == 0 || gpa + len < gpa) {
        return false;
    }
    for (uint64_t gfn = gpa / kPageSize; gfn <= (gpa + len - 1) / kPageSize; ++gfn) {
        if (!p2m_lookup(d, gfn)) {
            return false;
        }
    }
    return true;
}

namespace {

// Walks [gpa, gpa + len) page by page through the p2m, calling
// chunk(page bytes at the offset, bytes done so far, bytes in this page).
template <class Chunk>
void for_each_guest_chunk(const Domain& d, uint64_t gpa, uint64_t len, Chunk chunk) {
    for (uint64_t done = 0; done < len;) {
        auto page = p2m_lookup(d, (gpa + done) / kPageSize);
        if (!page) {
            throw std::out_of_range("xensim: guest-physical address not RAM");
        }
        const uint64_t off = (gpa + done) % kPageSize;
        const uint64_t n = std::min(len - done, kPageSize - off);
        chunk(page->data() + off, done, n);
        done += n;
    }
}

}  // namespace

void copy_from_guest(const Domain& d, uint64_t gpa, std::byte* out, uint64_t len) {
    for_each_guest_chunk(d, gpa, len, [&](std::byte* page, uint64_t done, uint64_t n) {
        std::memcpy(out + done, page, n);
    });
}

void copy_to_guest(Domain& d, uint64_t gpa, const std::byte* in, uint64_t len) {
    for_each_guest_chunk(d, gpa, len, [&](std::byte* page, uint64_t done, uint64_t n) {
        std::memcpy(page, in + done, n);
        dirty_vram_mark(d, (gpa + done) / kPageSize);
    });
}

std::optional<uint64_t> alloc_special_gfn(Domain& d) {
    for (uint64_t gfn : kSpecialGfns) {
        if (d.used_special_gfns.insert(gfn).second) {
            return gfn;
        }
    }
    return std::nullopt;
}

void free_special_gfn(Domain& d, uint64_t gfn) {
    d.special_p2m.erase(gfn);
    d.used_special_gfns.erase(gfn);
}

void* dom0_map(State& s, Domain& d, const std::vector<std::optional<PageRef>>& frames, int prot,
               void* hint, int flags, std::vector<int>& errs) {
    const size_t bytes = frames.size() * kPageSize;
    // Reserve the whole window first so the result is one contiguous range,
    // then alias each frame into it; failed frames stay inaccessible.
    void* base = mmap(hint, bytes, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (flags & MAP_FIXED), -1, 0);
    if (base == MAP_FAILED) {
        return nullptr;
    }
    Mapping m;
    m.domid = d.domid;
    m.pages = frames.size();
    m.page_frames.assign(frames.size(), kNoFrame);
    errs.assign(frames.size(), 0);
    auto* va = static_cast<std::byte*>(base);
    for (size_t i = 0; i < frames.size(); ++i) {
        if (!frames[i]) {
            errs[i] = -EINVAL;
            continue;
        }
        void* at = mmap(va + i * kPageSize, kPageSize, prot, MAP_SHARED | MAP_FIXED,
                        frames[i]->mem->fd(), static_cast<off_t>(frames[i]->offset));
        if (at == MAP_FAILED) {
            errs[i] = -errno;
            continue;
        }
        ++m.mapped;
        if (frames[i]->mem == s.pool.mem) {
            const uint64_t frame = frames[i]->offset / kPageSize;
            ++s.pool.maps[frame];
            m.page_frames[i] = frame;
        }
        if (std::find(m.refs.begin(), m.refs.end(), frames[i]->mem) == m.refs.end()) {
            m.refs.push_back(frames[i]->mem);
        }
    }
    d.dom0_mappings += m.mapped;
    s.mappings.emplace(reinterpret_cast<uintptr_t>(base), std::move(m));
    s.changed();
    return base;
}

int dom0_unmap(State& s, void* addr, size_t pages) {
    auto it = s.mappings.find(reinterpret_cast<uintptr_t>(addr));
    if (it == s.mappings.end() || it->second.pages != pages) {
        return EINVAL;
    }
    munmap(addr, pages * kPageSize);
    const Mapping m = std::move(it->second);
    s.mappings.erase(it);
    for (uint64_t frame : m.page_frames) {
        if (frame != kNoFrame && --s.pool.maps[frame] == 0 && s.pool.orphaned[frame]) {
            pool_free(s, frame);
        }
    }
    auto dit = s.domains.find(m.domid);
    if (dit != s.domains.end()) {
        Domain& d = *dit->second;
        d.dom0_mappings -= m.mapped;
        reap_if_unmapped(s, d);
    }
    s.changed();
    return 0;
}

void dom0_unmap_all(State& s) {
    for (auto& [va, m] : s.mappings) {
        munmap(reinterpret_cast<void*>(va), m.pages * kPageSize);
    }
    s.mappings.clear();
}

}  // namespace xengt::sim::detail
