// A large zero-initialised array whose pages are only committed when written.
//
// Anonymous mmap memory reads as zero without being touched, so a vGPU's 2 MiB
// register file costs nothing until the guest writes a register, and creating
// a vGPU does not memset megabytes.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace xengt {

template <class T>
class ZeroedArray {
    static_assert(std::is_trivial_v<T>, "pages of zero bytes must be valid T objects");

public:
    explicit ZeroedArray(size_t count) : count_(count) {
        void* p =
            mmap(nullptr, bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            throw std::bad_alloc();
        }
        data_ = static_cast<T*>(p);
    }
    ~ZeroedArray() {
        if (data_ != nullptr) {
            munmap(data_, bytes());
        }
    }
    ZeroedArray(ZeroedArray&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), count_(o.count_) {}
    ZeroedArray& operator=(ZeroedArray&&) = delete;

    T* get() const { return data_; }
    size_t size() const { return count_; }

    // Back to all zeros, handing committed pages back to the kernel (a private
    // anonymous page dropped with MADV_DONTNEED reads as zero again).
    void clear() {
        if (madvise(data_, bytes(), MADV_DONTNEED) != 0) {
            std::memset(static_cast<void*>(data_), 0, bytes());
        }
    }

private:
    size_t bytes() const { return count_ * sizeof(T); }

    T* data_ = nullptr;
    size_t count_;
};

}  // namespace xengt
