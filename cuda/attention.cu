// CUDA RoPE and flash attention, forward and backward: the twin of core/cpu/attention.cpp,
// with the same semantics (see core/attention.h for the op). The kernels here compute in
// float32 and float64; bfloat16 q, k, v go to the tensor-core kernels of
// cuda/attention_bf16.cu (bfloat16 out and gradients, float32 lse).
//
// Shape letters: B batch, H query heads, Hkv key/value heads, T queries, S keys, Dh head
// dim. q, out, dout (B, H, T, Dh); k, v (B, Hkv, S, Dh); lse (B, H, T) in q's dtype; all
// contiguous. Query head h reads key/value head h / (H / Hkv). Causal: query i sees keys
// j <= i + (S - T), so a query block at the end of a KV cache works.
//
// Forward: one block per (b, h, tile of Br query rows), looping over tiles of Bc keys with
// an online softmax, so no T x S matrix exists:
//   S = scale Q K^T (masked to -inf)
//   m' = max(m, rowmax S),  P = exp(S - m'),  l' = l exp(m - m') + rowsum P,
//   O' = O exp(m - m') + P V;   at the end out = O / l,  lse = m + log l
// Backward recomputes P = exp(S - lse) tile by tile, with D = rowsum(dO * out) first:
//   dP = dO V^T,  dS = P (dP - D),  dQ = scale dS K,  dK = scale dS^T Q,  dV = P^T dO
// dQ: one block per (b, h, query tile), looping over key tiles. dK, dV: one block per
// (b, kv head, key tile), looping over the query tiles of every query head of its group,
// so each gradient element has one owner: no atomics, deterministic, like the CPU.
//
// The kernels are scalar FMAs from shared memory (no tensor cores); correctness first.
// A block is 16 x 16 threads; thread (ty, tx) owns rows ty + 16a and columns tx + 16b of a
// score tile and rows ty + 16a, head-dim columns tx + 16c of an output tile, so a
// thread's score rows are also its output rows (the softmax rescale stays in registers)
// and the 16 threads of one row sit in one half-warp (row max and sum are shuffles).
// Tiles are square, Br = Bc = 16 kR rows: kR = 4 in float32, 2 in float64 (twice the
// bytes per element; keeps shared memory under the 227 KB opt-in and registers unspilled).
// The head dim is bucketed to kDh = 32, 64 or 128 at compile time; columns past the real
// Dh are loaded as zeros, so they add nothing to any dot product.
#include "cuda/attention.h"

#include <algorithm>
#include <type_traits>

#include "core/error.h"
#include "cuda/attention_bf16.h"
#include "cuda/device_utils.cuh"

namespace mod::cuda {

namespace {

constexpr int kMaxHeadDim = 128;
constexpr int kSide = 16;  // threads per block side: 16 x 16 = kThreads

struct Dims {
    int64_t H, Hkv, T, S;
    int64_t offset;  // S - T: how far the causal diagonal is shifted right
    int Dh;
};

Dims dims_of(const Tensor& q, const Tensor& k) {
    return {q.size(1), k.size(1), q.size(2), k.size(2), k.size(2) - q.size(2), static_cast<int>(q.size(3))};
}

// Tile geometry of one (dtype, head-dim bucket). Rows of head-dim tiles are padded to
// kDh + 1 elements and rows of score tiles to kRows + 1, so that the 16 threads reading
// one column of 16 different rows hit 16 different banks.
template <typename T, int kDh>
struct Tile {
    static constexpr int kR = sizeof(T) == 4 ? 4 : 2;  // rows (and score columns) per thread
    static constexpr int kRows = kSide * kR;           // Br = Bc
    static constexpr int kC = kDh / kSide;             // head-dim columns per thread
    static constexpr int kLd = kDh + 1;                // row stride of Q, K, V, dO tiles
    static constexpr int kLdS = kRows + 1;             // row stride of P, dS tiles
    static constexpr int kHead = kRows * kLd;          // elements of one head-dim tile
    static constexpr int kScore = kRows * kLdS;        // elements of one score tile
};

template <typename T, int kDh>
constexpr size_t forward_smem() {  // Q, K, V, P
    using C = Tile<T, kDh>;
    return (3 * C::kHead + C::kScore) * sizeof(T);
}
template <typename T, int kDh>
constexpr size_t dq_smem() {  // Q, dO, K, V, dS, lse, D
    using C = Tile<T, kDh>;
    return (4 * C::kHead + C::kScore + 2 * C::kRows) * sizeof(T);
}
template <typename T, int kDh>
constexpr size_t dkv_smem() {  // K, V, Q, dO, P, dS, lse, D
    using C = Tile<T, kDh>;
    return (4 * C::kHead + 2 * C::kScore + 2 * C::kRows) * sizeof(T);
}
static_assert(dkv_smem<float, kMaxHeadDim>() <= 227 * 1024 && dkv_smem<double, kMaxHeadDim>() <= 227 * 1024,
              "attention tiles must fit the 227 KB of shared memory a Hopper block may opt into");

__device__ inline float exp_of(float x) { return expf(x); }
__device__ inline double exp_of(double x) { return exp(x); }
__device__ inline float log_of(float x) { return logf(x); }
__device__ inline double log_of(double x) { return log(x); }

// Max and sum over the 16 threads of a score row: tx is the low 4 bits of the lane, so
// xor-shuffles by 8, 4, 2, 1 stay within the row's half-warp.
template <typename T>
__device__ inline T row_max(T v) {
    for (int o = kSide / 2; o > 0; o >>= 1) {
        const T w = __shfl_xor_sync(0xffffffffu, v, o);
        v = w > v ? w : v;
    }
    return v;
}
template <typename T>
__device__ inline T row_sum(T v) {
    for (int o = kSide / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// dst (kRows, kLd) <- rows row0.. of src (n_rows, Dh); rows past n_rows and columns past
// Dh are zero. Consecutive threads read consecutive elements of a row.
template <typename T, int kDh>
__device__ inline void load_rows(T* dst, const T* src, int64_t row0, int64_t n_rows, int Dh, int tid) {
    using C = Tile<T, kDh>;
    for (int idx = tid; idx < C::kRows * kDh; idx += kThreads) {
        const int r = idx / kDh, c = idx % kDh;
        const int64_t row = row0 + r;
        dst[r * C::kLd + c] = row < n_rows && c < Dh ? src[row * Dh + c] : T(0);
    }
}

// dst (kRows) <- src[row0..], zero past n_rows.
template <typename T, int kRows>
__device__ inline void load_vector(T* dst, const T* src, int64_t row0, int64_t n_rows, int tid) {
    if (tid < kRows) dst[tid] = row0 + tid < n_rows ? src[row0 + tid] : T(0);
}

// Whether query i may attend to key j (both global indices within their sequences).
__device__ inline bool visible(const Dims& d, bool causal, int64_t i, int64_t j) {
    return j < d.S && (!causal || j <= i + d.offset);
}

// One past the last key a query tile [r0, r0 + kRows) sees.
__device__ inline int64_t key_end(const Dims& d, bool causal, int64_t r0, int kRows) {
    const int64_t last_row = (r0 + kRows < d.T ? r0 + kRows : d.T) - 1;
    return causal && last_row + d.offset + 1 < d.S ? last_row + d.offset + 1 : d.S;
}

// grid (B * H, query tiles), block (16, 16). The last query tiles, which see the most keys
// under a causal mask, are scheduled first.
template <typename T, int kDh>
__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(const T* q, const T* k, const T* v, T* out, T* lse, Dims d, bool causal, T scale) {
    using C = Tile<T, kDh>;
    constexpr int kR = C::kR, kRows = C::kRows, kLd = C::kLd, kLdS = C::kLdS;
    extern __shared__ __align__(16) unsigned char smem[];
    T* Qs = reinterpret_cast<T*>(smem);
    T* Ks = Qs + C::kHead;
    T* Vs = Ks + C::kHead;
    T* Ps = Vs + C::kHead;

    const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * kSide + tx;
    const int64_t bh = blockIdx.x, b = bh / d.H, h = bh % d.H;
    const int64_t kvh = b * d.Hkv + h / (d.H / d.Hkv);
    const int64_t r0 = int64_t(gridDim.y - 1 - blockIdx.y) * kRows;
    const T* kb = k + kvh * d.S * d.Dh;
    const T* vb = v + kvh * d.S * d.Dh;
    load_rows<T, kDh>(Qs, q + bh * d.T * d.Dh, r0, d.T, d.Dh, tid);

    T m[kR], l[kR], o[kR][C::kC];
#pragma unroll
    for (int a = 0; a < kR; ++a) {
        m[a] = T(-INFINITY);
        l[a] = T(0);
#pragma unroll
        for (int c = 0; c < C::kC; ++c) o[a][c] = T(0);
    }

    const int64_t s_end = key_end(d, causal, r0, kRows);
    for (int64_t c0 = 0; c0 < s_end; c0 += kRows) {
        __syncthreads();  // the previous tile's K, V, P are no longer read
        load_rows<T, kDh>(Ks, kb, c0, d.S, d.Dh, tid);
        load_rows<T, kDh>(Vs, vb, c0, d.S, d.Dh, tid);
        __syncthreads();

        // s = Q K^T for this thread's rows ty + 16a and keys tx + 16b.
        T s[kR][kR] = {};
#pragma unroll 8
        for (int x = 0; x < kDh; ++x) {
            T qx[kR], kx[kR];
#pragma unroll
            for (int a = 0; a < kR; ++a) qx[a] = Qs[(ty + kSide * a) * kLd + x];
#pragma unroll
            for (int bb = 0; bb < kR; ++bb) kx[bb] = Ks[(tx + kSide * bb) * kLd + x];
#pragma unroll
            for (int a = 0; a < kR; ++a)
#pragma unroll
                for (int bb = 0; bb < kR; ++bb) s[a][bb] += qx[a] * kx[bb];
        }

        // Online softmax: rescale what was accumulated to the new row max, add this tile.
#pragma unroll
        for (int a = 0; a < kR; ++a) {
            const int row = ty + kSide * a;
            T tile_max = T(-INFINITY);
#pragma unroll
            for (int bb = 0; bb < kR; ++bb) {
                s[a][bb] = visible(d, causal, r0 + row, c0 + tx + kSide * bb) ? s[a][bb] * scale : T(-INFINITY);
                tile_max = s[a][bb] > tile_max ? s[a][bb] : tile_max;
            }
            tile_max = row_max(tile_max);
            const T m_new = tile_max > m[a] ? tile_max : m[a];
            // A row that has seen no key yet keeps m = -inf; shifting by 0 then keeps
            // exp() at 0 instead of exp(-inf + inf) = NaN.
            const T shift = m_new == T(-INFINITY) ? T(0) : m_new;
            const T alpha = exp_of(m[a] - shift);
            T tile_sum = T(0);
#pragma unroll
            for (int bb = 0; bb < kR; ++bb) {
                const T p = exp_of(s[a][bb] - shift);
                Ps[row * kLdS + tx + kSide * bb] = p;
                tile_sum += p;
            }
            l[a] = l[a] * alpha + row_sum(tile_sum);
            m[a] = m_new;
#pragma unroll
            for (int c = 0; c < C::kC; ++c) o[a][c] *= alpha;
        }
        __syncthreads();

        // o += P V for head-dim columns tx + 16c.
#pragma unroll 4
        for (int j = 0; j < kRows; ++j) {
            T vj[C::kC];
#pragma unroll
            for (int c = 0; c < C::kC; ++c) vj[c] = Vs[j * kLd + tx + kSide * c];
#pragma unroll
            for (int a = 0; a < kR; ++a) {
                const T p = Ps[(ty + kSide * a) * kLdS + j];
#pragma unroll
                for (int c = 0; c < C::kC; ++c) o[a][c] += p * vj[c];
            }
        }
    }

#pragma unroll
    for (int a = 0; a < kR; ++a) {
        const int64_t i = r0 + ty + kSide * a;
        if (i >= d.T) continue;
        // l = 0 only when no key is visible at all (S = 0): the output is then 0.
        const T inv = l[a] > T(0) ? T(1) / l[a] : T(0);
        T* orow = out + (bh * d.T + i) * d.Dh;
#pragma unroll
        for (int c = 0; c < C::kC; ++c) {
            const int x = tx + kSide * c;
            if (x < d.Dh) orow[x] = o[a][c] * inv;
        }
        if (tx == 0) lse[bh * d.T + i] = l[a] > T(0) ? m[a] + log_of(l[a]) : T(-INFINITY);
    }
}

// D[r] = sum_x dout[r, x] out[r, x] over rows r of (rows, Dh): one warp per row.
template <typename T>
__global__ void row_dot_kernel(const T* dout, const T* out, T* D, int64_t rows, int Dh) {
    const int lane = threadIdx.x % 32, warps_per_block = blockDim.x / 32;
    const int64_t stride = int64_t(gridDim.x) * warps_per_block;
    for (int64_t r = int64_t(blockIdx.x) * warps_per_block + threadIdx.x / 32; r < rows; r += stride) {
        T acc = T(0);
        for (int x = lane; x < Dh; x += 32) acc += dout[r * Dh + x] * out[r * Dh + x];
        acc = warp_sum(acc);
        if (lane == 0) D[r] = acc;
    }
}

// S and dP of one (query tile, key tile) pair for this thread's query rows ty + 16a and
// keys tx + 16b, from the tiles in shared memory; then P = exp(S - lse), masked, and
// dS = P (dP - D). Shared by both backward kernels, which only differ in what they own.
template <typename T, int kDh>
__device__ inline void backward_scores(T (&p)[Tile<T, kDh>::kR][Tile<T, kDh>::kR],
                                       T (&ds)[Tile<T, kDh>::kR][Tile<T, kDh>::kR], const T* Qs, const T* dOs,
                                       const T* Ks, const T* Vs, const T* Ls, const T* Ds, const Dims& d,
                                       bool causal, T scale, int64_t r0, int64_t c0, int tx, int ty) {
    using C = Tile<T, kDh>;
    constexpr int kR = C::kR, kLd = C::kLd;
    T s[kR][kR] = {}, dp[kR][kR] = {};
#pragma unroll 4
    for (int x = 0; x < kDh; ++x) {
        T qx[kR], dox[kR], kx[kR], vx[kR];
#pragma unroll
        for (int a = 0; a < kR; ++a) {
            qx[a] = Qs[(ty + kSide * a) * kLd + x];
            dox[a] = dOs[(ty + kSide * a) * kLd + x];
        }
#pragma unroll
        for (int bb = 0; bb < kR; ++bb) {
            kx[bb] = Ks[(tx + kSide * bb) * kLd + x];
            vx[bb] = Vs[(tx + kSide * bb) * kLd + x];
        }
#pragma unroll
        for (int a = 0; a < kR; ++a)
#pragma unroll
            for (int bb = 0; bb < kR; ++bb) {
                s[a][bb] += qx[a] * kx[bb];
                dp[a][bb] += dox[a] * vx[bb];
            }
    }
#pragma unroll
    for (int a = 0; a < kR; ++a) {
        const int row = ty + kSide * a;
        const int64_t i = r0 + row;
#pragma unroll
        for (int bb = 0; bb < kR; ++bb) {
            // Query rows past T are padding: their lse and D are zeros, not values.
            const bool on = i < d.T && visible(d, causal, i, c0 + tx + kSide * bb);
            p[a][bb] = on ? exp_of(s[a][bb] * scale - Ls[row]) : T(0);
            ds[a][bb] = p[a][bb] * (dp[a][bb] - Ds[row]);
        }
    }
}

// dQ = scale dS K. grid (B * H, query tiles), block (16, 16); last query tiles first.
template <typename T, int kDh>
__global__ void __launch_bounds__(kThreads)
    attention_dq_kernel(const T* dout, const T* q, const T* k, const T* v, const T* lse, const T* D, T* dq,
                        Dims d, bool causal, T scale) {
    using C = Tile<T, kDh>;
    constexpr int kR = C::kR, kRows = C::kRows, kLd = C::kLd, kLdS = C::kLdS;
    extern __shared__ __align__(16) unsigned char smem[];
    T* Qs = reinterpret_cast<T*>(smem);
    T* dOs = Qs + C::kHead;
    T* Ks = dOs + C::kHead;
    T* Vs = Ks + C::kHead;
    T* dSs = Vs + C::kHead;
    T* Ls = dSs + C::kScore;
    T* Ds = Ls + kRows;

    const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * kSide + tx;
    const int64_t bh = blockIdx.x, b = bh / d.H, h = bh % d.H;
    const int64_t kvh = b * d.Hkv + h / (d.H / d.Hkv);
    const int64_t r0 = int64_t(gridDim.y - 1 - blockIdx.y) * kRows;
    const T* kb = k + kvh * d.S * d.Dh;
    const T* vb = v + kvh * d.S * d.Dh;
    load_rows<T, kDh>(Qs, q + bh * d.T * d.Dh, r0, d.T, d.Dh, tid);
    load_rows<T, kDh>(dOs, dout + bh * d.T * d.Dh, r0, d.T, d.Dh, tid);
    load_vector<T, kRows>(Ls, lse + bh * d.T, r0, d.T, tid);
    load_vector<T, kRows>(Ds, D + bh * d.T, r0, d.T, tid);

    T acc[kR][C::kC] = {};
    const int64_t s_end = key_end(d, causal, r0, kRows);
    for (int64_t c0 = 0; c0 < s_end; c0 += kRows) {
        __syncthreads();  // the previous tile's K, V, dS are no longer read
        load_rows<T, kDh>(Ks, kb, c0, d.S, d.Dh, tid);
        load_rows<T, kDh>(Vs, vb, c0, d.S, d.Dh, tid);
        __syncthreads();

        T p[kR][kR], ds[kR][kR];
        backward_scores<T, kDh>(p, ds, Qs, dOs, Ks, Vs, Ls, Ds, d, causal, scale, r0, c0, tx, ty);
#pragma unroll
        for (int a = 0; a < kR; ++a)
#pragma unroll
            for (int bb = 0; bb < kR; ++bb) dSs[(ty + kSide * a) * kLdS + tx + kSide * bb] = ds[a][bb];
        __syncthreads();

#pragma unroll 4
        for (int j = 0; j < kRows; ++j) {
            T kj[C::kC];
#pragma unroll
            for (int c = 0; c < C::kC; ++c) kj[c] = Ks[j * kLd + tx + kSide * c];
#pragma unroll
            for (int a = 0; a < kR; ++a) {
                const T g = dSs[(ty + kSide * a) * kLdS + j];
#pragma unroll
                for (int c = 0; c < C::kC; ++c) acc[a][c] += g * kj[c];
            }
        }
    }

#pragma unroll
    for (int a = 0; a < kR; ++a) {
        const int64_t i = r0 + ty + kSide * a;
        if (i >= d.T) continue;
        T* row = dq + (bh * d.T + i) * d.Dh;
#pragma unroll
        for (int c = 0; c < C::kC; ++c) {
            const int x = tx + kSide * c;
            if (x < d.Dh) row[x] = scale * acc[a][c];
        }
    }
}

// dK = scale dS^T Q, dV = P^T dO, summed over the query heads of the group and every query
// tile that sees this key tile. grid (B * Hkv, key tiles), block (16, 16). Here thread
// (ty, tx) owns key rows ty + 16a and head-dim columns tx + 16c of dK and dV.
template <typename T, int kDh>
__global__ void __launch_bounds__(kThreads)
    attention_dkv_kernel(const T* dout, const T* q, const T* k, const T* v, const T* lse, const T* D, T* dk,
                         T* dv, Dims d, bool causal, T scale) {
    using C = Tile<T, kDh>;
    constexpr int kR = C::kR, kRows = C::kRows, kLd = C::kLd, kLdS = C::kLdS;
    extern __shared__ __align__(16) unsigned char smem[];
    T* Ks = reinterpret_cast<T*>(smem);
    T* Vs = Ks + C::kHead;
    T* Qs = Vs + C::kHead;
    T* dOs = Qs + C::kHead;
    T* Ps = dOs + C::kHead;
    T* dSs = Ps + C::kScore;
    T* Ls = dSs + C::kScore;
    T* Ds = Ls + kRows;

    const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * kSide + tx;
    const int64_t bkv = blockIdx.x, b = bkv / d.Hkv, kvh = bkv % d.Hkv, group = d.H / d.Hkv;
    const int64_t c0 = int64_t(blockIdx.y) * kRows;
    load_rows<T, kDh>(Ks, k + bkv * d.S * d.Dh, c0, d.S, d.Dh, tid);
    load_rows<T, kDh>(Vs, v + bkv * d.S * d.Dh, c0, d.S, d.Dh, tid);
    // Under a causal mask the first query that sees key c0 is c0 - offset; earlier query
    // tiles contribute nothing and are skipped.
    const int64_t first_row = causal && c0 - d.offset > 0 ? c0 - d.offset : 0;
    const int64_t first_tile = first_row / kRows * kRows;

    T dk_acc[kR][C::kC] = {}, dv_acc[kR][C::kC] = {};
    for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
        const int64_t bh = b * d.H + h;
        for (int64_t r0 = first_tile; r0 < d.T; r0 += kRows) {
            __syncthreads();  // the previous tile's Q, dO, P, dS, lse, D are no longer read
            load_rows<T, kDh>(Qs, q + bh * d.T * d.Dh, r0, d.T, d.Dh, tid);
            load_rows<T, kDh>(dOs, dout + bh * d.T * d.Dh, r0, d.T, d.Dh, tid);
            load_vector<T, kRows>(Ls, lse + bh * d.T, r0, d.T, tid);
            load_vector<T, kRows>(Ds, D + bh * d.T, r0, d.T, tid);
            __syncthreads();

            T p[kR][kR], ds[kR][kR];
            backward_scores<T, kDh>(p, ds, Qs, dOs, Ks, Vs, Ls, Ds, d, causal, scale, r0, c0, tx, ty);
#pragma unroll
            for (int a = 0; a < kR; ++a)
#pragma unroll
                for (int bb = 0; bb < kR; ++bb) {
                    Ps[(ty + kSide * a) * kLdS + tx + kSide * bb] = p[a][bb];
                    dSs[(ty + kSide * a) * kLdS + tx + kSide * bb] = ds[a][bb];
                }
            __syncthreads();

            // Sum over the tile's query rows i: dV[key] += P[i, key] dO[i], dK[key] += dS[i, key] Q[i].
#pragma unroll 4
            for (int i = 0; i < kRows; ++i) {
                T qi[C::kC], doi[C::kC];
#pragma unroll
                for (int c = 0; c < C::kC; ++c) {
                    qi[c] = Qs[i * kLd + tx + kSide * c];
                    doi[c] = dOs[i * kLd + tx + kSide * c];
                }
#pragma unroll
                for (int a = 0; a < kR; ++a) {
                    const T pk = Ps[i * kLdS + ty + kSide * a];
                    const T gk = dSs[i * kLdS + ty + kSide * a];
#pragma unroll
                    for (int c = 0; c < C::kC; ++c) {
                        dv_acc[a][c] += pk * doi[c];
                        dk_acc[a][c] += gk * qi[c];
                    }
                }
            }
        }
    }

#pragma unroll
    for (int a = 0; a < kR; ++a) {
        const int64_t j = c0 + ty + kSide * a;
        if (j >= d.S) continue;
        T* dk_row = dk + (bkv * d.S + j) * d.Dh;
        T* dv_row = dv + (bkv * d.S + j) * d.Dh;
#pragma unroll
        for (int c = 0; c < C::kC; ++c) {
            const int x = tx + kSide * c;
            if (x < d.Dh) {
                dk_row[x] = scale * dk_acc[a][c];
                dv_row[x] = dv_acc[a][c];
            }
        }
    }
}

// rope, rotate-half: for each (row r of B*H*T, frequency i < Dh/2), angle = pos * theta^(-2i/Dh),
//   out[i] = x[i] cos - x[i + half] sin,  out[i + half] = x[i + half] cos + x[i] sin
// with sin negated for sign = -1 (the inverse rotation, which is the backward). The angle
// and its cos and sin are in double, as on the CPU, so large positions keep their phase.
template <typename T>
__global__ void rope_kernel(const T* x, const int64_t* positions, T* out, int64_t n, int64_t H, int64_t T_len,
                            int64_t half, double theta, double sign) {
    const int64_t Dh = 2 * half;
    MOD_GRID_STRIDE(idx, n) {
        const int64_t r = idx / half, i = idx % half;
        const int64_t b = r / (H * T_len), t = r % T_len;
        const double angle = static_cast<double>(positions[b * T_len + t]) * pow(theta, -2.0 * i / Dh);
        double sn, cs;
        sincos(angle, &sn, &cs);
        sn *= sign;
        const double x1 = cast<double>(x[r * Dh + i]), x2 = cast<double>(x[r * Dh + i + half]);
        out[r * Dh + i] = cast<T>(x1 * cs - x2 * sn);
        out[r * Dh + i + half] = cast<T>(x2 * cs + x1 * sn);
    }
}

// Runs f(T{}, integral_constant<int, kDh>{}) for the dtype (float32 or float64; bfloat16 has
// its own kernels, dispatched before) and the smallest head-dim bucket that holds Dh.
template <typename F>
void dispatch_attention(DType dt, int64_t Dh, const char* op, F&& f) {
    MOD_CHECK(Dh <= kMaxHeadDim, ShapeError, op, "a head dim of at most ", kMaxHeadDim, " on the GPU expected, got ",
              Dh);
    auto by_head_dim = [&](auto z) {
        if (Dh <= 32)
            f(z, std::integral_constant<int, 32>{});
        else if (Dh <= 64)
            f(z, std::integral_constant<int, 64>{});
        else
            f(z, std::integral_constant<int, kMaxHeadDim>{});
    };
    switch (dt) {
        case DType::F32: by_head_dim(float{}); return;
        case DType::F64: by_head_dim(double{}); return;
        default: break;
    }
    throw DTypeError(detail::format_error(op, "float32 or float64 expected, got ", dtype_name(dt)));
}

// Dynamic shared memory above 48 KB must be opted into, per kernel and device.
template <typename Kernel>
void allow_smem(Kernel* kernel, size_t bytes) {
    MOD_CUDA_CHECK("attention", cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                     static_cast<int>(bytes)));
}

unsigned tiles(int64_t n, int rows) { return static_cast<unsigned>((n + rows - 1) / rows); }

}  // namespace

Tensor rope(const Tensor& x, const Tensor& positions, double theta, double sign) {
    const int dev = x.device().index;
    DeviceGuard guard(dev);
    const int64_t B = x.size(0), H = x.size(1), T = x.size(2), half = x.size(3) / 2;
    // The public op already moves positions to x's device; a direct caller with host
    // positions still works (a few int64 are cheap to copy).
    const Tensor pos = positions.device() == x.device() ? positions : positions.to(x.device());
    Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
    const int64_t n = B * H * T * half;
    if (n == 0) return out;
    dispatch_device_float(x.dtype(), "rope", [&](auto z) {
        using Tp = decltype(z);
        rope_kernel<Tp><<<blocks_for(n), kThreads, 0, stream(dev)>>>(ptr<Tp>(x), ptr<int64_t>(pos), ptr<Tp>(out), n,
                                                                      H, T, half, theta, sign);
    });
    check_launch("rope");
    return out;
}

AttentionForward attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale) {
    if (q.dtype() == DType::BF16) return attention_forward_bf16(q, k, v, causal, scale);
    const int dev = q.device().index;
    DeviceGuard guard(dev);
    const Dims d = dims_of(q, k);
    const int64_t B = q.size(0);
    AttentionForward fwd{Tensor::empty(q.shape(), q.dtype(), q.device()),
                         Tensor::empty({B, d.H, d.T}, q.dtype(), q.device())};
    dispatch_attention(q.dtype(), d.Dh, "attention", [&](auto z, auto head_dim) {
        using Tp = decltype(z);
        constexpr int kDh = decltype(head_dim)::value;
        if (B * d.H * d.T == 0) return;
        const size_t bytes = forward_smem<Tp, kDh>();
        auto* kernel = attention_forward_kernel<Tp, kDh>;
        allow_smem(kernel, bytes);
        const dim3 grid(static_cast<unsigned>(B * d.H), tiles(d.T, Tile<Tp, kDh>::kRows));
        kernel<<<grid, dim3(kSide, kSide), bytes, stream(dev)>>>(ptr<Tp>(q), ptr<Tp>(k), ptr<Tp>(v),
                                                                 ptr<Tp>(fwd.out), ptr<Tp>(fwd.lse), d, causal,
                                                                 Tp(scale));
        check_launch("attention");
    });
    return fwd;
}

AttentionGrads attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& out, const Tensor& lse, bool causal, double scale) {
    if (q.dtype() == DType::BF16) return attention_backward_bf16(dout, q, k, v, out, lse, causal, scale);
    const int dev = q.device().index;
    DeviceGuard guard(dev);
    const Dims d = dims_of(q, k);
    const int64_t B = q.size(0);
    AttentionGrads g{Tensor::empty(q.shape(), q.dtype(), q.device()), Tensor::empty(k.shape(), k.dtype(), k.device()),
                     Tensor::empty(v.shape(), v.dtype(), v.device())};
    dispatch_attention(q.dtype(), d.Dh, "attention_backward", [&](auto z, auto head_dim) {
        using Tp = decltype(z);
        constexpr int kDh = decltype(head_dim)::value;
        constexpr int kRows = Tile<Tp, kDh>::kRows;
        const dim3 block(kSide, kSide);
        // D = rowsum(dO * out) once, read by both kernels. Scratch: freed to the caching
        // allocator at return, which is safe because every later use is on this stream.
        Tensor D = Tensor::empty({B, d.H, d.T}, q.dtype(), q.device());
        const int64_t rows = B * d.H * d.T;
        if (rows > 0) {
            const int64_t warps = kThreads / 32;
            const unsigned blocks = static_cast<unsigned>(std::min<int64_t>((rows + warps - 1) / warps, 65536));
            row_dot_kernel<Tp><<<blocks, kThreads, 0, stream(dev)>>>(ptr<Tp>(dout), ptr<Tp>(out), ptr<Tp>(D), rows,
                                                                     d.Dh);
            check_launch("attention_backward");

            const size_t bytes = dq_smem<Tp, kDh>();
            auto* kernel = attention_dq_kernel<Tp, kDh>;
            allow_smem(kernel, bytes);
            const dim3 grid(static_cast<unsigned>(B * d.H), tiles(d.T, kRows));
            kernel<<<grid, block, bytes, stream(dev)>>>(ptr<Tp>(dout), ptr<Tp>(q), ptr<Tp>(k), ptr<Tp>(v),
                                                        ptr<Tp>(lse), ptr<Tp>(D), ptr<Tp>(g.dq), d, causal, Tp(scale));
            check_launch("attention_backward");
        }
        // Every element of dK and dV has one owning block, which writes it even when no
        // query sees its key (T = 0 included), so no zero fill is needed.
        if (B * d.Hkv * d.S > 0) {
            const size_t bytes = dkv_smem<Tp, kDh>();
            auto* kernel = attention_dkv_kernel<Tp, kDh>;
            allow_smem(kernel, bytes);
            const dim3 grid(static_cast<unsigned>(B * d.Hkv), tiles(d.S, kRows));
            kernel<<<grid, block, bytes, stream(dev)>>>(ptr<Tp>(dout), ptr<Tp>(q), ptr<Tp>(k), ptr<Tp>(v),
                                                        ptr<Tp>(lse), ptr<Tp>(D), ptr<Tp>(g.dk), ptr<Tp>(g.dv), d,
                                                        causal, Tp(scale));
            check_launch("attention_backward");
        }
    });
    return g;
}

}  // namespace mod::cuda
