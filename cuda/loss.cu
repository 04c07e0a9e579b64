// CUDA fused losses over contiguous (N, V) logits: the twin of core/cpu/loss.cpp, with the
// same outputs and formulas. One block per row; V may be a whole vocabulary (150k), so the
// softmax is never stored: forward reads each row once, keeping an online log-sum-exp
//   (m, s) with s = sum exp(v - m), rescaled by exp(m_old - m_new) when the max grows,
// and backward recomputes softmax(z) = exp(z - lse) from the saved row log-sum-exps.
// The mean over rows is a second, single-block kernel that adds the row losses in a fixed
// order, so the loss repeats bit for bit. Arithmetic is in acc_t (float for float32 and
// bfloat16, double for float64); the CPU adds float32 rows in double, so float32 results
// agree to float rounding, not bit for bit.
#include <algorithm>

#include "cuda/device_utils.cuh"
#include "cuda/loss.h"
#include "cuda/memory.h"

namespace mod::cuda {

namespace {

// The factor exp(m - mx) that moves a partial sum taken relative to max m onto max mx >= m;
// an empty part (m = -inf) contributes nothing, where exp(-inf - -inf) would be NaN.
template <typename A>
__device__ inline A rescale(A m, A mx) {
    return m == A(-INFINITY) ? A(0) : exp(m - mx);
}

// Online log-sum-exp of values v, carrying a weighted sum w = sum exp(v - m) * x of payloads
// x alongside s (soft cross-entropy needs sum_v p_T(v) * z_v; plain log-sum-exp passes x = 0).
template <typename A>
struct OnlineLse {
    A m = A(-INFINITY), s = 0, w = 0;

    __device__ void push(A v, A x) {
        if (v > m) {
            const A c = rescale(m, v);
            s = s * c + A(1);
            w = w * c + x;
            m = v;
        } else if (v != A(-INFINITY)) {  // a -inf value adds exp(-inf) = 0; a NaN still propagates
            const A e = exp(v - m);
            s += e;
            w += e * x;
        }
    }
    // Adds another state: both partial sums move onto the larger max.
    __device__ void merge(A m2, A s2, A w2) {
        const A mx = m2 > m ? m2 : m;
        const A c = rescale(m, mx), c2 = rescale(m2, mx);
        s = s * c + s2 * c2;
        w = w * c + w2 * c2;
        m = mx;
    }
    __device__ A lse() const { return m + log(s); }
};

// Merges every thread's state over the block. Thread 0 gets the result (other threads get it
// up to rounding: contracted multiply-adds make a merge depend on its operands' order); the
// order is fixed, so the result repeats bit for bit. `scratch` holds 3 * 32 values.
template <typename A>
__device__ inline void block_merge(OnlineLse<A>& st, A* scratch) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
    for (int o = 16; o > 0; o >>= 1)
        st.merge(__shfl_xor_sync(0xffffffffu, st.m, o), __shfl_xor_sync(0xffffffffu, st.s, o),
                 __shfl_xor_sync(0xffffffffu, st.w, o));
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0) {
        scratch[warp] = st.m;
        scratch[32 + warp] = st.s;
        scratch[64 + warp] = st.w;
    }
    __syncthreads();
    st = OnlineLse<A>{};
    if (lane < warps) st = OnlineLse<A>{scratch[lane], scratch[32 + lane], scratch[64 + lane]};
    for (int o = 16; o > 0; o >>= 1)
        st.merge(__shfl_xor_sync(0xffffffffu, st.m, o), __shfl_xor_sync(0xffffffffu, st.s, o),
                 __shfl_xor_sync(0xffffffffu, st.w, o));
}

// z (N, V), targets (N,) -> lse (N,) and row_loss (N,), 0 on ignored rows:
//   row_loss = (1 - eps) * (lse - z_t) + eps * (lse - mean_v z_v)
template <typename T>
__global__ void cross_entropy_forward_kernel(const T* z, const int64_t* targets, int64_t N, int64_t V,
                                             int64_t ignore_index, acc_t<T> smoothing, T* lse,
                                             acc_t<T>* row_loss) {
    using A = acc_t<T>;
    __shared__ A scratch[3 * 32];
    for (int64_t r = blockIdx.x; r < N; r += gridDim.x) {
        const T* zr = z + r * V;
        OnlineLse<A> st;
        A sum_z = 0;
        for (int64_t v = threadIdx.x; v < V; v += blockDim.x) {
            const A x = cast<A>(zr[v]);
            st.push(x, A(0));
            sum_z += x;
        }
        block_merge(st, scratch);
        // Only with smoothing, as on the CPU: 0 * an infinite mean would be NaN.
        if (smoothing != A(0)) sum_z = block_sum(sum_z, scratch);
        if (threadIdx.x == 0) {
            const A l = st.lse();
            const int64_t t = targets[r];
            A loss = 0;
            if (t != ignore_index) {
                loss = (A(1) - smoothing) * (l - cast<A>(zr[t]));
                if (smoothing != A(0)) loss += smoothing * (l - sum_z / A(V));
            }
            lse[r] = cast<T>(l);
            row_loss[r] = loss;
        }
    }
}

// row_loss (N,) -> loss = sum / count (0 when count is 0), count the rows whose target is
// not ignore_index (all N when targets is null), written to *valid. One block: a fixed order.
template <typename T, typename R>
__global__ void mean_loss_kernel(const R* row_loss, const int64_t* targets, int64_t N, int64_t ignore_index,
                                 T* loss, int64_t* valid) {
    using A = acc_t<T>;
    __shared__ A scratch[32];
    __shared__ int64_t count_scratch[32];
    A total = 0;
    int64_t count = 0;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
        total += cast<A>(row_loss[i]);
        count += targets ? targets[i] != ignore_index : 1;
    }
    total = block_sum(total, scratch);
    count = block_sum(count, count_scratch);
    if (threadIdx.x == 0) {
        *loss = cast<T>(count ? total / A(count) : A(0));
        if (valid) *valid = count;
    }
}

// dz (N, V) = scale * (softmax(z) - (1 - eps) onehot(t) - eps / V), 0 on ignored rows.
template <typename T>
__global__ void cross_entropy_backward_kernel(const T* z, const int64_t* targets, const T* lse, int64_t N,
                                              int64_t V, int64_t ignore_index, acc_t<T> off, acc_t<T> on,
                                              acc_t<T> scale, T* dz) {
    using A = acc_t<T>;
    for (int64_t r = blockIdx.x; r < N; r += gridDim.x) {
        const T* zr = z + r * V;
        T* dr = dz + r * V;
        const int64_t t = targets[r];
        if (t == ignore_index) {
            for (int64_t v = threadIdx.x; v < V; v += blockDim.x) dr[v] = cast<T>(A(0));
            continue;
        }
        const A l = cast<A>(lse[r]);
        for (int64_t v = threadIdx.x; v < V; v += blockDim.x) {
            A d = scale * (exp(cast<A>(zr[v]) - l) - off);
            if (v == t) d -= scale * on;
            dr[v] = cast<T>(d);
        }
    }
}

// z, t (N, V) -> lse_s, lse_t, row_loss (N,). With p_T = softmax(t / tau), in one pass:
//   sum_v p_T(v) (lse_s - z_v / tau) = lse_s - (sum_v exp(t_v / tau - m_t) z_v / tau) / s_t
// and row_loss = tau^2 times that.
template <typename T>
__global__ void soft_cross_entropy_forward_kernel(const T* z, const T* t, int64_t N, int64_t V, acc_t<T> tau,
                                                  acc_t<T> inv_tau, T* lse_s, T* lse_t, T* row_loss) {
    using A = acc_t<T>;
    __shared__ A scratch[3 * 32];
    for (int64_t r = blockIdx.x; r < N; r += gridDim.x) {
        const T *zr = z + r * V, *tr = t + r * V;
        OnlineLse<A> s_state, t_state;
        for (int64_t v = threadIdx.x; v < V; v += blockDim.x) {
            const A zs = cast<A>(zr[v]) * inv_tau;
            s_state.push(zs, A(0));
            t_state.push(cast<A>(tr[v]) * inv_tau, zs);
        }
        block_merge(s_state, scratch);
        block_merge(t_state, scratch);
        if (threadIdx.x == 0) {
            const A ls = s_state.lse();
            lse_s[r] = cast<T>(ls);
            lse_t[r] = cast<T>(t_state.lse());
            row_loss[r] = cast<T>((ls - t_state.w / t_state.s) * tau * tau);
        }
    }
}

// With log p_S = z / tau - lse_s, p_T = exp(t / tau - lse_t), c = row_loss / tau^2:
//   dz = coef * (p_S - p_T);  dt = coef * p_T * (-log p_S - c);  coef = scale * tau
// dz or dt may be null (not needed).
template <typename T>
__global__ void soft_cross_entropy_backward_kernel(const T* z, const T* t, const T* lse_s, const T* lse_t,
                                                   const T* row_loss, int64_t N, int64_t V, acc_t<T> tau,
                                                   acc_t<T> inv_tau, acc_t<T> coef, T* dz, T* dt) {
    using A = acc_t<T>;
    for (int64_t r = blockIdx.x; r < N; r += gridDim.x) {
        const T *zr = z + r * V, *tr = t + r * V;
        const A ls = cast<A>(lse_s[r]), lt = cast<A>(lse_t[r]);
        const A mean_c = cast<A>(row_loss[r]) / (tau * tau);  // sum_v p_T c_v
        for (int64_t v = threadIdx.x; v < V; v += blockDim.x) {
            const A log_ps = cast<A>(zr[v]) * inv_tau - ls;
            const A pt = exp(cast<A>(tr[v]) * inv_tau - lt);
            if (dz) dz[r * V + v] = cast<T>(coef * (exp(log_ps) - pt));
            if (dt) dt[r * V + v] = cast<T>(coef * pt * (-log_ps - mean_c));
        }
    }
}

}  // namespace

CrossEntropyForward cross_entropy_forward(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                                          double smoothing) {
    const int64_t N = logits.size(0), V = logits.size(1);
    const Device dev = logits.device();
    DeviceGuard guard(dev.index);
    cudaStream_t s = stream(dev.index);
    CrossEntropyForward out{Tensor::empty({}, logits.dtype(), dev), Tensor::empty({N}, logits.dtype(), dev),
                            0};
    Tensor valid = Tensor::empty({}, DType::I64, dev);
    dispatch_device_float(logits.dtype(), "cross_entropy", [&](auto zero) {
        using T = decltype(zero);
        using A = acc_t<T>;
        Tensor row_loss = Tensor::empty({N}, dtype_of<A>::value, dev);
        if (N > 0)
            cross_entropy_forward_kernel<T><<<row_blocks(N), kThreads, 0, s>>>(
                ptr<T>(logits), ptr<int64_t>(targets), N, V, ignore_index, static_cast<A>(smoothing),
                ptr<T>(out.lse), ptr<A>(row_loss));
        mean_loss_kernel<T, A><<<1, kThreads, 0, s>>>(ptr<A>(row_loss), ptr<int64_t>(targets), N,
                                                      ignore_index, ptr<T>(out.loss), ptr<int64_t>(valid));
    });
    check_launch("cross_entropy");
    // The one host value (autograd turns the mean's gradient into g / valid), so the one wait:
    // the copy runs on the stream, after the kernels above.
    copy_device_to_host(&out.valid, valid.raw_data(), sizeof(int64_t), dev.index);
    return out;
}

Tensor cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse,
                              int64_t ignore_index, double smoothing, double scale) {
    const int64_t N = logits.size(0), V = logits.size(1);
    const Device dev = logits.device();
    DeviceGuard guard(dev.index);
    Tensor dz = Tensor::empty(logits.shape(), logits.dtype(), dev);
    if (N == 0) return dz;
    dispatch_device_float(logits.dtype(), "cross_entropy_backward", [&](auto zero) {
        using T = decltype(zero);
        using A = acc_t<T>;
        cross_entropy_backward_kernel<T><<<row_blocks(N), kThreads, 0, stream(dev.index)>>>(
            ptr<T>(logits), ptr<int64_t>(targets), ptr<T>(lse), N, V, ignore_index,
            static_cast<A>(smoothing / V), static_cast<A>(1.0 - smoothing), static_cast<A>(scale),
            ptr<T>(dz));
    });
    check_launch("cross_entropy_backward");
    return dz;
}

SoftCrossEntropyForward soft_cross_entropy_forward(const Tensor& z, const Tensor& t, double tau) {
    const int64_t N = z.size(0), V = z.size(1);
    const Device dev = z.device();
    DeviceGuard guard(dev.index);
    cudaStream_t s = stream(dev.index);
    SoftCrossEntropyForward out{Tensor::empty({}, z.dtype(), dev), Tensor::empty({N}, z.dtype(), dev),
                                Tensor::empty({N}, z.dtype(), dev), Tensor::empty({N}, z.dtype(), dev)};
    dispatch_device_float(z.dtype(), "soft_cross_entropy", [&](auto zero) {
        using T = decltype(zero);
        using A = acc_t<T>;
        if (N > 0)
            soft_cross_entropy_forward_kernel<T><<<row_blocks(N), kThreads, 0, s>>>(
                ptr<T>(z), ptr<T>(t), N, V, static_cast<A>(tau), static_cast<A>(1.0 / tau), ptr<T>(out.lse_s),
                ptr<T>(out.lse_t), ptr<T>(out.row_loss));
        // The mean over all N rows: no targets, nothing ignored, no count to return.
        mean_loss_kernel<T, T>
            <<<1, kThreads, 0, s>>>(ptr<T>(out.row_loss), nullptr, N, 0, ptr<T>(out.loss), nullptr);
    });
    check_launch("soft_cross_entropy");
    return out;
}

std::pair<Tensor, Tensor> soft_cross_entropy_backward(const Tensor& z, const Tensor& t,
                                                      const SoftCrossEntropyForward& fwd, double tau,
                                                      double scale, bool need_dz, bool need_dt) {
    const int64_t N = z.size(0), V = z.size(1);
    const Device dev = z.device();
    DeviceGuard guard(dev.index);
    Tensor dz = need_dz ? Tensor::empty(z.shape(), z.dtype(), dev) : Tensor();
    Tensor dt = need_dt ? Tensor::empty(t.shape(), t.dtype(), dev) : Tensor();
    if (N == 0 || !(need_dz || need_dt)) return {dz, dt};
    dispatch_device_float(z.dtype(), "soft_cross_entropy_backward", [&](auto zero) {
        using T = decltype(zero);
        using A = acc_t<T>;
        soft_cross_entropy_backward_kernel<T><<<row_blocks(N), kThreads, 0, stream(dev.index)>>>(
            ptr<T>(z), ptr<T>(t), ptr<T>(fwd.lse_s), ptr<T>(fwd.lse_t), ptr<T>(fwd.row_loss), N, V,
            static_cast<A>(tau), static_cast<A>(1.0 / tau), static_cast<A>(scale * tau),
            need_dz ? ptr<T>(dz) : nullptr, need_dt ? ptr<T>(dt) : nullptr);
    });
    check_launch("soft_cross_entropy_backward");
    return {dz, dt};
}

}  // namespace mod::cuda
