// libpng reports errors by longjmp from its error callback back to the
// setjmp in the function that called it. longjmp must not skip destructors,
// so every function here that calls setjmp holds only trivially destructible
// locals (raw pointers, ints) and runs no C++ code that could throw between
// setjmp and its last libpng call; buffers are owned by the callers.
#include "gpu/png.hpp"

#include <png.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

namespace xengt::gpu {
namespace {

// Largest side the reader accepts (Skylake planes are at most 8192 wide).
constexpr png_uint_32 kMaxSide = 8192;

struct PngJob {
    FILE* file = nullptr;
    char error[256] = {};
};

void on_error(png_structp png, png_const_charp message) {
    auto* job = static_cast<PngJob*>(png_get_error_ptr(png));
    std::snprintf(job->error, sizeof job->error, "%s", message);
    png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}  // warnings are not failures

bool encode(PngJob* job, png_uint_32 width, png_uint_32 height, png_bytepp rows) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, job, on_error, on_warning);
    if (png == nullptr) {
        std::snprintf(job->error, sizeof job->error, "png_create_write_struct failed");
        return false;
    }
    png_infop info = png_create_info_struct(png);
    if (info == nullptr) {
        png_destroy_write_struct(&png, nullptr);
        std::snprintf(job->error, sizeof job->error, "png_create_info_struct failed");
        return false;
    }
    // png and info are not modified after setjmp, so they need not be volatile.
    if (setjmp(png_jmpbuf(png)) != 0) {
        png_destroy_write_struct(&png, &info);
        return false;
    }
    png_init_io(png, job->file);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    return true;
}

// Reading is two phases around the caller's allocation: the header (with
// transforms to 8-bit RGB), then the rows. Each phase sets its own jump point.
struct PngReader {
    png_structp png = nullptr;
    png_infop info = nullptr;
    png_uint_32 width = 0, height = 0;
    size_t rowbytes = 0;
};

bool decode_header(PngJob* job, PngReader* r) {
    if (setjmp(png_jmpbuf(r->png)) != 0) {
        return false;
    }
    png_init_io(r->png, job->file);
    png_set_user_limits(r->png, kMaxSide, kMaxSide);
    png_read_info(r->png, r->info);
    png_set_expand(r->png);  // palette → RGB, low-bit grey → 8 bit, tRNS → alpha
    png_set_strip_16(r->png);
    png_set_strip_alpha(r->png);
    png_set_gray_to_rgb(r->png);
    png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);
    r->width = png_get_image_width(r->png, r->info);
    r->height = png_get_image_height(r->png, r->info);
    r->rowbytes = png_get_rowbytes(r->png, r->info);
    return true;
}

bool decode_rows(PngReader* r, png_bytepp rows) {
    if (setjmp(png_jmpbuf(r->png)) != 0) {
        return false;
    }
    png_read_image(r->png, rows);
    png_read_end(r->png, nullptr);
    return true;
}

void set_error(std::string* error, const char* what, const std::string& path) {
    if (error != nullptr) {
        *error = path + ": " + what;
    }
}

}  // namespace

bool write_png(const PlaneCapture& capture, const std::string& path, std::string* error) {
    if (capture.width == 0 || capture.height == 0 ||
        capture.pixels.size() != size_t{capture.width} * capture.height) {
        set_error(error, "capture has no pixels or a size mismatch", path);
        return false;
    }
    std::vector<png_byte> rgb(capture.pixels.size() * 3);
    for (size_t i = 0; i < capture.pixels.size(); ++i) {
        const uint32_t p = capture.pixels[i];  // XRGB8888: 0xXXRRGGBB
        rgb[3 * i] = static_cast<png_byte>(p >> 16);
        rgb[3 * i + 1] = static_cast<png_byte>(p >> 8);
        rgb[3 * i + 2] = static_cast<png_byte>(p);
    }
    std::vector<png_bytep> rows(capture.height);
    for (uint32_t y = 0; y < capture.height; ++y) {
        rows[y] = &rgb[size_t{y} * capture.width * 3];
    }
    PngJob job;
    job.file = std::fopen(path.c_str(), "wb");
    if (job.file == nullptr) {
        set_error(error, std::strerror(errno), path);
        return false;
    }
    bool ok = encode(&job, capture.width, capture.height, rows.data());
    if (std::fclose(job.file) != 0 && ok) {
        std::snprintf(job.error, sizeof job.error, "%s", std::strerror(errno));
        ok = false;
    }
    if (!ok) {
        std::remove(path.c_str());
        set_error(error, job.error, path);
    }
    return ok;
}

std::optional<PlaneCapture> read_png(const std::string& path, std::string* error) {
    PngJob job;
    job.file = std::fopen(path.c_str(), "rb");
    if (job.file == nullptr) {
        set_error(error, std::strerror(errno), path);
        return std::nullopt;
    }
    PngReader r;
    r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, on_error, on_warning);
    r.info = r.png != nullptr ? png_create_info_struct(r.png) : nullptr;
    std::optional<PlaneCapture> out;
    if (r.info == nullptr) {
        std::snprintf(job.error, sizeof job.error, "cannot create libpng read structs");
    } else if (decode_header(&job, &r)) {
        if (r.rowbytes != size_t{r.width} * 3) {
            std::snprintf(job.error, sizeof job.error, "unexpected row size after transforms");
        } else {
            std::vector<png_byte> rgb(r.rowbytes * r.height);
            std::vector<png_bytep> rows(r.height);
            for (png_uint_32 y = 0; y < r.height; ++y) {
                rows[y] = &rgb[y * r.rowbytes];
            }
            if (decode_rows(&r, rows.data())) {
                PlaneCapture cap;
                cap.width = r.width;
                cap.height = r.height;
                cap.pixels.resize(size_t{r.width} * r.height);
                for (size_t i = 0; i < cap.pixels.size(); ++i) {
                    // X is not stored in the file: it reads back as 0xFF (opaque).
                    cap.pixels[i] = 0xFF000000u | uint32_t{rgb[3 * i]} << 16 |
                                    uint32_t{rgb[3 * i + 1]} << 8 | rgb[3 * i + 2];
                }
                out = std::move(cap);
            }
        }
    }
    png_destroy_read_struct(&r.png, r.info != nullptr ? &r.info : nullptr, nullptr);
    std::fclose(job.file);
    if (!out) {
        set_error(error, job.error, path);
    }
    return out;
}

}  // namespace xengt::gpu
