// Image decoding (PNG, JPEG) and preprocessing (pad to square with the mean colour, bicubic resize,
// normalisation), with errors that name the file.
#include "data/errors.h"
#include "data/image_io.h"
#include "data/preprocess.h"
#include "temp_dir.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <jpeglib.h>
#include <png.h>

namespace {

using namespace mod::data;
using mod::test::TempDir;

ImageRgb gradient(int w, int h) {
    ImageRgb img(w, h);
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            uint8_t* p = img.at(x, y);
            p[0] = static_cast<uint8_t>(x * 255 / std::max(1, w - 1));
            p[1] = static_cast<uint8_t>(y * 255 / std::max(1, h - 1));
            p[2] = 128;
        }
    }
    return img;
}

std::vector<uint8_t> encode_jpeg(const ImageRgb& img, int quality) {
    jpeg_compress_struct cinfo;
    jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    unsigned char* buf = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&cinfo, &buf, &size);
    cinfo.image_width = static_cast<JDIMENSION>(img.width);
    cinfo.image_height = static_cast<JDIMENSION>(img.height);
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = const_cast<uint8_t*>(img.at(0, static_cast<int>(cinfo.next_scanline)));
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    std::vector<uint8_t> out(buf, buf + size);
    std::free(buf);
    return out;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const ImageError& e) {
        return e.what();
    }
    return "";
}

TEST(ImageIo, PngRoundTripIsExact) {
    TempDir dir;
    const ImageRgb img = gradient(37, 21);
    write_png(dir.str("a.png"), img);
    const ImageRgb back = read_image(dir.str("a.png"));
    EXPECT_EQ(back.width, 37);
    EXPECT_EQ(back.height, 21);
    EXPECT_EQ(back.pixels, img.pixels);
    EXPECT_EQ(encode_png(img), encode_png(img));  // no timestamp or other varying bytes
}

TEST(ImageIo, PngAlphaIsDroppedNotComposited) {
    // Two RGBA pixels, the second fully transparent: its colour must survive (PIL convert("RGB")).
    const uint8_t rgba[] = {10, 20, 30, 255, 200, 100, 50, 0};
    png_image png;
    std::memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    png.width = 2;
    png.height = 1;
    png.format = PNG_FORMAT_RGBA;
    png_alloc_size_t size = 0;
    ASSERT_TRUE(png_image_write_get_memory_size(png, size, 0, rgba, 0, nullptr));
    std::vector<uint8_t> bytes(size);
    ASSERT_TRUE(png_image_write_to_memory(&png, bytes.data(), &size, 0, rgba, 0, nullptr));
    bytes.resize(size);
    const ImageRgb img = decode_image(bytes, "rgba.png");
    EXPECT_EQ(img.pixels, (std::vector<uint8_t>{10, 20, 30, 200, 100, 50}));
}

TEST(ImageIo, JpegDecodesCloseToTheSource) {
    const ImageRgb img = gradient(32, 16);
    const ImageRgb back = decode_image(encode_jpeg(img, 95), "g.jpg");
    ASSERT_EQ(back.width, 32);
    ASSERT_EQ(back.height, 16);
    double err = 0;
    for (size_t i = 0; i < img.pixels.size(); ++i) err += std::abs(img.pixels[i] - back.pixels[i]);
    EXPECT_LT(err / static_cast<double>(img.pixels.size()), 4.0);  // quality 95 on a smooth gradient: a few levels
}

TEST(ImageIo, ErrorsNameTheFile) {
    TempDir dir;
    EXPECT_NE(error_of([&] { read_image(dir.str("missing.png")); }).find(dir.str("missing.png") + ": cannot open"), std::string::npos);
    std::ofstream(dir.str("text.png")) << "not an image";
    EXPECT_NE(error_of([&] { read_image(dir.str("text.png")); }).find(dir.str("text.png") + ": not a PNG or JPEG file"), std::string::npos);
    std::vector<uint8_t> png = encode_png(gradient(8, 8));
    png.resize(png.size() / 2);  // truncated
    EXPECT_NE(error_of([&] { decode_image(png, "half.png"); }).find("half.png: bad PNG"), std::string::npos);
    std::vector<uint8_t> jpg = encode_jpeg(gradient(8, 8), 90);
    jpg.resize(20);
    EXPECT_NE(error_of([&] { decode_image(jpg, "half.jpg"); }).find("half.jpg: bad JPEG"), std::string::npos);
}

TEST(Preprocess, PadsToSquareWithTheFillCentred) {
    ImageRgb img(4, 2);
    for (uint8_t& v : img.pixels) v = 200;
    const ImageRgb sq = pad_to_square(img, {1, 2, 3});
    ASSERT_EQ(sq.width, 4);
    ASSERT_EQ(sq.height, 4);
    EXPECT_EQ(sq.at(0, 0)[0], 1);    // row 0: padding
    EXPECT_EQ(sq.at(3, 1)[0], 200);  // rows 1-2: the image
    EXPECT_EQ(sq.at(3, 2)[2], 200);
    EXPECT_EQ(sq.at(2, 3)[1], 2);    // row 3: padding
}

TEST(Preprocess, ResizeKeepsConstantsAndIsIdentityAtSameSize) {
    ImageRgb flat(30, 30);
    for (uint8_t& v : flat.pixels) v = 77;
    const ImageRgb small = resize_bicubic(flat, 7, 7);
    for (uint8_t v : small.pixels) EXPECT_EQ(v, 77);  // weights sum to one
    const ImageRgb img = gradient(9, 9);
    EXPECT_EQ(resize_bicubic(img, 9, 9).pixels, img.pixels);
    const ImageRgb up = resize_bicubic(img, 18, 18);
    EXPECT_LT(up.at(0, 0)[0], up.at(17, 0)[0]);  // the gradient survives upsampling
}

TEST(Preprocess, NormalisesWithConfigMeanAndStd) {
    PreprocessConfig config;
    config.size = 4;
    config.mean = {0.5f, 0.5f, 0.5f};
    config.std = {0.25f, 0.5f, 1.0f};
    ImageRgb img(4, 4);
    for (size_t i = 0; i < img.pixels.size(); i += 3) {
        img.pixels[i] = 255;
        img.pixels[i + 1] = 0;
        img.pixels[i + 2] = 51;
    }
    std::vector<float> out(3 * 16);
    preprocess_image(img, config, out.data());
    EXPECT_FLOAT_EQ(out[0], (1.0f - 0.5f) / 0.25f);          // channel 0 plane
    EXPECT_FLOAT_EQ(out[16], (0.0f - 0.5f) / 0.5f);          // channel 1 plane (CHW)
    EXPECT_FLOAT_EQ(out[32 + 5], (0.2f - 0.5f) / 1.0f);      // channel 2
}

TEST(Preprocess, PaddingNormalisesToAboutZero) {
    PreprocessConfig config;  // CLIP mean/std
    config.size = 8;
    ImageRgb wide(8, 2);
    std::vector<float> out(3 * 64);
    preprocess_image(wide, config, out.data());
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(out[c * 64 + 0], 0.0f, 0.02f) << c;  // top-left is padding; int(m*255) rounds down
}

}  // namespace
