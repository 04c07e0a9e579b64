// PNG via libpng's simplified API (no longjmp in our code); JPEG via libjpeg, whose error exit
// longjmps back into decode_jpeg_into: that function owns no C++ object with a destructor, so the
// jump skips nothing (the output buffer belongs to the caller).
#include "data/image_io.h"

#include "data/errors.h"

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include <jpeglib.h>

namespace mod::data {

namespace {

struct JpegError {
    jpeg_error_mgr mgr;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr cinfo) {
    JpegError* err = reinterpret_cast<JpegError*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, err->message);
    std::longjmp(err->jump, 1);
}

void jpeg_silence(j_common_ptr, int) {}

// Returns nullptr on success, else the libjpeg message (stored in `err`).
const char* decode_jpeg_into(const std::vector<uint8_t>& bytes, ImageRgb* out, JpegError* err) {
    jpeg_decompress_struct cinfo;
    cinfo.err = jpeg_std_error(&err->mgr);
    err->mgr.error_exit = jpeg_error_exit;
    err->mgr.emit_message = jpeg_silence;  // warnings (e.g. extraneous bytes) are not errors
    if (setjmp(err->jump)) {
        jpeg_destroy_decompress(&cinfo);
        return err->message;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;  // greyscale and YCbCr both come out as RGB
    jpeg_start_decompress(&cinfo);
    out->width = static_cast<int>(cinfo.output_width);
    out->height = static_cast<int>(cinfo.output_height);
    out->pixels.resize(static_cast<size_t>(out->width) * out->height * 3);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out->pixels.data() + static_cast<size_t>(cinfo.output_scanline) * out->width * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return nullptr;
}

ImageRgb decode_png(const std::vector<uint8_t>& bytes, const std::string& name) {
    png_image png;
    std::memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size())) {
        throw ImageError("[decode_image] " + name + ": bad PNG: " + png.message);
    }
    // Read RGBA and drop alpha, as PIL's convert("RGB") in LLaVA does (libpng's RGB output would
    // composite onto black instead); grey and palette images expand to RGB.
    png.format = PNG_FORMAT_RGBA;
    std::vector<uint8_t> rgba(PNG_IMAGE_SIZE(png));
    if (!png_image_finish_read(&png, nullptr, rgba.data(), 0, nullptr)) {
        const std::string message = png.message;
        png_image_free(&png);
        throw ImageError("[decode_image] " + name + ": bad PNG: " + message);
    }
    ImageRgb img(static_cast<int>(png.width), static_cast<int>(png.height));
    for (size_t i = 0, n = static_cast<size_t>(img.width) * img.height; i < n; ++i) {
        std::copy(&rgba[i * 4], &rgba[i * 4] + 3, &img.pixels[i * 3]);
    }
    return img;
}

}  // namespace

std::vector<uint8_t> encode_png(const ImageRgb& image) {
    png_image png;
    std::memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    png.width = static_cast<png_uint_32>(image.width);
    png.height = static_cast<png_uint_32>(image.height);
    png.format = PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    if (!png_image_write_get_memory_size(png, size, 0, image.pixels.data(), 0, nullptr)) {
        throw ImageError(std::string("[encode_png] ") + png.message);
    }
    std::vector<uint8_t> out(size);
    if (!png_image_write_to_memory(&png, out.data(), &size, 0, image.pixels.data(), 0, nullptr)) {
        throw ImageError(std::string("[encode_png] ") + png.message);
    }
    out.resize(size);
    return out;
}

void write_png(const std::string& path, const ImageRgb& image) {
    const std::vector<uint8_t> bytes = encode_png(image);
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw ImageError("[write_png] " + path + ": cannot write");
}

ImageRgb read_image(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw ImageError("[read_image] " + path + ": cannot open (" + std::strerror(errno) + ")");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return decode_image(bytes, path);
}

ImageRgb decode_image(const std::vector<uint8_t>& bytes, const std::string& name) {
    static const uint8_t png_sig[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (bytes.size() >= 8 && std::memcmp(bytes.data(), png_sig, 8) == 0) return decode_png(bytes, name);
    if (bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff) {
        ImageRgb img;
        JpegError err;
        if (const char* message = decode_jpeg_into(bytes, &img, &err)) {
            throw ImageError("[decode_image] " + name + ": bad JPEG: " + message);
        }
        return img;
    }
    throw ImageError("[decode_image] " + name + ": not a PNG or JPEG file");
}

}  // namespace mod::data
