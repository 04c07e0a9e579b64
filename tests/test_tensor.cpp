// Tensor basics: factories, metadata, dtype conversion (bf16 included), item, printing,
// in-place writes and the version counter, devices.
#include <cmath>
#include <sstream>

#include "core/elementwise.h"
#include "cuda/memory.h"
#include "testing.h"

namespace mod {
namespace {

TEST(Tensor, FactoriesAndMetadata) {
    Tensor z = Tensor::zeros({2, 3});
    EXPECT_EQ(z.shape(), (Shape{2, 3}));
    EXPECT_EQ(z.strides(), (Strides{3, 1}));
    EXPECT_EQ(z.numel(), 6);
    EXPECT_EQ(z.dim(), 2);
    EXPECT_EQ(z.size(-1), 3);
    EXPECT_EQ(z.dtype(), DType::F32);
    EXPECT_TRUE(z.device().is_cpu());
    EXPECT_TRUE(z.is_contiguous());
    EXPECT_EQ(Tensor::full({2}, 2.5, DType::F64).to_vector<double>(), (std::vector<double>{2.5, 2.5}));
    EXPECT_EQ(Tensor::arange(4).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3}));
    EXPECT_EQ(Tensor::scalar(3.0).dim(), 0);
    EXPECT_DOUBLE_EQ(Tensor::scalar(3.0).item(), 3.0);
    EXPECT_FALSE(Tensor().defined());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(Tensor::empty({7}).raw_data()) % 64, 0u);
}

TEST(Tensor, FromVectorChecksSize) {
    EXPECT_THROW(Tensor::from_vector<float>({1, 2, 3}, {2, 2}), ShapeError);
    EXPECT_THROW(Tensor::zeros({2, -1}), ValueError);
}

TEST(Tensor, DtypeConversionRoundsBf16ToNearestEven) {
    Tensor x = Tensor::from_vector<float>({1.0f, 1.00390625f, 1.01171875f, -3.5f, 1e30f}, {5});
    Tensor b = x.to(DType::BF16);
    EXPECT_EQ(b.dtype(), DType::BF16);
    std::vector<float> back = b.to(DType::F32).to_vector<float>();
    EXPECT_EQ(back[0], 1.0f);
    EXPECT_EQ(back[1], 1.0f);          // exactly half way between 1 and 1+2^-7: ties to even (1.0)
    EXPECT_EQ(back[2], 1.015625f);     // 1 + 1.5 * 2^-7 rounds up to 1 + 2^-6
    EXPECT_EQ(back[3], -3.5f);
    EXPECT_NEAR(back[4], 1e30f, 1e30f * 0.004f);  // 8 mantissa bits: relative error below 2^-8
    Tensor nan = Tensor::full({1}, std::nan(""), DType::F32).to(DType::BF16).to(DType::F32);
    EXPECT_TRUE(std::isnan(nan.item()));
}

TEST(Tensor, IntegerAndBoolConversions) {
    Tensor f = Tensor::from_vector<double>({-1.7, 0.0, 2.9}, {3});
    EXPECT_EQ(f.to(DType::I64).to_vector<int64_t>(), (std::vector<int64_t>{-1, 0, 2}));
    EXPECT_EQ(f.to(DType::I32).to_vector<int32_t>(), (std::vector<int32_t>{-1, 0, 2}));
    EXPECT_EQ(f.to(DType::Bool).to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 1}));
}

TEST(Tensor, ItemNeedsOneElement) {
    EXPECT_THROW(Tensor::zeros({2}).item(), ShapeError);
    EXPECT_DOUBLE_EQ(Tensor::full({1, 1}, 4.0).item(), 4.0);
}

TEST(Tensor, PrintingIsReadable) {
    Tensor t = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
    EXPECT_EQ(t.str(), "tensor([[1.0000, 2.0000],\n        [3.0000, 4.0000]], shape=(2,2), dtype=float32)");
    std::ostringstream os;
    os << Tensor::arange(3);
    EXPECT_EQ(os.str(), "tensor([0, 1, 2], shape=(3), dtype=int64)");
    std::string big = Tensor::zeros({2000}).str();
    EXPECT_NE(big.find("..."), std::string::npos);
    EXPECT_LT(big.size(), 200u);
}

TEST(Tensor, InPlaceWritesBumpTheVersion) {
    Tensor t = Tensor::zeros({3});
    const uint64_t v0 = t.version();
    t.fill_(2.0);
    EXPECT_EQ(t.version(), v0 + 1);
    Tensor view = t.narrow(0, 1, 2);
    view.copy_(Tensor::from_vector<float>({5, 6}, {2}));
    EXPECT_EQ(t.version(), v0 + 2);  // the counter is shared by every view of the storage
    EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{2, 5, 6}));
    EXPECT_THROW(t.copy_(Tensor::zeros({4})), ShapeError);
}

TEST(Tensor, CopyFromOverlappingViewIsSafe) {
    Tensor t = Tensor::from_vector<float>({1, 2, 3, 4}, {4});
    t.narrow(0, 1, 3).copy_(t.narrow(0, 0, 3));
    EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 1, 2, 3}));
}

TEST(Device, ParsesNames) {
    EXPECT_EQ(Device::parse("cpu"), Device::cpu());
    EXPECT_EQ(Device::parse("cuda:1"), Device::cuda(1));
    EXPECT_EQ(Device::parse("cuda").index, 0);
    EXPECT_THROW(Device::parse("gpu"), ValueError);
    EXPECT_THROW(Device::parse("cuda:x"), ValueError);
}

TEST(Device, CudaRoundTripOrClearError) {
    Tensor x = Tensor::from_vector<float>({1, 2, 3}, {3});
    if (!cuda::is_available()) {
        try {
            x.to(Device::cuda(0));
            // A CUDA build on a machine without a GPU fails inside the runtime instead.
        } catch (const DeviceError& e) {
            SUCCEED() << e.what();
        }
        GTEST_SKIP() << "no CUDA device: host/device copy round trip not exercised";
    }
    Tensor d = x.to(Device::cuda(0));
    EXPECT_TRUE(d.device().is_cuda());
    EXPECT_THROW(exp(d), DeviceError);
    EXPECT_EQ(d.to(Device::cpu()).to_vector<float>(), x.to_vector<float>());
}

}  // namespace
}  // namespace mod
