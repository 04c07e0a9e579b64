// The backward engine: accumulation, retain_graph, freed graphs, no-grad, detach, the
// version check, integer tensors, explicit output gradients, and that gradcheck fails on
// a wrong backward.
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/elementwise.h"
#include "core/matmul.h"
#include "core/profile.h"
#include "core/reduce.h"
#include "testing.h"

namespace mod {
namespace {

using testing::leaf;

TEST(Autograd, GradAccumulatesUntilZeroed) {
    Tensor x = Tensor::from_vector<double>({1, 2}, {2}).requires_grad_();
    sum(x * x).backward();
    EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 4}));
    sum(x * 3.0).backward();
    EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{5, 7}));
    x.zero_grad();
    EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, PathsThatMeetAreSummed) {
    Tensor x = Tensor::from_vector<double>({3}, {1}).requires_grad_();
    Tensor y = x * x;          // 2x
    Tensor z = y * x + y + x;  // d/dx (x^3 + x^2 + x) = 3x^2 + 2x + 1
    z.backward(Tensor::ones({1}, DType::F64));
    EXPECT_DOUBLE_EQ(x.grad().item(), 3 * 9 + 2 * 3 + 1);
}

TEST(Autograd, BackwardTwiceThroughFreedGraphRaises) {
    Tensor x = leaf({3}, 1);
    Tensor loss = sum(exp(x));
    loss.backward();
    try {
        loss.backward();
        FAIL() << "second backward should raise";
    } catch (const AutogradError& e) {
        EXPECT_NE(std::string(e.what()).find("retain_graph"), std::string::npos) << e.what();
    }
}

TEST(Autograd, RetainGraphAllowsASecondBackward) {
    Tensor x = Tensor::from_vector<double>({1, 2}, {2}).requires_grad_();
    Tensor loss = sum(x * x);
    loss.backward(Tensor(), /*retain_graph=*/true);
    loss.backward();
    EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{4, 8}));
}

TEST(Autograd, NoGradGuardRecordsNothing) {
    Tensor x = leaf({2}, 1);
    Tensor y;
    {
        NoGradGuard guard;
        y = x * 2.0;
        EXPECT_FALSE(GradMode::is_enabled());
    }
    EXPECT_TRUE(GradMode::is_enabled());
    EXPECT_FALSE(y.requires_grad());
    EXPECT_FALSE(y.grad_fn());
    EXPECT_THROW(y.backward(Tensor::ones({2}, DType::F64)), AutogradError);
}

TEST(Autograd, DetachCutsHistory) {
    Tensor x = leaf({2}, 1);
    Tensor d = (x * 2.0).detach();
    EXPECT_FALSE(d.requires_grad());
    EXPECT_TRUE(d.is_leaf());
    Tensor loss = sum(x * d);
    loss.backward();
    EXPECT_EQ(x.grad().to_vector<double>(), d.to_vector<double>());  // no gradient through d
}

TEST(Autograd, InPlaceChangeOfSavedTensorRaises) {
    Tensor w = leaf({3}, 1);
    Tensor t = Tensor::from_vector<double>({1, 2, 3}, {3});
    Tensor y = sum(w * t);  // mul saves t for dw = g * t
    t.fill_(0.0);
    try {
        y.backward();
        FAIL() << "backward should see the in-place write";
    } catch (const AutogradError& e) {
        EXPECT_NE(std::string(e.what()).find("modified in place"), std::string::npos) << e.what();
    }
}

TEST(Autograd, IntegerTensorsCarryNoGradient) {
    Tensor i = Tensor::arange(3);
    EXPECT_THROW(i.requires_grad_(), AutogradError);
    EXPECT_THROW(i.backward(), AutogradError);
}

TEST(Autograd, NonScalarBackwardNeedsAnExplicitGradient) {
    Tensor x = leaf({2, 2}, 1);
    Tensor y = x * 3.0;
    EXPECT_THROW(y.backward(), AutogradError);
    EXPECT_THROW(y.backward(Tensor::ones({3}, DType::F64)), ShapeError);
    y.backward(Tensor::full({2, 2}, 2.0, DType::F64));
    EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>(4, 6.0)));
}

TEST(Autograd, OnlyLeavesGetGradAndFrozenInputsAreSkipped) {
    Tensor w = leaf({2, 2}, 1);
    Tensor frozen = Tensor::ones({2, 2}, DType::F64);
    Tensor h = matmul(w, frozen);
    sum(h).backward();
    EXPECT_TRUE(w.grad().defined());
    EXPECT_FALSE(frozen.grad().defined());
    EXPECT_FALSE(h.grad().defined());
    EXPECT_FALSE(h.grad_fn()->needs_input_grad(1));
    EXPECT_THROW(h.requires_grad_(), AutogradError);  // not a leaf
}

TEST(Autograd, GradOwnsItsMemory) {
    // add's backward hands the same tensor to both inputs; each .grad must be its own copy.
    Tensor a = leaf({2}, 1), b = leaf({2}, 2);
    sum(a + b).backward();
    a.grad().fill_(5.0);
    EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{1, 1}));
}

TEST(Autograd, FreshGradientsAreKeptWithoutACopy) {
    // Linear's product x W^T: W's gradient is computed in W's layout and kept as .grad as it
    // is, with no clone; the values are those of dW = dY^T x.
    Tensor x = leaf({4, 3}, 1), w = leaf({5, 3}, 2);
    Profile p;
    {
        ProfileGuard guard(p);
        matmul(x, w.transpose(0, 1)).backward(Tensor::ones({4, 5}, DType::F64));
    }
    EXPECT_EQ(p.entries().count("clone"), 0u);
    ASSERT_TRUE(w.grad().is_contiguous());
    const std::vector<double> xv = x.to_vector<double>(), dw = w.grad().to_vector<double>();
    for (int64_t j = 0; j < 5; ++j)
        for (int64_t k = 0; k < 3; ++k)
            EXPECT_NEAR(dw[j * 3 + k], xv[k] + xv[3 + k] + xv[6 + k] + xv[9 + k], 1e-12);
    using V = const std::vector<Tensor>&;
    EXPECT_GRADCHECK([](V in) { return matmul(in[0], in[1].transpose(0, 1)); }, {leaf({2, 3, 4}, 3), leaf({5, 4}, 4)});
    // A caller's gradient tensor is not adopted: .grad is a copy.
    Tensor c = leaf({2}, 5);
    Tensor given = Tensor::ones({2}, DType::F64);
    (c * 2.0).backward(given);
    c.grad().fill_(7.0);
    EXPECT_EQ(given.to_vector<double>(), (std::vector<double>{1, 1}));
}

TEST(Autograd, GradcheckCatchesAWrongBackward) {
    // An op whose backward is deliberately off by a factor of 2: gradcheck must fail.
    auto broken_square = [](const std::vector<Tensor>& in) {
        Tensor x = in[0];
        Tensor out;
        {
            NoGradGuard g;
            out = x * x;
        }
        Tensor out_leaf = out.detach();
        SavedTensor sx(x);
        record("broken_square", out_leaf, {x}, [sx](const Tensor& g, const Node&) -> TensorList {
            return {g * sx.get("broken_square")};  // correct would be 2 g x
        });
        return out_leaf;
    };
    GradcheckResult r = gradcheck(broken_square, {leaf({4}, 3)});
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.message.find("analytic"), std::string::npos);
}

}  // namespace
}  // namespace mod
