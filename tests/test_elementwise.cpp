// Elementwise ops: values against std:: math, and a float64 gradient check for every op,
// with broadcast shapes and non-contiguous inputs.
#include <cmath>

#include "core/cpu/vector_math.h"
#include "core/elementwise.h"
#include "core/reduce.h"
#include "testing.h"

namespace mod {
namespace {

using testing::leaf;
using testing::transposed_leaf;
using testing::uniform_leaf;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

TEST(Elementwise, ArithmeticBroadcastsLikeNumpy) {
    Tensor a = Tensor::from_vector<float>({1, 2, 3}, {3, 1});
    Tensor b = Tensor::from_vector<float>({10, 20}, {1, 2});
    Tensor c = a + b;
    EXPECT_EQ(c.shape(), (Shape{3, 2}));
    EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{11, 21, 12, 22, 13, 23}));
    EXPECT_EQ((a * b).to_vector<float>(), (std::vector<float>{10, 20, 20, 40, 30, 60}));
    EXPECT_EQ((b - a).to_vector<float>(), (std::vector<float>{9, 19, 8, 18, 7, 17}));
    EXPECT_EQ((2.0 / a).to_vector<float>()[1], 1.0f);
    EXPECT_EQ((a - 1.0).to_vector<float>(), (std::vector<float>{0, 1, 2}));
}

TEST(Elementwise, BinaryGradientsWithBroadcast) {
    std::vector<Fn> fns = {
        [](const std::vector<Tensor>& x) { return x[0] + x[1]; },
        [](const std::vector<Tensor>& x) { return x[0] - x[1]; },
        [](const std::vector<Tensor>& x) { return x[0] * x[1]; },
        [](const std::vector<Tensor>& x) { return x[0] / (x[1] * x[1] + 1.0); },
        [](const std::vector<Tensor>& x) { return div(x[0], x[1]); },
    };
    for (const Fn& fn : fns) {
        EXPECT_GRADCHECK(fn, {leaf({3, 1, 4}, 1), leaf({2, 1}, 2)});
        EXPECT_GRADCHECK(fn, {transposed_leaf({4, 3}, 3), leaf({4, 3}, 4)});
    }
}

TEST(Elementwise, ScalarFormsGradients) {
    EXPECT_GRADCHECK([](const std::vector<Tensor>& x) { return (x[0] + 2.0) * 3.0 - 1.5; }, {leaf({5}, 1)});
    EXPECT_GRADCHECK([](const std::vector<Tensor>& x) { return 2.0 - x[0] / 4.0; }, {leaf({5}, 2)});
    EXPECT_GRADCHECK([](const std::vector<Tensor>& x) { return 3.0 / (x[0] * x[0] + 1.0); }, {leaf({5}, 3)});
}

TEST(Elementwise, UnaryGradients) {
    struct Case {
        const char* name;
        Fn fn;
        bool positive_only;
    };
    std::vector<Case> cases = {
        {"neg", [](const std::vector<Tensor>& x) { return neg(x[0]); }, false},
        {"exp", [](const std::vector<Tensor>& x) { return exp(x[0]); }, false},
        {"log", [](const std::vector<Tensor>& x) { return log(x[0]); }, true},
        {"sqrt", [](const std::vector<Tensor>& x) { return sqrt(x[0]); }, true},
        {"rsqrt", [](const std::vector<Tensor>& x) { return rsqrt(x[0]); }, true},
        {"pow", [](const std::vector<Tensor>& x) { return pow(x[0], 2.5); }, true},
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
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        // Kinks (abs, relu, clamp) at 0 or the bounds would break finite differences; random
        // normals land on them with probability 0.
        Tensor x = c.positive_only ? uniform_leaf({3, 4}, 7, 0.2, 3.0) : leaf({3, 4}, 7);
        EXPECT_GRADCHECK(c.fn, {x});
        Tensor xt = c.positive_only ? uniform_leaf({4, 3}, 8, 0.2, 3.0).detach().transpose(0, 1).requires_grad_()
                                    : transposed_leaf({3, 4}, 8);
        EXPECT_GRADCHECK(c.fn, {xt});
    }
}

TEST(Elementwise, ActivationValues) {
    Tensor x = Tensor::from_vector<double>({-1.0, 0.5, 2.0}, {3});
    auto v = [](const Tensor& t) { return t.to_vector<double>(); };
    for (size_t i = 0; i < 3; ++i) {
        const double u = x.to_vector<double>()[i];
        const double s = 1.0 / (1.0 + std::exp(-u));
        EXPECT_NEAR(v(silu(x))[i], u * s, 1e-15);
        EXPECT_NEAR(v(gelu(x))[i], 0.5 * u * (1 + std::erf(u / std::sqrt(2.0))), 1e-15);
        EXPECT_NEAR(v(quick_gelu(x))[i], u / (1.0 + std::exp(-1.702 * u)), 1e-15);
        EXPECT_NEAR(v(gelu_tanh(x))[i], v(gelu(x))[i], 1e-3);  // the tanh form approximates erf within 1e-3
    }
}

// The float32 exp behind sigmoid, SiLU and QuickGELU: within 3e-7 of e^x (in double) over its
// whole unclamped range, and saturating, not overflowing, beyond it.
TEST(Elementwise, VectorisedExpMatchesStdExp) {
    double worst = 0.0;
    for (double u = -87.0; u <= 88.0; u += 0.00731) {
        const float x = static_cast<float>(u);
        const double want = std::exp(static_cast<double>(x));
        worst = std::max(worst, std::abs(cpu::exp_f32(x) - want) / want);
    }
    EXPECT_LT(worst, 3e-7);
    EXPECT_EQ(cpu::exp_f32(0.0f), 1.0f);
    EXPECT_TRUE(std::isfinite(cpu::exp_f32(1000.0f)));
    EXPECT_GT(cpu::exp_f32(-1000.0f), 0.0f);
    EXPECT_LT(cpu::sigmoid_of(-1000.0f), 1e-38f);  // 1 / (1 + e^88.3): zero for any later use
    EXPECT_GE(cpu::sigmoid_of(-1000.0f), 0.0f);
    EXPECT_EQ(cpu::sigmoid_of(1000.0f), 1.0f);
}

// float32 activations, contiguous (the vectorised loop) and strided, against double.
TEST(Elementwise, Float32ActivationsMatchDouble) {
    Tensor x = testing::leaf({64, 33}, 7).detach() * 4.0;
    for (const Tensor& in : {x, x.transpose(0, 1)}) {
        for (auto f : {silu, quick_gelu, sigmoid}) {
            const std::vector<double> want = f(in).to_vector<double>();
            const std::vector<double> got = f(in.to(DType::F32)).to_vector<double>();
            for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6 * (1 + std::abs(want[i])));
            // The backward too: d/dx of sum(f(x)), float32 against double.
            Tensor x64 = in.contiguous().detach().requires_grad_();
            Tensor x32 = in.to(DType::F32).detach().requires_grad_();
            sum(f(x64) * f(x64).detach()).backward();
            sum(f(x32) * f(x32).detach()).backward();
            const std::vector<double> g64 = x64.grad().to_vector<double>(), g32 = x32.grad().to_vector<double>();
            for (size_t i = 0; i < g64.size(); ++i) EXPECT_NEAR(g32[i], g64[i], 2e-5 * (1 + std::abs(g64[i])));
        }
    }
}

// The fused SwiGLU activation: silu(g) * u in values, a float64 gradient check (contiguous
// and transposed operands), and float32 against float64 for its vectorised loops.
TEST(Elementwise, SwigluIsSiluTimesUp) {
    Tensor g = leaf({5, 7}, 1), u = leaf({5, 7}, 2);
    const std::vector<double> want = (silu(g) * u).to_vector<double>(), got = swiglu(g, u).to_vector<double>();
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-15);
    Fn fn = [](const std::vector<Tensor>& x) { return swiglu(x[0], x[1]); };
    EXPECT_GRADCHECK(fn, {g, u});
    EXPECT_GRADCHECK(fn, {transposed_leaf({5, 7}, 3), leaf({5, 7}, 4)});

    Tensor g64 = (g.detach() * 4.0).requires_grad_(), u64 = u.detach().requires_grad_();
    Tensor g32 = g64.detach().to(DType::F32).requires_grad_(), u32 = u64.detach().to(DType::F32).requires_grad_();
    Tensor h64 = swiglu(g64, u64), h32 = swiglu(g32, u32);
    const std::vector<double> v64 = h64.to_vector<double>(), v32 = h32.to_vector<double>();
    for (size_t i = 0; i < v64.size(); ++i) EXPECT_NEAR(v32[i], v64[i], 1e-6 * (1 + std::abs(v64[i])));
    sum(h64 * h64.detach()).backward();
    sum(h32 * h32.detach()).backward();
    for (const auto& [a, b] : {std::pair{g64, g32}, std::pair{u64, u32}}) {
        const std::vector<double> d64 = a.grad().to_vector<double>(), d32 = b.grad().to_vector<double>();
        for (size_t i = 0; i < d64.size(); ++i) EXPECT_NEAR(d32[i], d64[i], 2e-5 * (1 + std::abs(d64[i])));
    }
}

TEST(Elementwise, WhereAndMaskedFill) {
    Tensor a = leaf({2, 3}, 1), b = leaf({3}, 2);
    Tensor cond = gt(Tensor::from_vector<double>({1, -1, 1}, {3}), 0.0);
    EXPECT_EQ(cond.dtype(), DType::Bool);
    Tensor w = where(cond, a, b);
    EXPECT_EQ(w.to_vector<double>()[1], b.to_vector<double>()[1]);
    EXPECT_EQ(w.to_vector<double>()[3], a.to_vector<double>()[3]);
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& x) { return where(cond, x[0], x[1]); }, {a, b});
    Tensor mask = lt(Tensor::from_vector<double>({0, 1, 0, 1, 0, 1}, {2, 3}), 0.5);
    Tensor filled = masked_fill(a, mask, -7.0);
    EXPECT_EQ(filled.to_vector<double>()[0], -7.0);
    EXPECT_EQ(filled.to_vector<double>()[1], a.to_vector<double>()[1]);
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& x) { return masked_fill(x[0], mask, 3.0); }, {a});
}

TEST(Elementwise, BadCallsRaiseTypedErrors) {
    Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 3});
    EXPECT_THROW(add(a, b), ShapeError);
    try {
        mul(a, b);
        FAIL();
    } catch (const ShapeError& e) {
        EXPECT_STREQ(e.what(), "[mul] shapes that broadcast expected, got (2,3) and (4,3)");
    }
    EXPECT_THROW(add(a, Tensor::zeros({2, 3}, DType::F64)), DTypeError);
    EXPECT_THROW(exp(Tensor::zeros({2}, DType::I64)), DTypeError);
    EXPECT_THROW(where(Tensor::zeros({3}), a, a), DTypeError);
    EXPECT_THROW(clamp(a, 1.0, 0.0), ValueError);
    try {
        swiglu(a, Tensor::zeros({3}));  // broadcastable, but SwiGLU takes no broadcasting
        FAIL();
    } catch (const ShapeError& e) {
        EXPECT_STREQ(e.what(), "[swiglu] gate and up of one shape expected, got (2,3) and (3)");
    }
}

}  // namespace
}  // namespace mod
