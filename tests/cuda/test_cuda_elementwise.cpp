// CUDA-vs-CPU parity of the elementwise ops (cuda/elementwise.cu against
// core/cpu/elementwise.cpp), through the public ops: every BinaryOp, UnaryOp and CompareOp,
// where and masked_fill, forward and gradients, in float32 and float64, on contiguous,
// broadcast, transposed and scalar operands.
#include <functional>
#include <string>
#include <vector>

#include "core/elementwise.h"
#include "cuda/elementwise.h"
#include "cuda_testing.h"

namespace mod {
namespace {

using testing::gpu;
using testing::randn_cpu;
using testing::tolerance_for;
using testing::expect_parity;
using testing::Fn;
using testing::leaves;
using testing::Leaves;

const DType kFloatDTypes[] = {DType::F32, DType::F64};

// Values in [0.5, inf): the domain of log, sqrt, rsqrt and a fractional pow, and divisors
// far from 0.
Tensor positive(const Tensor& t) { return abs(t) + 0.5; }

TEST(CudaElementwise, BinaryOpsMatchCpuWithBroadcast) {
    MOD_REQUIRE_GPU();
    const std::vector<std::pair<const char*, Fn>> ops = {
        {"add", [](const std::vector<Tensor>& x) { return x[0] + x[1]; }},
        {"sub", [](const std::vector<Tensor>& x) { return x[0] - x[1]; }},
        {"mul", [](const std::vector<Tensor>& x) { return x[0] * x[1]; }},
        {"div", [](const std::vector<Tensor>& x) { return x[0] / x[1]; }},
    };
    for (DType dt : kFloatDTypes) {
        for (const auto& [name, fn] : ops) {
            SCOPED_TRACE(std::string(name) + " " + dtype_name(dt));
            // Same shapes, all contiguous: the fast path.
            expect_parity(
                fn, {leaves(randn_cpu({7, 33}, 1, dt)), leaves(positive(randn_cpu({7, 33}, 2, dt)))}, 3);
            // Broadcast on both sides: (3,1,5) with (4,1) -> (3,4,5).
            expect_parity(
                fn, {leaves(randn_cpu({3, 1, 5}, 4, dt)), leaves(positive(randn_cpu({4, 1}, 5, dt)))}, 6);
            // A transposed operand with a contiguous one, and a bias-like (D,) operand.
            expect_parity(
                fn, {leaves(randn_cpu({6, 5}, 7, dt), true), leaves(positive(randn_cpu({5}, 8, dt)))}, 9);
            // A 0-dim operand.
            expect_parity(fn, {leaves(randn_cpu({4, 9}, 10, dt)), leaves(positive(randn_cpu({}, 11, dt)))},
                          12);
        }
    }
}

TEST(CudaElementwise, ScalarFormsMatchCpu) {
    MOD_REQUIRE_GPU();
    for (DType dt : kFloatDTypes) {
        SCOPED_TRACE(dtype_name(dt));
        expect_parity([](const std::vector<Tensor>& x) { return (x[0] + 2.0) * 3.0 - 1.5; },
                      {leaves(randn_cpu({5, 8}, 1, dt))}, 2);
        expect_parity([](const std::vector<Tensor>& x) { return 2.0 - x[0] / 4.0; },
                      {leaves(randn_cpu({5, 8}, 3, dt))}, 4);
        expect_parity([](const std::vector<Tensor>& x) { return 3.0 / x[0]; },
                      {leaves(positive(randn_cpu({5, 8}, 5, dt)), true)}, 6);
    }
}

TEST(CudaElementwise, UnaryOpsMatchCpu) {
    MOD_REQUIRE_GPU();
    struct Case {
        const char* name;
        Fn fn;
        bool positive_only;
    };
    // Kinks (abs, relu, clamp) at 0 or the bounds are where CPU and GPU could pick different
    // one-sided derivatives; random normals land on them with probability 0.
    const std::vector<Case> cases = {
        {"neg", [](const std::vector<Tensor>& x) { return neg(x[0]); }, false},
        {"exp", [](const std::vector<Tensor>& x) { return exp(x[0]); }, false},
        {"log", [](const std::vector<Tensor>& x) { return log(x[0]); }, true},
        {"sqrt", [](const std::vector<Tensor>& x) { return sqrt(x[0]); }, true},
        {"rsqrt", [](const std::vector<Tensor>& x) { return rsqrt(x[0]); }, true},
        {"pow 2.5", [](const std::vector<Tensor>& x) { return pow(x[0], 2.5); }, true},
        {"pow 3", [](const std::vector<Tensor>& x) { return pow(x[0], 3.0); }, false},
        {"abs", [](const std::vector<Tensor>& x) { return abs(x[0]); }, false},
        {"clamp", [](const std::vector<Tensor>& x) { return clamp(x[0], -0.5, 0.7); }, false},
        {"tanh", [](const std::vector<Tensor>& x) { return tanh(x[0]); }, false},
        {"sigmoid", [](const std::vector<Tensor>& x) { return sigmoid(x[0]); }, false},
        {"relu", [](const std::vector<Tensor>& x) { return relu(x[0]); }, false},
        {"silu", [](const std::vector<Tensor>& x) { return silu(x[0]); }, false},
        {"gelu", [](const std::vector<Tensor>& x) { return gelu(x[0]); }, false},
        {"gelu_tanh", [](const std::vector<Tensor>& x) { return gelu_tanh(x[0]); }, false},
        {"quick_gelu", [](const std::vector<Tensor>& x) { return quick_gelu(x[0]); }, false},
    };
    for (DType dt : kFloatDTypes) {
        for (const Case& c : cases) {
            SCOPED_TRACE(std::string(c.name) + " " + dtype_name(dt));
            auto input = [&](const Shape& shape, uint64_t seed) {
                Tensor t = randn_cpu(shape, seed, dt, 2.0);
                return c.positive_only ? positive(t) : t;
            };
            expect_parity(c.fn, {leaves(input({9, 70}, 1))}, 2);
            expect_parity(c.fn, {leaves(input({2, 9, 70}, 3), true)}, 4);
        }
    }
}

TEST(CudaElementwise, SwigluMatchesCpu) {
    MOD_REQUIRE_GPU();
    const Fn fn = [](const std::vector<Tensor>& x) { return swiglu(x[0], x[1]); };
    for (DType dt : kFloatDTypes) {
        SCOPED_TRACE(dtype_name(dt));
        expect_parity(fn, {leaves(randn_cpu({9, 70}, 1, dt, 2.0)), leaves(randn_cpu({9, 70}, 2, dt))}, 3);
        expect_parity(fn, {leaves(randn_cpu({9, 70}, 4, dt, 2.0), true), leaves(randn_cpu({9, 70}, 5, dt))}, 6);
    }
}

TEST(CudaElementwise, CompareOpsMatchCpu) {
    MOD_REQUIRE_GPU();
    // Few distinct values, so that eq holds for some pairs and gt/lt see ties.
    const Tensor a = Tensor::from_vector<float>({0, 1, 2, 1, 0, 2, -1, 1, 0, 2, 2, 1}, {3, 4});
    const Tensor b = Tensor::from_vector<float>({1, 1, 0, 2}, {4});
    const Tensor col = Tensor::from_vector<float>({1, 0, 2}, {3, 1});
    struct Case {
        const char* name;
        std::function<Tensor(const Tensor&, const Tensor&)> with_tensor;
        std::function<Tensor(const Tensor&, double)> with_scalar;
    };
    const std::vector<Case> cases = {
        {"gt", [](const Tensor& x, const Tensor& y) { return gt(x, y); },
         [](const Tensor& x, double v) { return gt(x, v); }},
        {"lt", [](const Tensor& x, const Tensor& y) { return lt(x, y); },
         [](const Tensor& x, double v) { return lt(x, v); }},
        {"eq", [](const Tensor& x, const Tensor& y) { return eq(x, y); },
         [](const Tensor& x, double v) { return eq(x, v); }},
    };
    auto expect_same = [](const Tensor& got, const Tensor& want) {
        ASSERT_TRUE(got.device().is_cuda());
        EXPECT_EQ(got.dtype(), DType::Bool);
        EXPECT_EQ(got.shape(), want.shape());
        EXPECT_EQ(got.to(Device::cpu()).to_vector<bool>(), want.to_vector<bool>());
    };
    for (DType dt : kFloatDTypes) {
        for (const Case& c : cases) {
            SCOPED_TRACE(std::string(c.name) + " " + dtype_name(dt));
            const Tensor x = a.to(dt), xt = a.to(dt).transpose(0, 1);
            // Broadcast (3,4) with (4,); a transposed (4,3) with a (1,3) view of a column; x with itself.
            const std::vector<std::pair<Tensor, Tensor>> pairs = {
                {x, b.to(dt)}, {xt, col.to(dt).transpose(0, 1)}, {x, x}};
            for (const auto& [u, v] : pairs)
                expect_same(c.with_tensor(u.to(gpu()), v.to(gpu())), c.with_tensor(u, v));
            expect_same(c.with_scalar(x.to(gpu()), 1.0), c.with_scalar(x, 1.0));
        }
    }
}

// cond moved to the device of `like`: each side of a parity check uses its own copy.
Tensor on_device_of(const Tensor& cond, const Tensor& like) { return cond.to(like.device()); }

TEST(CudaElementwise, WhereAndMaskedFillMatchCpu) {
    MOD_REQUIRE_GPU();
    const Tensor cond = gt(randn_cpu({4, 1, 6}, 1), 0.0);
    const Tensor mask = lt(randn_cpu({1, 6}, 2), 0.0);
    for (DType dt : kFloatDTypes) {
        SCOPED_TRACE(dtype_name(dt));
        // cond (4,1,6), a (3,6), b (6,) -> (4,3,6): every operand broadcast.
        expect_parity(
            [&](const std::vector<Tensor>& x) { return where(on_device_of(cond, x[0]), x[0], x[1]); },
            {leaves(randn_cpu({3, 6}, 3, dt)), leaves(randn_cpu({6}, 4, dt))}, 5);
        // A transposed a with a full-shape b.
        expect_parity(
            [&](const std::vector<Tensor>& x) { return where(on_device_of(cond, x[0]), x[0], x[1]); },
            {leaves(randn_cpu({4, 6, 6}, 6, dt), true), leaves(randn_cpu({4, 6, 6}, 7, dt))}, 8);
        // The mask broadcast over rows of a transposed x.
        expect_parity(
            [&](const std::vector<Tensor>& x) { return masked_fill(x[0], on_device_of(mask, x[0]), -1e4); },
            {leaves(randn_cpu({5, 6}, 9, dt), true)}, 10);
    }
}

TEST(CudaElementwise, LargeTensorsUseTheGridStride) {
    MOD_REQUIRE_GPU();
    // More elements than 65536 blocks x 256 threads cover in one sweep, plus an odd tail.
    const int64_t n = (int64_t(1) << 24) + 3;
    expect_parity([](const std::vector<Tensor>& x) { return x[0] * x[1]; },
                  {leaves(randn_cpu({n}, 1)), leaves(randn_cpu({n}, 2))}, 3);
}

TEST(CudaElementwise, EmptyTensors) {
    MOD_REQUIRE_GPU();
    Tensor a = Tensor::zeros({0, 3}).to(gpu());
    Tensor b = Tensor::zeros({3}).to(gpu());
    EXPECT_EQ((a + b).shape(), (Shape{0, 3}));
    EXPECT_EQ(exp(a).shape(), (Shape{0, 3}));
    EXPECT_EQ(gt(a, b).shape(), (Shape{0, 3}));
}

// The public ops accept float32 and float64 only; the kernels also take bfloat16 (computed
// in float), checked here against the CPU float32 op on the same bf16-rounded inputs.
TEST(CudaElementwise, Bfloat16KernelsMatchFloat32) {
    MOD_REQUIRE_GPU();
    const Tensor a = randn_cpu({8, 40}, 1, DType::BF16), b = randn_cpu({40}, 2, DType::BF16);
    const Tensor a32 = a.to(DType::F32), b32 = b.to(DType::F32);
    const Tensor ga = a.to(gpu()), gb = b.to(gpu());
    const testing::Tolerance tol = tolerance_for(DType::BF16);
    for (cpu::BinaryOp op : {cpu::BinaryOp::Add, cpu::BinaryOp::Sub, cpu::BinaryOp::Mul}) {
        Tensor got = cuda::binary(op, ga, gb);
        EXPECT_EQ(got.dtype(), DType::BF16);
        EXPECT_GPU_CLOSE(got, cpu::binary(op, a32, b32), tol);
    }
    using U = cpu::UnaryOp;
    for (U op : {U::Exp, U::Tanh, U::Silu, U::Gelu, U::GeluTanh, U::QuickGelu}) {
        SCOPED_TRACE(static_cast<int>(op));
        Tensor y = cuda::unary(op, ga);
        EXPECT_EQ(y.dtype(), DType::BF16);
        EXPECT_GPU_CLOSE(y, cpu::unary(op, a32), tol);
        // dx = dy * f'(x) with dy = x; y (read by exp and tanh) is the GPU's own bf16 output on both sides.
        const Tensor y32 = y.to(Device::cpu()).to(DType::F32);
        EXPECT_GPU_CLOSE(cuda::unary_backward(op, ga, y, ga), cpu::unary_backward(op, a32, y32, a32), tol);
    }
    EXPECT_EQ(cuda::compare(cpu::CompareOp::Gt, ga, gb).to(Device::cpu()).to_vector<bool>(),
              cpu::compare(cpu::CompareOp::Gt, a32, b32).to_vector<bool>());
    const Tensor cond = gt(randn_cpu({8, 1}, 3), 0.0);
    EXPECT_GPU_CLOSE(cuda::where(cond.to(gpu()), ga, gb), cpu::where(cond, a32, b32), tol);
}

}  // namespace
}  // namespace mod
