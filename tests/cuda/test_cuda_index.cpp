// embedding, index_select, index_add, gather, scatter_add and topk on CUDA against the CPU,
// through the public ops: values, indices and the gradients of every float input, in
// float32 and float64. Indices repeat, so the adds on the GPU really collide; top-k runs on
// rows with many ties (the lower index first) in both its small-k and its sorting path.
#include <algorithm>
#include <cmath>

#include "core/index.h"
#include "core/random.h"
#include "cuda/cuda_testing.h"

namespace mod {
namespace {

using testing::gpu;
using testing::randn_cpu;
using testing::random_leaves;
using testing::Leaves;
using testing::Tolerance;
using testing::tolerance_for;

// Uniform int64 indices in [0, n) of `shape`.
Tensor random_index(const Shape& shape, int64_t n, uint64_t seed) {
    Generator gen(seed);
    std::vector<int64_t> idx;
    for (double u : rand(shape, gen, DType::F64).to_vector<double>())
        idx.push_back(std::min<int64_t>(n - 1, static_cast<int64_t>(u * n)));
    return Tensor::from_vector(idx, shape);
}

// Backpropagates the same random upstream gradient through both outputs.
void backward_both(const Tensor& out_cpu, const Tensor& out_gpu, uint64_t seed) {
    Tensor g = randn_cpu(out_cpu.shape(), seed, out_cpu.dtype());
    out_cpu.backward(g);
    out_gpu.backward(g.to(gpu()));
}

// Sums where indices repeat add in another order on the GPU (atomics): a few roundings.
Tolerance added_tolerance(DType dtype) {
    const Tolerance tol = tolerance_for(dtype);
    return {tol.rtol, tol.atol * 10};
}

TEST(CudaIndex, EmbeddingMatchesCpu) {
    MOD_REQUIRE_GPU();
    for (DType dtype : {DType::F32, DType::F64}) {
        SCOPED_TRACE(dtype_name(dtype));
        Leaves w = random_leaves({50, 24}, 1, dtype);
        Tensor ids = random_index({3, 40}, 50, 2);  // 120 ids over 50 rows: rows repeat
        Tensor e_cpu = embedding(w.cpu, ids), e_gpu = embedding(w.gpu, ids.to(gpu()));
        EXPECT_GPU_CLOSE(e_gpu, e_cpu, tolerance_for(dtype));
        backward_both(e_cpu, e_gpu, 3);
        EXPECT_GPU_CLOSE(w.gpu.grad(), w.cpu.grad(), added_tolerance(dtype));
    }
}

TEST(CudaIndex, IndexSelectMatchesCpu) {
    MOD_REQUIRE_GPU();
    for (DType dtype : {DType::F32, DType::F64}) {
        for (int64_t dim : {0, 1, 2}) {
            SCOPED_TRACE(std::string(dtype_name(dtype)) + " dim " + std::to_string(dim));
            Leaves x = random_leaves({4, 6, 5}, 4, dtype);
            Tensor idx = random_index({9}, x.cpu.size(dim), 5);
            Tensor y_cpu = index_select(x.cpu, dim, idx), y_gpu = index_select(x.gpu, dim, idx.to(gpu()));
            EXPECT_GPU_CLOSE(y_gpu, y_cpu, tolerance_for(dtype));
            backward_both(y_cpu, y_gpu, 6);
            EXPECT_GPU_CLOSE(x.gpu.grad(), x.cpu.grad(), added_tolerance(dtype));
        }
    }
}

TEST(CudaIndex, IndexAddMatchesCpu) {
    MOD_REQUIRE_GPU();
    for (DType dtype : {DType::F32, DType::F64}) {
        for (int64_t dim : {0, 1, 2}) {
            SCOPED_TRACE(std::string(dtype_name(dtype)) + " dim " + std::to_string(dim));
            Leaves x = random_leaves({5, 6, 3}, 7, dtype);
            Shape src_shape = x.cpu.shape();
            src_shape[dim] = 11;
            Leaves src = random_leaves(src_shape, 8, dtype);
            Tensor idx = random_index({11}, x.cpu.size(dim), 9);
            Tensor y_cpu = index_add(x.cpu, dim, idx, src.cpu);
            Tensor y_gpu = index_add(x.gpu, dim, idx.to(gpu()), src.gpu);
            EXPECT_GPU_CLOSE(y_gpu, y_cpu, added_tolerance(dtype));
            backward_both(y_cpu, y_gpu, 10);
            EXPECT_GPU_CLOSE(x.gpu.grad(), x.cpu.grad(), tolerance_for(dtype));
            EXPECT_GPU_CLOSE(src.gpu.grad(), src.cpu.grad(), tolerance_for(dtype));
        }
    }
}

TEST(CudaIndex, GatherMatchesCpu) {
    MOD_REQUIRE_GPU();
    for (DType dtype : {DType::F32, DType::F64}) {
        for (int64_t dim : {0, 1, 2}) {
            SCOPED_TRACE(std::string(dtype_name(dtype)) + " dim " + std::to_string(dim));
            Leaves x = random_leaves({4, 7, 3}, 11, dtype);
            Shape idx_shape = x.cpu.shape();
            idx_shape[dim] = 5;
            Tensor idx = random_index(idx_shape, x.cpu.size(dim), 12);
            Tensor y_cpu = gather(x.cpu, dim, idx), y_gpu = gather(x.gpu, dim, idx.to(gpu()));
            EXPECT_GPU_CLOSE(y_gpu, y_cpu, tolerance_for(dtype));
            backward_both(y_cpu, y_gpu, 13);
            EXPECT_GPU_CLOSE(x.gpu.grad(), x.cpu.grad(), added_tolerance(dtype));
        }
    }
}

TEST(CudaIndex, ScatterAddMatchesCpu) {
    MOD_REQUIRE_GPU();
    for (DType dtype : {DType::F32, DType::F64}) {
        for (int64_t dim : {0, 1, 2}) {
            SCOPED_TRACE(std::string(dtype_name(dtype)) + " dim " + std::to_string(dim));
            Leaves x = random_leaves({4, 7, 3}, 14, dtype);
            Shape idx_shape = x.cpu.shape();
            idx_shape[dim] = 9;
            Tensor idx = random_index(idx_shape, x.cpu.size(dim), 15);
            Leaves src = random_leaves(idx_shape, 16, dtype);
            Tensor y_cpu = scatter_add(x.cpu, dim, idx, src.cpu);
            Tensor y_gpu = scatter_add(x.gpu, dim, idx.to(gpu()), src.gpu);
            EXPECT_GPU_CLOSE(y_gpu, y_cpu, added_tolerance(dtype));
            backward_both(y_cpu, y_gpu, 17);
            EXPECT_GPU_CLOSE(x.gpu.grad(), x.cpu.grad(), tolerance_for(dtype));
            EXPECT_GPU_CLOSE(src.gpu.grad(), src.cpu.grad(), tolerance_for(dtype));
        }
    }
}

// Rows of small integers (many ties) or of distinct normals, top-k along `dim` on both
// devices: the same values, the same indices, the same gradient.
void check_topk(const Shape& shape, int64_t k, int64_t dim, bool largest, bool ties, DType dtype) {
    SCOPED_TRACE(std::string(dtype_name(dtype)) + " " + shape_str(shape) + " k=" + std::to_string(k) + " dim " +
                 std::to_string(dim) + (largest ? " largest" : " smallest") + (ties ? " ties" : ""));
    Tensor base = randn_cpu(shape, 18, DType::F64, ties ? 3.0 : 1.0);
    if (ties) {
        std::vector<double> v = base.to_vector<double>();
        for (double& e : v) e = std::round(e);
        base = Tensor::from_vector(v, shape);
    }
    Tensor x_cpu = base.to(dtype).requires_grad_();
    Tensor x_gpu = x_cpu.to(gpu()).detach().requires_grad_();
    auto [v_cpu, i_cpu] = topk(x_cpu, k, dim, largest);
    auto [v_gpu, i_gpu] = topk(x_gpu, k, dim, largest);
    // Values are copied, not computed, and each gradient entry receives at most one value:
    // both agree bit for bit.
    const Tolerance exact{0, 0};
    EXPECT_GPU_CLOSE(v_gpu, v_cpu, exact);
    EXPECT_EQ(i_gpu.dtype(), DType::I64);
    EXPECT_EQ(i_gpu.to(Device::cpu()).to_vector<int64_t>(), i_cpu.to_vector<int64_t>());
    backward_both(v_cpu, v_gpu, 19);
    EXPECT_GPU_CLOSE(x_gpu.grad(), x_cpu.grad(), exact);
}

TEST(CudaIndex, TopkMatchesCpu) {
    MOD_REQUIRE_GPU();
    for (DType dtype : {DType::F32, DType::F64}) {
        for (bool largest : {true, false}) {
            for (bool ties : {false, true}) {
                // Small k: the rounds path (MoE routing), along the last dim and a middle one.
                check_topk({6, 300}, 5, -1, largest, ties, dtype);
                check_topk({3, 40, 4}, 8, 1, largest, ties, dtype);
                // Large k and a whole-row sort (top-p sampling): the sorting path.
                check_topk({4, 1000}, 100, -1, largest, ties, dtype);
                check_topk({2, 3000}, 3000, -1, largest, ties, dtype);
            }
        }
    }
}

}  // namespace
}  // namespace mod
