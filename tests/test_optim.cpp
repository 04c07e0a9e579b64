// Optimizers against hand-written reference formulas in float64, the decay rule, clipping,
// the schedule, gradient accumulation, and bit-exact resume from a saved optimizer state.
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "autograd/grad_mode.h"
#include "core/elementwise.h"
#include "core/reduce.h"
#include "models/safetensors.h"
#include "nn/optim.h"
#include "testing.h"

namespace mod {
namespace {

// Gradient of step s for element i: varied signs and sizes, the same in test and reference.
double grad_value(int64_t s, int64_t i) {
    return std::sin(0.7 * static_cast<double>(i) + 1.3 * static_cast<double>(s)) *
           (1.0 + 0.1 * static_cast<double>(i));
}

void set_grads(const NamedTensors& params, int64_t s) {
    for (const auto& [name, p] : params) {
        std::vector<double> g(static_cast<size_t>(p.numel()));
        for (size_t i = 0; i < g.size(); ++i) g[i] = grad_value(s, static_cast<int64_t>(i));
        p.set_grad(Tensor::from_vector(g, p.shape()).to(p.dtype()));
    }
}

Tensor param(const Shape& shape, uint64_t seed, DType dtype = DType::F64) {
    return testing::leaf(shape, seed).detach().to(dtype).requires_grad_();
}

bool same_bits(const Tensor& a, const Tensor& b) {
    return a.dtype() == b.dtype() && a.shape() == b.shape() &&
           (a.numel() == 0 ||  // an empty tensor may have no memory to compare
            std::memcmp(a.contiguous().raw_data(), b.contiguous().raw_data(),
                        static_cast<size_t>(a.numel()) * dtype_size(a.dtype())) == 0);
}

TEST(Optim, AdamWMatchesReference) {
    const NamedTensors params{{"layer.weight", param({3, 4}, 1)}, {"layer.bias", param({4}, 2)}};
    const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
    AdamW opt(params, {lr, b1, b2, eps, wd});

    std::vector<std::vector<double>> p, m, v;
    for (const auto& entry : params) {
        p.push_back(entry.second.to_vector<double>());
        m.emplace_back(p.back().size(), 0.0);
        v.emplace_back(p.back().size(), 0.0);
    }
    for (int64_t t = 1; t <= 5; ++t) {
        set_grads(params, t);
        opt.step();
        for (size_t k = 0; k < params.size(); ++k) {
            const bool decay = k == 0;  // the weight matrix decays, the bias does not
            for (size_t i = 0; i < p[k].size(); ++i) {
                const double g = grad_value(t, static_cast<int64_t>(i));
                if (decay) p[k][i] -= lr * wd * p[k][i];
                m[k][i] = b1 * m[k][i] + (1 - b1) * g;
                v[k][i] = b2 * v[k][i] + (1 - b2) * g * g;
                const double m_hat = m[k][i] / (1 - std::pow(b1, t));
                const double v_hat = v[k][i] / (1 - std::pow(b2, t));
                p[k][i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
            }
        }
    }
    for (size_t k = 0; k < params.size(); ++k) {
        const std::vector<double> got = params[k].second.to_vector<double>();
        for (size_t i = 0; i < got.size(); ++i)
            EXPECT_NEAR(got[i], p[k][i], 1e-14)
                << params[k].first << "[" << i << "]";  // same formula, reordered roundings
    }
    EXPECT_EQ(opt.steps(), 5);
}

// float32 through the vectorised loop, on a small parameter and on one split over threads
// with ragged vector tails (301 x 113 > the parallel grain, not a multiple of 16).
TEST(Optim, AdamWFloat32TracksFloat64) {
    const NamedTensors p64{{"w", param({8, 8}, 3)}, {"big", param({301, 113}, 4)}};
    const NamedTensors p32{{"w", param({8, 8}, 3, DType::F32)}, {"big", param({301, 113}, 4, DType::F32)}};
    AdamW a64(p64, {1e-2, 0.9, 0.999, 1e-8, 0.01});
    AdamW a32(p32, {1e-2, 0.9, 0.999, 1e-8, 0.01});
    for (int64_t t = 1; t <= 10; ++t) {
        set_grads(p64, t);
        set_grads(p32, t);
        a64.step();
        a32.step();
    }
    EXPECT_EQ(a32.state_dict().at("exp_avg.w").dtype(), DType::F32);
    for (size_t k = 0; k < p64.size(); ++k) {
        const auto x64 = p64[k].second.to_vector<double>();
        const auto x32 = p32[k].second.to_vector<double>();
        for (size_t i = 0; i < x64.size(); ++i)
            ASSERT_NEAR(x32[i], x64[i], 1e-5) << p64[k].first << "[" << i << "]";  // float32 rounding, 10 steps
    }
}

TEST(Optim, DefaultDecayRule) {
    const Tensor matrix = Tensor::zeros({4, 4}), vector = Tensor::zeros({4});
    EXPECT_TRUE(default_decay_rule("model.layers.3.self_attn.q_proj.weight", matrix));
    EXPECT_TRUE(default_decay_rule("model.embed_tokens.weight", matrix));
    EXPECT_TRUE(default_decay_rule("model.layers.0.mlp.experts.1.gate_proj.weight", matrix));
    EXPECT_FALSE(default_decay_rule("vision_model.encoder.layers.0.mlp.fc1.bias", vector));
    EXPECT_FALSE(
        default_decay_rule("model.layers.0.self_attn.q_proj.bias", matrix));  // a bias, whatever its rank
    EXPECT_FALSE(default_decay_rule("model.norm.weight", vector));
    EXPECT_FALSE(default_decay_rule("model.layers.2.input_layernorm.weight", matrix));
    EXPECT_FALSE(default_decay_rule("vision_model.post_layernorm.weight", vector));
    EXPECT_FALSE(default_decay_rule("transformer.ln_f.weight", matrix));
    EXPECT_FALSE(default_decay_rule("model.mm_projector.0.scale", vector));  // rank 1
}

TEST(Optim, NoDecayRuleAppliedAndOverridable) {
    // With zero gradients the Adam term is 0, so only the decay moves a parameter.
    const NamedTensors params{
        {"fc.weight", param({2, 3}, 4)}, {"fc.bias", param({3}, 5)}, {"ln.weight", param({3}, 6)}};
    const std::vector<std::vector<double>> before{params[0].second.to_vector<double>(),
                                                  params[1].second.to_vector<double>(),
                                                  params[2].second.to_vector<double>()};
    const double lr = 0.1, wd = 0.5;
    AdamW opt(params, {lr, 0.9, 0.999, 1e-8, wd});
    for (const auto& entry : params) entry.second.set_grad(Tensor::zeros(entry.second.shape(), DType::F64));
    opt.step();
    const auto w = params[0].second.to_vector<double>();
    for (size_t i = 0; i < w.size(); ++i) EXPECT_DOUBLE_EQ(w[i], before[0][i] * (1 - lr * wd));
    EXPECT_EQ(params[1].second.to_vector<double>(), before[1]);
    EXPECT_EQ(params[2].second.to_vector<double>(), before[2]);

    AdamWOptions everything{lr, 0.9, 0.999, 1e-8, wd, [](const std::string&, const Tensor&) { return true; }};
    AdamW all(params, everything);
    all.step();
    const auto b = params[1].second.to_vector<double>();
    for (size_t i = 0; i < b.size(); ++i) EXPECT_DOUBLE_EQ(b[i], before[1][i] * (1 - lr * wd));
}

TEST(Optim, SkipsParametersWithoutGrad) {
    const NamedTensors params{{"a.weight", param({2, 2}, 7)}, {"b.weight", param({2, 2}, 8)}};
    AdamW opt(params, {0.1, 0.9, 0.999, 1e-8, 0.1});
    const auto b_before = params[1].second.to_vector<double>();
    const uint64_t b_version = params[1].second.version(), a_version = params[0].second.version();
    params[0].second.set_grad(Tensor::ones({2, 2}, DType::F64));
    opt.step();
    EXPECT_EQ(params[1].second.to_vector<double>(), b_before);
    EXPECT_EQ(params[1].second.version(), b_version);
    EXPECT_EQ(params[0].second.version(), a_version + 1);  // one bump per written tensor
    const auto state = opt.state_dict();
    EXPECT_EQ(state.at("step.a.weight").item(), 1.0);
    EXPECT_EQ(state.at("step.b.weight").item(), 0.0);
}

TEST(Optim, StepInvalidatesGraphsThatSavedTheParameter) {
    const NamedTensors params{{"w", param({3}, 9)}};
    const Tensor& w = params[0].second;
    SGD opt(params, {0.1});
    Tensor loss = sum(mul(w, w));  // saves w for backward
    w.set_grad(Tensor::ones({3}, DType::F64));
    opt.step();
    EXPECT_THROW(loss.backward(), AutogradError);
}

TEST(Optim, SGDMomentumMatchesReference) {
    for (bool nesterov : {false, true}) {
        const NamedTensors params{{"w.weight", param({2, 3}, 10)}, {"w.bias", param({3}, 11)}};
        const double lr = 0.05, mu = 0.9, wd = 0.01;
        SGD opt(params, {lr, mu, nesterov, wd});
        std::vector<std::vector<double>> p, buf;
        for (const auto& entry : params) {
            p.push_back(entry.second.to_vector<double>());
            buf.emplace_back(p.back().size(), 0.0);
        }
        for (int64_t t = 1; t <= 4; ++t) {
            set_grads(params, t);
            opt.step();
            for (size_t k = 0; k < params.size(); ++k) {
                for (size_t i = 0; i < p[k].size(); ++i) {
                    const double g = grad_value(t, static_cast<int64_t>(i)) + (k == 0 ? wd * p[k][i] : 0.0);
                    buf[k][i] = mu * buf[k][i] + g;
                    p[k][i] -= lr * (nesterov ? g + mu * buf[k][i] : buf[k][i]);
                }
            }
        }
        for (size_t k = 0; k < params.size(); ++k) {
            const auto got = params[k].second.to_vector<double>();
            for (size_t i = 0; i < got.size(); ++i)
                EXPECT_NEAR(got[i], p[k][i], 1e-14) << "nesterov " << nesterov;  // roundings only
        }
    }
}

TEST(Optim, ZeroGradDropsGradients) {
    const NamedTensors params{{"w", param({2}, 12)}};
    SGD opt(params);
    params[0].second.set_grad(Tensor::ones({2}, DType::F64));
    opt.zero_grad();
    EXPECT_FALSE(params[0].second.grad().defined());
}

TEST(Optim, ClipGradNormReference) {
    const NamedTensors params{
        {"a", param({2}, 13)}, {"b", param({2, 2}, 14, DType::F32)}, {"c", param({3}, 15)}};
    params[0].second.set_grad(Tensor::from_vector<double>({3.0, 4.0}, {2}));
    params[1].second.set_grad(Tensor::from_vector<float>({1.0f, 2.0f, 2.0f, 4.0f}, {2, 2}));
    // c has no gradient: skipped. Total norm = sqrt(9 + 16 + 1 + 4 + 4 + 16) = sqrt(50).
    const double norm = clip_grad_norm(params, 1.0);
    EXPECT_DOUBLE_EQ(norm, std::sqrt(50.0));
    const double scale = 1.0 / (std::sqrt(50.0) + 1e-6);
    const auto a = params[0].second.grad().to_vector<double>();
    EXPECT_DOUBLE_EQ(a[0], 3.0 * scale);
    EXPECT_DOUBLE_EQ(a[1], 4.0 * scale);
    const auto b = params[1].second.grad().to_vector<float>();
    EXPECT_FLOAT_EQ(b[3], static_cast<float>(4.0 * scale));
    EXPECT_FALSE(params[2].second.grad().defined());

    // Below the threshold nothing changes; the norm is still reported.
    const double clipped = clip_grad_norm(params, 10.0);
    EXPECT_NEAR(clipped, 1.0, 1e-6);  // max_norm / (norm + 1e-6) leaves the norm just under 1
    EXPECT_DOUBLE_EQ(params[0].second.grad().to_vector<double>()[0], 3.0 * scale);

    // A non-finite norm is returned as is and nothing is scaled.
    params[0].second.set_grad(Tensor::from_vector<double>({NAN, 1.0}, {2}));
    EXPECT_TRUE(std::isnan(clip_grad_norm(params, 1.0)));
    EXPECT_EQ(params[0].second.grad().to_vector<double>()[1], 1.0);
}

TEST(Optim, ClipGradNormStridedGradient) {
    const NamedTensors params{{"w", param({2, 3}, 16)}};
    const Tensor g = Tensor::from_vector<double>({30, 0, 0, 40, 0, 0}, {3, 2}).transpose(0, 1);
    params[0].second.set_grad(g);
    EXPECT_DOUBLE_EQ(clip_grad_norm(params, 5.0), 50.0);
    const auto got = params[0].second.grad().to_vector<double>();  // row-major of the (2,3) view
    EXPECT_NEAR(got[0], 3.0, 1e-6);
    EXPECT_NEAR(got[4], 4.0, 1e-6);
}

TEST(Optim, CosineScheduleValues) {
    const CosineSchedule s{1.0, 10, 110, 0.1};
    EXPECT_DOUBLE_EQ(s.lr_at(0), 0.0);    // warmup starts at 0, as transformers' schedule
    EXPECT_DOUBLE_EQ(s.lr_at(5), 0.5);    // linear
    EXPECT_DOUBLE_EQ(s.lr_at(10), 1.0);   // peak
    EXPECT_DOUBLE_EQ(s.lr_at(60), 0.55);  // half-way down: min + (base - min) / 2
    EXPECT_NEAR(s.lr_at(35), 0.1 + 0.9 * 0.5 * (1 + std::cos(std::acos(-1.0) / 4)), 1e-15);
    EXPECT_DOUBLE_EQ(s.lr_at(110), 0.1);  // end
    EXPECT_DOUBLE_EQ(s.lr_at(500), 0.1);  // past the end it stays at min_lr
    EXPECT_DOUBLE_EQ((CosineSchedule{2.0, 0, 100}).lr_at(0), 2.0);
    EXPECT_EQ(CosineSchedule::warmup_for(1000), 30);
    EXPECT_EQ(CosineSchedule::warmup_for(10), 1);  // ceil, as transformers
}

TEST(Optim, GradAccumulatorGroupsAndScales) {
    GradAccumulator acc(3, 7);  // groups of 3, 3 and 1
    std::vector<double> scales;
    std::vector<bool> steps;
    for (int i = 0; i < 7; ++i) {
        scales.push_back(acc.loss_scale());
        steps.push_back(acc.micro_step());
    }
    EXPECT_EQ(steps, (std::vector<bool>{false, false, true, false, false, true, true}));
    EXPECT_DOUBLE_EQ(scales[0], 1.0 / 3);
    EXPECT_DOUBLE_EQ(scales[5], 1.0 / 3);
    EXPECT_DOUBLE_EQ(scales[6], 1.0);
    GradAccumulator open_ended(2);
    EXPECT_FALSE(open_ended.micro_step());
    EXPECT_TRUE(open_ended.micro_step());
    EXPECT_DOUBLE_EQ(open_ended.loss_scale(), 0.5);
}

TEST(Optim, ResumeFromSavedStateIsBitExact) {
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("optim_state_" + std::to_string(::getpid()) + ".safetensors"))
                                 .string();
    const AdamWOptions options{3e-3, 0.9, 0.999, 1e-8, 0.05};
    for (DType dtype : {DType::F32, DType::F64}) {
        const NamedTensors a_params{{"fc.weight", param({4, 5}, 17, dtype)},
                                    {"fc.bias", param({5}, 18, dtype)}};
        AdamW a(a_params, options);
        for (int64_t t = 1; t <= 3; ++t) {
            set_grads(a_params, t);
            a.step();
        }
        // Checkpoint: parameters and optimizer state through files, as a trainer does.
        save_safetensors(path, a.state_dict());
        const std::map<std::string, Tensor> state = load_safetensors(path).tensors;
        NamedTensors b_params;
        for (const auto& [name, p] : a_params)
            b_params.emplace_back(name, p.detach().clone().requires_grad_());
        AdamW b(b_params, options);
        b.load_state_dict(state);
        EXPECT_EQ(b.steps(), 3);
        for (int64_t t = 4; t <= 6; ++t) {
            set_grads(a_params, t);
            set_grads(b_params, t);
            a.step();
            b.step();
        }
        for (size_t k = 0; k < a_params.size(); ++k)
            EXPECT_TRUE(same_bits(a_params[k].second, b_params[k].second))
                << a_params[k].first << " " << dtype_name(dtype);
        for (const auto& [name, t] : a.state_dict())
            EXPECT_TRUE(same_bits(t, b.state_dict().at(name))) << name;
    }
    std::filesystem::remove(path);
}

TEST(Optim, SGDStateRoundTrip) {
    const NamedTensors params{{"w", param({3}, 19)}};
    SGD a(params, {0.1, 0.9});
    set_grads(params, 1);
    a.step();
    const auto state = a.state_dict();
    ASSERT_EQ(state.size(), 2u);
    EXPECT_TRUE(state.count("momentum_buffer.w"));
    SGD b(params, {0.1, 0.9});
    b.load_state_dict(state);
    EXPECT_TRUE(same_bits(b.state_dict().at("momentum_buffer.w"), state.at("momentum_buffer.w")));
}

TEST(Optim, LoadStateDictListsEveryProblem) {
    const NamedTensors params{{"w", param({2, 3}, 20)}, {"b", param({3}, 21)}};
    AdamW opt(params);
    std::map<std::string, Tensor> state = opt.state_dict();
    state.erase("exp_avg.b");
    state["exp_avg_sq.w"] = Tensor::zeros({3, 2}, DType::F64);
    state["exp_avg.extra"] = Tensor::zeros({1});
    try {
        opt.load_state_dict(state);
        FAIL() << "expected ValueError";
    } catch (const ValueError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("[load_state_dict]"), std::string::npos) << msg;
        EXPECT_NE(msg.find("missing: exp_avg.b"), std::string::npos) << msg;
        EXPECT_NE(msg.find("unexpected: exp_avg.extra"), std::string::npos) << msg;
        EXPECT_NE(msg.find("mis-shaped: exp_avg_sq.w (2,3) expected, got (3,2)"), std::string::npos) << msg;
    }
}

TEST(Optim, RejectsBadParameters) {
    EXPECT_THROW(AdamW({{"w", Tensor::zeros({2})}}), ValueError);                     // does not require grad
    EXPECT_THROW(AdamW({{"w", param({2}, 22)}, {"w", param({2}, 23)}}), ValueError);  // duplicate name
    EXPECT_THROW(SGD({{"w", param({2}, 24)}}, {0.1, 0.0, true}), ValueError);  // nesterov without momentum
    const Tensor tied = param({2, 2}, 25);
    EXPECT_THROW(AdamW({{"embed.weight", tied}, {"lm_head.weight", tied}}),
                 ValueError);  // updated twice otherwise
}

}  // namespace
}  // namespace mod
