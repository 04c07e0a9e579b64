// The models on the GPU: the tiny MLLM (ViT, projector, Qwen2 decoder, and the MoE student
// after upcycling) gives the CPU's logits, losses and parameter gradients; bf16 compute keeps
// float32 weights and stays close to float32.
#include "core/loss.h"
#include "cuda/cuda_testing.h"
#include "models/mllm.h"

namespace mod::testing {
namespace {

models::ModelFamilyConfig tiny() {
    return models::load_family_config(std::string(MOD_SOURCE_DIR) + "/configs/tiny.json");
}

struct Inputs {
    Tensor ids, pixels;
};

Inputs make_inputs(const models::MllmConfig& c, int64_t B, int64_t text) {
    const int64_t P = c.vision.num_patches(), T = P + text;
    std::vector<int64_t> ids(B * T);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t) ids[b * T + t] = t < P ? c.image_token_id : 1 + (b * 7 + t * 3) % 50;
    return {Tensor::from_vector<int64_t>(ids, {B, T}), randn_cpu({B, 3, c.vision.image_size, c.vision.image_size}, 9)};
}

Tensor loss_of(const models::LlavaModel& m, const Inputs& in, Generator* router) {
    Tensor logits = m.forward(in.ids.to(m.model->embed_tokens->weight.device()),
                              in.pixels.to(m.model->embed_tokens->weight.device()), Tensor(), nullptr, router)
                        .logits;
    const int64_t V = logits.size(-1);
    Tensor targets = in.ids.reshape({-1}).to(logits.device());
    return cross_entropy(logits.reshape({-1, V}), targets, /*ignore_index=*/-100);
}

void check_model_on_gpu(bool sparse) {
    const models::ModelFamilyConfig family = tiny();
    models::MllmConfig c = family.student_mllm(false);
    Generator gen(0);
    models::LlavaModel cpu_model(c, gen), gpu_model(c, gen);
    if (sparse) {
        Generator up(1);
        cpu_model.upcycle(up);
        Generator up2(1);
        gpu_model.upcycle(up2);
    }
    gpu_model.load_state_dict(cpu_model.state_dict());
    gpu_model.to(gpu());
    const Inputs in = make_inputs(c, 2, 6);
    Generator r1(5), r2(5);
    Tensor l_cpu = loss_of(cpu_model, in, &r1), l_gpu = loss_of(gpu_model, in, &r2);
    EXPECT_NEAR(l_gpu.item(), l_cpu.item(), 1e-4 * std::abs(l_cpu.item()));
    l_cpu.backward();
    l_gpu.backward();
    const auto cpu_params = cpu_model.named_parameters(), gpu_params = gpu_model.named_parameters();
    ASSERT_EQ(cpu_params.size(), gpu_params.size());
    for (size_t i = 0; i < cpu_params.size(); ++i) {
        const Tensor& gc = cpu_params[i].second.grad();
        const Tensor& gg = gpu_params[i].second.grad();
        ASSERT_EQ(gc.defined(), gg.defined()) << cpu_params[i].first;
        if (!gc.defined()) continue;
        EXPECT_EQ(gg.device(), gpu());
        EXPECT_GPU_CLOSE(gg, gc, (Tolerance{2e-3, 2e-5})) << cpu_params[i].first;
    }
}

TEST(CudaModels, DenseStudentMatchesTheCpu) {
    MOD_REQUIRE_GPU();
    check_model_on_gpu(false);
}

TEST(CudaModels, SparseStudentMatchesTheCpu) {
    MOD_REQUIRE_GPU();
    check_model_on_gpu(true);
}

TEST(CudaModels, Bfloat16ComputeKeepsFloat32WeightsAndStaysClose) {
    MOD_REQUIRE_GPU();
    models::MllmConfig c = tiny().student_mllm(false);
    Generator gen(0);
    models::LlavaModel m(c, gen);
    m.to(gpu());
    const Inputs in = make_inputs(c, 2, 6);
    const double f32 = loss_of(m, in, nullptr).item();
    m.set_compute_dtype(DType::BF16);
    Tensor loss = loss_of(m, in, nullptr);
    EXPECT_NEAR(loss.item(), f32, 2e-2 * std::abs(f32));
    loss.backward();
    for (const auto& [name, p] : m.named_parameters()) {
        EXPECT_EQ(p.dtype(), DType::F32) << name;
        if (p.grad().defined()) {
            EXPECT_EQ(p.grad().dtype(), DType::F32) << name;
        }
    }
}

}  // namespace
}  // namespace mod::testing
