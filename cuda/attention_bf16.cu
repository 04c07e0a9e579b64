// bfloat16 flash attention on tensor cores (WMMA 16x16x16, float accumulators), forward and
// backward: what cuda/attention.cu runs for bfloat16 q, k, v. Same semantics as the float
// kernels there and as core/cpu/attention.cpp.
//
// Shape letters: B batch, H query heads, Hkv key/value heads, T queries, S keys, Dh head
// dim. q, out, dout, dq (B, H, T, Dh) and k, v, dk, dv (B, Hkv, S, Dh) are contiguous
// bfloat16; lse (B, H, T) is float32 (a bfloat16 lse would put a 2^-9 relative error on every
// recomputed probability). Query head h reads key/value head h / (H / Hkv); causal: query i
// sees keys j <= i + (S - T).
//
// Only the matrix products run in bfloat16; every statistic and accumulator is float32:
//   S = Q K^T (float),  m' = max(m, rowmax S'),  P = exp2(S' - m'),  l' = l 2^(m - m') + rowsum P,
//   O' = O 2^(m - m') + bf16(P) V;   out = bf16(O / l),  lse = (m + log2 l) ln 2
// with S' = scale log2(e) S, so that one exp2 replaces exp. Backward, with D = rowsum(dO * out):
//   P = exp(scale S - lse),  dP = dO V^T,  dS = P (dP - D)  (all float)
//   dQ = scale bf16(dS) K,  dK = scale bf16(dS)^T Q,  dV = bf16(P)^T dO  (float accumulators)
//
// Tiles: a block of 4 warps handles a tile of 64 rows, 16 per warp, against tiles of 64
// columns. A warp multiplies its 16 rows with WMMA from shared memory, stores the 16 x 64
// float scores to its own shared scratch and reads them back in a fixed layout (lane =
// 2 r + half owns row r and columns 4 j + 2 half + {0, 1}), so the row max and sum are one
// shuffle between the lane pair and, in the forward, the output accumulator O lives in that
// lane's registers in the same layout (the rescale by 2^(m - m') needs no shared memory).
// P V is added per chunk of 64 head-dim columns through the same scratch. Head-dim tiles are
// padded to kDh = 32, 64 or 128 (a multiple of the WMMA k of 16) with zeros, which add nothing
// to any product; any Dh <= 128 works, with 16-byte loads when Dh is a multiple of 8.
//
// Kernels: forward, one block per (b, h, query tile), the last query tiles (the longest under
// a causal mask) first. dQ, one block per (b, h, query tile), looping over key tiles. dK, dV,
// one block per (b, h, key tile), looping over the query tiles that see it: each element has
// one owner, so no atomics and bit-reproducible results. With grouped-query heads the
// blocks of one key/value head's H / Hkv query heads write float partials that a last kernel
// sums in a fixed order (as FlashAttention-2 does): looping over the group inside one block
// would leave B * Hkv * S / 64 blocks (176 for the Qwen2-0.5B step) for 132 SMs.
#include "cuda/attention_bf16.h"

#include <mma.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <type_traits>
#include <utility>

#include "core/error.h"
#include "cuda/device_utils.cuh"

namespace mod::cuda {

namespace {

namespace wmma = nvcuda::wmma;
using bf16 = __nv_bfloat16;

constexpr int kWarps = 4;
constexpr int kBlockThreads = 32 * kWarps;
constexpr int kTile = 64;  // rows of a query tile and of a key tile
constexpr int kFrag = 16;  // WMMA m = n = k
constexpr int kMaxHeadDim = 128;
constexpr double kLog2eDouble = 1.4426950408889634;
constexpr float kLog2e = static_cast<float>(kLog2eDouble);
constexpr float kLn2 = 0.6931471805599453f;

using FragA = wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, bf16, wmma::row_major>;
using FragBRow = wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, bf16, wmma::row_major>;
using FragBCol = wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, bf16, wmma::col_major>;
using FragAcc = wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float>;

struct Dims {
    int64_t H, Hkv, T, S;
    int64_t offset;  // S - T: how far the causal diagonal is shifted right
    int Dh;
    bool vec;  // 16-byte loads: Dh a multiple of 8 and every operand 16-byte aligned
};

// Row strides in elements. Rows of bf16 tiles are padded by 16 bytes, so the 16-byte pieces of
// 8 consecutive rows that one WMMA load reads fall in different banks; the float scratch
// stride 68 = 4 mod 32 makes the lane layout's 8-byte reads conflict-free. All strides keep
// WMMA's ldm rule (a multiple of 16 bytes) and, with tiles at multiples of 16 rows and
// columns, its 32-byte pointer alignment.
template <int kDh>
constexpr int kLdHead = kDh + 8;    // Q, K, V, dO tiles (bf16)
constexpr int kLdProb = kTile + 8;  // P, dS tiles (bf16)
constexpr int kLdF = kTile + 4;     // S, dP scratch and staging (float)
template <int kDh>
constexpr size_t kHeadBytes = size_t(kTile) * kLdHead<kDh> * sizeof(bf16);
constexpr size_t kProbBytes = size_t(kTile) * kLdProb * sizeof(bf16);
constexpr size_t kFloatBytes = size_t(kTile) * kLdF * sizeof(float);
constexpr size_t kRowBytes = size_t(kTile) * sizeof(float);

template <int kDh>
constexpr size_t forward_smem() {  // Q, K, V, S scratch, P
    return 3 * kHeadBytes<kDh> + kFloatBytes + kProbBytes;
}
template <int kDh>
constexpr size_t dq_smem() {  // Q, dO, K, V, S and dP scratch, dS
    return 4 * kHeadBytes<kDh> + 2 * kFloatBytes + kProbBytes;
}
template <int kDh>
constexpr size_t dkv_smem() {  // K, V, Q, dO, S^T and dP^T scratch, P^T, dS^T, lse, D
    return 4 * kHeadBytes<kDh> + 2 * kFloatBytes + 2 * kProbBytes + 2 * kRowBytes;
}
static_assert(kHeadBytes<32> % 128 == 0 && kHeadBytes<64> % 128 == 0 && kHeadBytes<128> % 128 == 0 &&
                  kProbBytes % 128 == 0 && kFloatBytes % 128 == 0 && kRowBytes % 128 == 0,
              "shared-memory regions must keep the 32-byte alignment WMMA loads need");
static_assert(dkv_smem<kMaxHeadDim>() <= 227 * 1024, "attention tiles must fit a Hopper block's 227 KB");

// dst (kTile, kLdHead) <- rows row0.. of src (n_rows, Dh); rows past n_rows and columns past
// Dh are zero. Consecutive threads handle consecutive 8-element chunks of a row.
template <int kDh>
__device__ inline void load_tile(bf16* dst, const bf16* src, int64_t row0, int64_t n_rows, int Dh, bool vec) {
    constexpr int kChunks = kDh / 8;
    const bf16 zero = __float2bfloat16_rn(0.0f);
    for (int idx = threadIdx.x; idx < kTile * kChunks; idx += kBlockThreads) {
        const int r = idx / kChunks, c = idx % kChunks * 8;
        const int64_t row = row0 + r;
        bf16* d = dst + r * kLdHead<kDh> + c;
        if (vec) {
            uint4 val = make_uint4(0, 0, 0, 0);
            if (row < n_rows && c < Dh) val = *reinterpret_cast<const uint4*>(src + row * Dh + c);
            *reinterpret_cast<uint4*>(d) = val;
        } else {
#pragma unroll
            for (int x = 0; x < 8; ++x) d[x] = row < n_rows && c + x < Dh ? src[row * Dh + c + x] : zero;
        }
    }
}

// One past the last key the query tile [r0, r0 + kTile) sees.
__device__ inline int64_t key_end(const Dims& d, bool causal, int64_t r0) {
    const int64_t last_row = (r0 + kTile < d.T ? r0 + kTile : d.T) - 1;
    return causal && last_row + d.offset + 1 < d.S ? last_row + d.offset + 1 : d.S;
}

// c (16 x 16) = A B^T over the head dim, for A the warp's 16 rows of a head-dim tile and B the
// 16 rows of one at `b`: B^T is B read column-major. With kHold the warp's rows are loaded
// into registers once, for every tile of the loop; without, they are read from shared memory
// at each product, which leaves the registers to the accumulators.
template <int kDh, bool kHold>
struct WarpRows;

template <int kDh>
struct WarpRows<kDh, true> {
    FragA a[kDh / kFrag];
    __device__ explicit WarpRows(const bf16* rows) {
#pragma unroll
        for (int kk = 0; kk < kDh / kFrag; ++kk) wmma::load_matrix_sync(a[kk], rows + kk * kFrag, kLdHead<kDh>);
    }
    __device__ void dot(FragAcc& c, const bf16* b) const {
        wmma::fill_fragment(c, 0.0f);
#pragma unroll
        for (int kk = 0; kk < kDh / kFrag; ++kk) {
            FragBCol fb;
            wmma::load_matrix_sync(fb, b + kk * kFrag, kLdHead<kDh>);
            wmma::mma_sync(c, a[kk], fb, c);
        }
    }
};

template <int kDh>
struct WarpRows<kDh, false> {
    const bf16* rows;
    __device__ explicit WarpRows(const bf16* r) : rows(r) {}
    __device__ void dot(FragAcc& c, const bf16* b) const {
        wmma::fill_fragment(c, 0.0f);
#pragma unroll
        for (int kk = 0; kk < kDh / kFrag; ++kk) {
            FragA fa;
            FragBCol fb;
            wmma::load_matrix_sync(fa, rows + kk * kFrag, kLdHead<kDh>);
            wmma::load_matrix_sync(fb, b + kk * kFrag, kLdHead<kDh>);
            wmma::mma_sync(c, fa, fb, c);
        }
    }
};

// acc[n] += A B for the warp's 16 x 64 bf16 A at `a` (stride kLdProb) and the 64 x kDh bf16
// tile B at `b`: acc[n] holds head-dim columns 16 n. One A fragment is live at a time.
template <int kDh>
__device__ inline void add_product(FragAcc (&acc)[kDh / kFrag], const bf16* a, const bf16* b) {
#pragma unroll
    for (int kk = 0; kk < kTile / kFrag; ++kk) {
        FragA fa;
        wmma::load_matrix_sync(fa, a + kk * kFrag, kLdProb);
#pragma unroll
        for (int n = 0; n < kDh / kFrag; ++n) {
            FragBRow fb;
            wmma::load_matrix_sync(fb, b + kk * kFrag * kLdHead<kDh> + n * kFrag, kLdHead<kDh>);
            wmma::mma_sync(acc[n], fa, fb, acc[n]);
        }
    }
}

// Writes a warp's 16 x 16 accumulator, times mult, to rows row0.. (< n_rows) and columns
// col0.. (< Dh) of the (n_rows, Dh) matrix dst, staged through the warp's float scratch.
template <typename Out>
__device__ inline void store_fragment(Out* dst, const FragAcc& f, float* scratch, float mult, int64_t row0,
                                      int64_t n_rows, int col0, int Dh) {
    wmma::store_matrix_sync(scratch, f, kLdF, wmma::mem_row_major);
    __syncwarp();
    const int lane = threadIdx.x % 32, r = lane / 2, c = 8 * (lane % 2);
    if (row0 + r < n_rows) {
        Out* row = dst + (row0 + r) * Dh + col0;
#pragma unroll
        for (int x = 0; x < 8; ++x)
            if (col0 + c + x < Dh) row[c + x] = cast<Out>(mult * scratch[r * kLdF + c + x]);
    }
    __syncwarp();  // the scratch is rewritten by the next call
}

// grid (B * H, query tiles), block 128. Warp w owns query rows 16 w.. of the tile; lane
// (r, half) owns row r and columns 4 j + 2 half + {0, 1} of its scores and of O.
template <int kDh>
__global__ void __launch_bounds__(kBlockThreads)
    attention_forward_bf16_kernel(const bf16* q, const bf16* k, const bf16* v, bf16* out, float* lse, Dims d,
                                  bool causal, float scale_log2) {
    extern __shared__ __align__(128) unsigned char smem[];
    bf16* Qs = reinterpret_cast<bf16*>(smem);
    bf16* Ks = reinterpret_cast<bf16*>(smem + kHeadBytes<kDh>);
    bf16* Vs = reinterpret_cast<bf16*>(smem + 2 * kHeadBytes<kDh>);
    float* Fs = reinterpret_cast<float*>(smem + 3 * kHeadBytes<kDh>);
    bf16* Ps = reinterpret_cast<bf16*>(smem + 3 * kHeadBytes<kDh> + kFloatBytes);

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, r = lane / 2, half = lane % 2;
    const int64_t bh = blockIdx.x, b = bh / d.H, h = bh % d.H;
    const int64_t kvh = b * d.Hkv + h / (d.H / d.Hkv);
    const int64_t r0 = int64_t(gridDim.y - 1 - blockIdx.y) * kTile;
    const int64_t i = r0 + kFrag * warp + r;  // this lane's query, which sees keys below limit
    const int64_t limit = causal ? i + d.offset + 1 : d.S;
    const bf16* kb = k + kvh * d.S * d.Dh;
    const bf16* vb = v + kvh * d.S * d.Dh;
    float* Fw = Fs + kFrag * warp * kLdF;
    bf16* Pw = Ps + kFrag * warp * kLdProb;

    load_tile<kDh>(Qs, q + bh * d.T * d.Dh, r0, d.T, d.Dh, d.vec);
    __syncthreads();
    const WarpRows<kDh, true> qw(Qs + kFrag * warp * kLdHead<kDh>);

    float m = -INFINITY, l = 0.0f;  // running max (log2 units) and sum of row r
    float o[kDh / 2] = {};          // O[r, 4 j + 2 half + e] in o[2 j + e]

    const int64_t s_end = key_end(d, causal, r0);
    for (int64_t c0 = 0; c0 < s_end; c0 += kTile) {
        __syncthreads();  // every warp is done with the previous K and V
        load_tile<kDh>(Ks, kb, c0, d.S, d.Dh, d.vec);
        load_tile<kDh>(Vs, vb, c0, d.S, d.Dh, d.vec);
        __syncthreads();

        // S = Q K^T: the warp's 16 rows against the tile's 64 keys.
#pragma unroll
        for (int n = 0; n < kTile / kFrag; ++n) {
            FragAcc s;
            qw.dot(s, Ks + n * kFrag * kLdHead<kDh>);
            wmma::store_matrix_sync(Fw + n * kFrag, s, kLdF, wmma::mem_row_major);
        }
        __syncwarp();

        // Online softmax of row r: this lane's 32 scores, then the pair's max and sum.
        float sc[kTile / 2];
        float tile_max = -INFINITY;
#pragma unroll
        for (int j = 0; j < kTile / 4; ++j) {
            const int col = 4 * j + 2 * half;
            const float2 s2 = *reinterpret_cast<const float2*>(Fw + r * kLdF + col);
            const int64_t key = c0 + col;
            sc[2 * j] = key < d.S && key < limit ? s2.x * scale_log2 : -INFINITY;
            sc[2 * j + 1] = key + 1 < d.S && key + 1 < limit ? s2.y * scale_log2 : -INFINITY;
            tile_max = fmaxf(tile_max, fmaxf(sc[2 * j], sc[2 * j + 1]));
        }
        tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
        const float m_new = fmaxf(m, tile_max);
        // A row that has seen no key yet keeps m = -inf; shifting by 0 then keeps exp2() at 0
        // instead of exp2(-inf + inf) = NaN.
        const float shift = m_new == -INFINITY ? 0.0f : m_new;
        const float alpha = exp2f(m - shift);
        float tile_sum = 0.0f;
#pragma unroll
        for (int j = 0; j < kTile / 4; ++j) {
            const float p0 = exp2f(sc[2 * j] - shift), p1 = exp2f(sc[2 * j + 1] - shift);
            tile_sum += p0 + p1;
            *reinterpret_cast<__nv_bfloat162*>(Pw + r * kLdProb + 4 * j + 2 * half) = __floats2bfloat162_rn(p0, p1);
        }
        tile_sum += __shfl_xor_sync(0xffffffffu, tile_sum, 1);
        l = l * alpha + tile_sum;
        m = m_new;
        __syncwarp();

        // O = O alpha + P V, per chunk of 64 head-dim columns staged through the scratch
        // (its scores are consumed).
        FragA pf[kTile / kFrag];
#pragma unroll
        for (int kk = 0; kk < kTile / kFrag; ++kk) wmma::load_matrix_sync(pf[kk], Pw + kk * kFrag, kLdProb);
#pragma unroll
        for (int n0 = 0; n0 < kDh; n0 += kTile) {
            constexpr int kChunk = kDh < kTile ? kDh : kTile;
#pragma unroll
            for (int n = 0; n < kChunk / kFrag; ++n) {
                FragAcc pv;
                wmma::fill_fragment(pv, 0.0f);
#pragma unroll
                for (int kk = 0; kk < kTile / kFrag; ++kk) {
                    FragBRow vf;
                    wmma::load_matrix_sync(vf, Vs + kk * kFrag * kLdHead<kDh> + n0 + n * kFrag, kLdHead<kDh>);
                    wmma::mma_sync(pv, pf[kk], vf, pv);
                }
                wmma::store_matrix_sync(Fw + n * kFrag, pv, kLdF, wmma::mem_row_major);
            }
            __syncwarp();
#pragma unroll
            for (int j = n0 / 4; j < (n0 + kChunk) / 4; ++j) {
                const float2 pv2 = *reinterpret_cast<const float2*>(Fw + r * kLdF + 4 * j + 2 * half - n0);
                o[2 * j] = o[2 * j] * alpha + pv2.x;
                o[2 * j + 1] = o[2 * j + 1] * alpha + pv2.y;
            }
            __syncwarp();  // the next chunk or tile rewrites the scratch
        }
    }

    if (i >= d.T) return;
    // l = 0 only when no key is visible at all (S = 0): the output is then 0.
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    bf16* orow = out + (bh * d.T + i) * d.Dh;
#pragma unroll
    for (int j = 0; j < kDh / 4; ++j)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
            const int x = 4 * j + 2 * half + e;
            if (x < d.Dh) orow[x] = __float2bfloat16_rn(o[2 * j + e] * inv);
        }
    if (half == 0) lse[bh * d.T + i] = l > 0.0f ? (m + log2f(l)) * kLn2 : -INFINITY;
}

// D[r] = sum_x dout[r, x] out[r, x] in float over rows r of (rows, Dh): one warp per row.
__global__ void row_dot_bf16_kernel(const bf16* dout, const bf16* out, float* D, int64_t rows, int Dh) {
    const int lane = threadIdx.x % 32, warps_per_block = blockDim.x / 32;
    const int64_t stride = int64_t(gridDim.x) * warps_per_block;
    for (int64_t r = int64_t(blockIdx.x) * warps_per_block + threadIdx.x / 32; r < rows; r += stride) {
        float acc = 0.0f;
        for (int x = lane; x < Dh; x += 32)
            acc += __bfloat162float(dout[r * Dh + x]) * __bfloat162float(out[r * Dh + x]);
        acc = warp_sum(acc);
        if (lane == 0) D[r] = acc;
    }
}

// dQ = scale dS K. grid (B * H, query tiles), block 128; last query tiles first. Warp w owns
// query rows 16 w.. and lane (r, half) the score columns 4 j + 2 half + {0, 1} of row r.
template <int kDh>
__global__ void __launch_bounds__(kBlockThreads)
    attention_dq_bf16_kernel(const bf16* dout, const bf16* q, const bf16* k, const bf16* v, const float* lse,
                             const float* D, bf16* dq, Dims d, bool causal, float scale, float scale_log2) {
    extern __shared__ __align__(128) unsigned char smem[];
    bf16* Qs = reinterpret_cast<bf16*>(smem);
    bf16* dOs = reinterpret_cast<bf16*>(smem + kHeadBytes<kDh>);
    bf16* Ks = reinterpret_cast<bf16*>(smem + 2 * kHeadBytes<kDh>);
    bf16* Vs = reinterpret_cast<bf16*>(smem + 3 * kHeadBytes<kDh>);
    float* Ss = reinterpret_cast<float*>(smem + 4 * kHeadBytes<kDh>);
    float* dPs = reinterpret_cast<float*>(smem + 4 * kHeadBytes<kDh> + kFloatBytes);
    bf16* dSs = reinterpret_cast<bf16*>(smem + 4 * kHeadBytes<kDh> + 2 * kFloatBytes);

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, r = lane / 2, half = lane % 2;
    const int64_t bh = blockIdx.x, b = bh / d.H, h = bh % d.H;
    const int64_t kvh = b * d.Hkv + h / (d.H / d.Hkv);
    const int64_t r0 = int64_t(gridDim.y - 1 - blockIdx.y) * kTile;
    const int64_t i = r0 + kFrag * warp + r;
    // Query rows past T are padding: nothing of theirs is visible (limit 0).
    const int64_t limit = i >= d.T ? 0 : causal ? i + d.offset + 1 : d.S;
    const float lse_row = i < d.T ? lse[bh * d.T + i] * kLog2e : 0.0f;
    const float D_row = i < d.T ? D[bh * d.T + i] : 0.0f;
    const bf16* kb = k + kvh * d.S * d.Dh;
    const bf16* vb = v + kvh * d.S * d.Dh;
    float* Sw = Ss + kFrag * warp * kLdF;
    float* dPw = dPs + kFrag * warp * kLdF;
    bf16* dSw = dSs + kFrag * warp * kLdProb;

    load_tile<kDh>(Qs, q + bh * d.T * d.Dh, r0, d.T, d.Dh, d.vec);
    load_tile<kDh>(dOs, dout + bh * d.T * d.Dh, r0, d.T, d.Dh, d.vec);
    __syncthreads();
    const WarpRows<kDh, true> qw(Qs + kFrag * warp * kLdHead<kDh>), dow(dOs + kFrag * warp * kLdHead<kDh>);

    FragAcc acc[kDh / kFrag];
#pragma unroll
    for (int n = 0; n < kDh / kFrag; ++n) wmma::fill_fragment(acc[n], 0.0f);

    const int64_t s_end = key_end(d, causal, r0);
    for (int64_t c0 = 0; c0 < s_end; c0 += kTile) {
        __syncthreads();  // every warp is done with the previous K and V
        load_tile<kDh>(Ks, kb, c0, d.S, d.Dh, d.vec);
        load_tile<kDh>(Vs, vb, c0, d.S, d.Dh, d.vec);
        __syncthreads();

        // S = Q K^T and dP = dO V^T for the warp's 16 rows and the tile's 64 keys.
#pragma unroll
        for (int n = 0; n < kTile / kFrag; ++n) {
            FragAcc f;
            qw.dot(f, Ks + n * kFrag * kLdHead<kDh>);
            wmma::store_matrix_sync(Sw + n * kFrag, f, kLdF, wmma::mem_row_major);
            dow.dot(f, Vs + n * kFrag * kLdHead<kDh>);
            wmma::store_matrix_sync(dPw + n * kFrag, f, kLdF, wmma::mem_row_major);
        }
        __syncwarp();

        // dS = P (dP - D) with P = exp(scale S - lse), masked.
#pragma unroll
        for (int j = 0; j < kTile / 4; ++j) {
            const int col = 4 * j + 2 * half;
            const float2 s2 = *reinterpret_cast<const float2*>(Sw + r * kLdF + col);
            const float2 dp2 = *reinterpret_cast<const float2*>(dPw + r * kLdF + col);
            const int64_t key = c0 + col;
            const float p0 = key < d.S && key < limit ? exp2f(s2.x * scale_log2 - lse_row) : 0.0f;
            const float p1 = key + 1 < d.S && key + 1 < limit ? exp2f(s2.y * scale_log2 - lse_row) : 0.0f;
            *reinterpret_cast<__nv_bfloat162*>(dSw + r * kLdProb + col) =
                __floats2bfloat162_rn(p0 * (dp2.x - D_row), p1 * (dp2.y - D_row));
        }
        __syncwarp();

        add_product<kDh>(acc, dSw, Ks);
    }

#pragma unroll
    for (int n = 0; n < kDh / kFrag; ++n)
        store_fragment(dq + bh * d.T * d.Dh, acc[n], Sw, scale, r0 + kFrag * warp, d.T, n * kFrag, d.Dh);
}

// dK = scale dS^T Q and dV = P^T dO of one query head over the query tiles that see the key
// tile. grid (B * H, key tiles), block 128. Warp w owns key rows 16 w.. and lane (r, half)
// the query columns 4 j + 2 half + {0, 1} of key row r of S^T. Writes dk, dv (B, Hkv, S, Dh)
// directly when H = Hkv, else float partials (B, H, S, Dh) into dk_part, dv_part.
template <int kDh>
__global__ void __launch_bounds__(kBlockThreads)
    attention_dkv_bf16_kernel(const bf16* dout, const bf16* q, const bf16* k, const bf16* v, const float* lse,
                              const float* D, bf16* dk, bf16* dv, float* dk_part, float* dv_part, Dims d,
                              bool causal, float scale, float scale_log2) {
    extern __shared__ __align__(128) unsigned char smem[];
    bf16* Ks = reinterpret_cast<bf16*>(smem);
    bf16* Vs = reinterpret_cast<bf16*>(smem + kHeadBytes<kDh>);
    bf16* Qs = reinterpret_cast<bf16*>(smem + 2 * kHeadBytes<kDh>);
    bf16* dOs = reinterpret_cast<bf16*>(smem + 3 * kHeadBytes<kDh>);
    float* Ss = reinterpret_cast<float*>(smem + 4 * kHeadBytes<kDh>);
    float* dPs = reinterpret_cast<float*>(smem + 4 * kHeadBytes<kDh> + kFloatBytes);
    bf16* Pts = reinterpret_cast<bf16*>(smem + 4 * kHeadBytes<kDh> + 2 * kFloatBytes);
    bf16* dSts = reinterpret_cast<bf16*>(smem + 4 * kHeadBytes<kDh> + 2 * kFloatBytes + kProbBytes);
    float* Ls = reinterpret_cast<float*>(smem + 4 * kHeadBytes<kDh> + 2 * kFloatBytes + 2 * kProbBytes);
    float* Ds = Ls + kTile;

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, r = lane / 2, half = lane % 2;
    const int64_t bh = blockIdx.x, b = bh / d.H, h = bh % d.H;
    const int64_t kvh = b * d.Hkv + h / (d.H / d.Hkv);
    const int64_t c0 = int64_t(blockIdx.y) * kTile;
    const int64_t j = c0 + kFrag * warp + r;  // this lane's key
    // Queries i >= first see key j (none for padding keys j >= S): the causal mask j <= i + offset.
    const int64_t first = j >= d.S ? d.T : causal ? j - d.offset : 0;
    float* Sw = Ss + kFrag * warp * kLdF;
    float* dPw = dPs + kFrag * warp * kLdF;
    bf16* Ptw = Pts + kFrag * warp * kLdProb;
    bf16* dStw = dSts + kFrag * warp * kLdProb;

    load_tile<kDh>(Ks, k + kvh * d.S * d.Dh, c0, d.S, d.Dh, d.vec);
    load_tile<kDh>(Vs, v + kvh * d.S * d.Dh, c0, d.S, d.Dh, d.vec);
    __syncthreads();
    // The warp's K and V rows stay in registers up to kDh = 64; at 128 they would push the 128
    // registers of the dK, dV accumulators into spills.
    constexpr bool kHold = kDh <= 64;
    const WarpRows<kDh, kHold> kw(Ks + kFrag * warp * kLdHead<kDh>), vw(Vs + kFrag * warp * kLdHead<kDh>);
    // Under a causal mask the first query that sees key c0 is c0 - offset; earlier query
    // tiles contribute nothing and are skipped.
    const int64_t first_row = causal && c0 - d.offset > 0 ? c0 - d.offset : 0;

    FragAcc dk_acc[kDh / kFrag], dv_acc[kDh / kFrag];
#pragma unroll
    for (int n = 0; n < kDh / kFrag; ++n) {
        wmma::fill_fragment(dk_acc[n], 0.0f);
        wmma::fill_fragment(dv_acc[n], 0.0f);
    }

    for (int64_t r0 = first_row / kTile * kTile; r0 < d.T; r0 += kTile) {
        __syncthreads();  // every warp is done with the previous Q, dO, lse, D
        load_tile<kDh>(Qs, q + bh * d.T * d.Dh, r0, d.T, d.Dh, d.vec);
        load_tile<kDh>(dOs, dout + bh * d.T * d.Dh, r0, d.T, d.Dh, d.vec);
        if (threadIdx.x < kTile) {
            const int64_t row = r0 + threadIdx.x;
            Ls[threadIdx.x] = row < d.T ? lse[bh * d.T + row] * kLog2e : 0.0f;
            Ds[threadIdx.x] = row < d.T ? D[bh * d.T + row] : 0.0f;
        }
        __syncthreads();

        // S^T = K Q^T and dP^T = V dO^T for the warp's 16 keys and the tile's 64 queries.
#pragma unroll
        for (int n = 0; n < kTile / kFrag; ++n) {
            FragAcc f;
            kw.dot(f, Qs + n * kFrag * kLdHead<kDh>);
            wmma::store_matrix_sync(Sw + n * kFrag, f, kLdF, wmma::mem_row_major);
            vw.dot(f, dOs + n * kFrag * kLdHead<kDh>);
            wmma::store_matrix_sync(dPw + n * kFrag, f, kLdF, wmma::mem_row_major);
        }
        __syncwarp();

        // P^T = exp(scale S^T - lse) and dS^T = P^T (dP^T - D), masked; lse and D per query column.
#pragma unroll
        for (int jj = 0; jj < kTile / 4; ++jj) {
            const int col = 4 * jj + 2 * half;
            const float2 s2 = *reinterpret_cast<const float2*>(Sw + r * kLdF + col);
            const float2 dp2 = *reinterpret_cast<const float2*>(dPw + r * kLdF + col);
            const int64_t query = r0 + col;
            const bool on0 = query >= first && query < d.T, on1 = query + 1 >= first && query + 1 < d.T;
            const float p0 = on0 ? exp2f(s2.x * scale_log2 - Ls[col]) : 0.0f;
            const float p1 = on1 ? exp2f(s2.y * scale_log2 - Ls[col + 1]) : 0.0f;
            *reinterpret_cast<__nv_bfloat162*>(Ptw + r * kLdProb + col) = __floats2bfloat162_rn(p0, p1);
            *reinterpret_cast<__nv_bfloat162*>(dStw + r * kLdProb + col) =
                __floats2bfloat162_rn(p0 * (dp2.x - Ds[col]), p1 * (dp2.y - Ds[col + 1]));
        }
        __syncwarp();

        add_product<kDh>(dv_acc, Ptw, dOs);
        add_product<kDh>(dk_acc, dStw, Qs);
    }

    const int64_t row0 = c0 + kFrag * warp;
#pragma unroll
    for (int n = 0; n < kDh / kFrag; ++n) {
        if (dk_part) {
            store_fragment(dk_part + bh * d.S * d.Dh, dk_acc[n], Sw, scale, row0, d.S, n * kFrag, d.Dh);
            store_fragment(dv_part + bh * d.S * d.Dh, dv_acc[n], Sw, 1.0f, row0, d.S, n * kFrag, d.Dh);
        } else {
            store_fragment(dk + kvh * d.S * d.Dh, dk_acc[n], Sw, scale, row0, d.S, n * kFrag, d.Dh);
            store_fragment(dv + kvh * d.S * d.Dh, dv_acc[n], Sw, 1.0f, row0, d.S, n * kFrag, d.Dh);
        }
    }
}

// out[bkv, e] = sum over g < group of part[bkv * group + g, e] for the n = B * Hkv * S * Dh
// elements of dk or dv: query head h = kvh * group + g of batch b is row b * H + h =
// (b * Hkv + kvh) * group + g of the partials. The order of the sum is fixed.
__global__ void sum_group_kernel(const float* part, bf16* out, int64_t n, int64_t per_head, int64_t group) {
    MOD_GRID_STRIDE(idx, n) {
        const int64_t bkv = idx / per_head, e = idx % per_head;
        float s = 0.0f;
        for (int64_t g = 0; g < group; ++g) s += part[(bkv * group + g) * per_head + e];
        out[idx] = __float2bfloat16_rn(s);
    }
}

Dims dims_of(const Tensor& q, const Tensor& k, std::initializer_list<const Tensor*> operands) {
    bool vec = q.size(3) % 8 == 0;
    for (const Tensor* t : operands) vec = vec && reinterpret_cast<uintptr_t>(t->raw_data()) % 16 == 0;
    return {q.size(1), k.size(1), q.size(2), k.size(2), k.size(2) - q.size(2), static_cast<int>(q.size(3)), vec};
}

// Runs f(integral_constant<int, kDh>{}) for the smallest head-dim bucket that holds Dh.
template <typename F>
void by_head_dim(int64_t Dh, const char* op, F&& f) {
    MOD_CHECK(Dh <= kMaxHeadDim, ShapeError, op, "a head dim of at most ", kMaxHeadDim,
              " on the GPU expected, got ", Dh);
    if (Dh <= 32)
        f(std::integral_constant<int, 32>{});
    else if (Dh <= 64)
        f(std::integral_constant<int, 64>{});
    else
        f(std::integral_constant<int, kMaxHeadDim>{});
}

void check_bf16(const Tensor& t, const char* op, const char* name) {
    MOD_CHECK(t.dtype() == DType::BF16, DTypeError, op, "a bfloat16 ", name, " expected, got ",
              dtype_name(t.dtype()));
}

// Dynamic shared memory above 48 KB must be opted into, per kernel and device.
template <typename Kernel>
void allow_smem(Kernel* kernel, size_t bytes) {
    MOD_CUDA_CHECK("attention", cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                     static_cast<int>(bytes)));
}

unsigned tiles(int64_t n) { return static_cast<unsigned>((n + kTile - 1) / kTile); }

}  // namespace

AttentionForward attention_forward_bf16(const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                                        double scale) {
    const char* op = "attention";
    check_bf16(q, op, "q");
    check_bf16(k, op, "k");
    check_bf16(v, op, "v");
    const int dev = q.device().index;
    DeviceGuard guard(dev);
    const Dims d = dims_of(q, k, {&q, &k, &v});
    const int64_t B = q.size(0);
    AttentionForward fwd{Tensor::empty(q.shape(), DType::BF16, q.device()),
                         Tensor::empty({B, d.H, d.T}, DType::F32, q.device())};
    by_head_dim(d.Dh, op, [&](auto head_dim) {
        constexpr int kDh = decltype(head_dim)::value;
        if (B * d.H * d.T == 0) return;
        const size_t bytes = forward_smem<kDh>();
        auto* kernel = attention_forward_bf16_kernel<kDh>;
        allow_smem(kernel, bytes);
        const dim3 grid(static_cast<unsigned>(B * d.H), tiles(d.T));
        kernel<<<grid, kBlockThreads, bytes, stream(dev)>>>(ptr<bf16>(q), ptr<bf16>(k), ptr<bf16>(v),
                                                            ptr<bf16>(fwd.out), ptr<float>(fwd.lse), d, causal,
                                                            static_cast<float>(scale * kLog2eDouble));
        check_launch(op);
    });
    return fwd;
}

AttentionGrads attention_backward_bf16(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                                       const Tensor& out, const Tensor& lse, bool causal, double scale) {
    const char* op = "attention_backward";
    check_bf16(dout, op, "dout");
    check_bf16(out, op, "out");
    MOD_CHECK(lse.dtype() == DType::F32, DTypeError, op, "a float32 lse expected, got ", dtype_name(lse.dtype()));
    const int dev = q.device().index;
    DeviceGuard guard(dev);
    const Dims d = dims_of(q, k, {&dout, &q, &k, &v});
    const int64_t B = q.size(0), group = d.H / d.Hkv;
    AttentionGrads g{Tensor::empty(q.shape(), DType::BF16, q.device()),
                     Tensor::empty(k.shape(), DType::BF16, k.device()),
                     Tensor::empty(v.shape(), DType::BF16, v.device())};
    const float fscale = static_cast<float>(scale), scale_log2 = static_cast<float>(scale * kLog2eDouble);
    by_head_dim(d.Dh, op, [&](auto head_dim) {
        constexpr int kDh = decltype(head_dim)::value;
        // D = rowsum(dO * out) once, read by both kernels. Scratch tensors go back to the
        // caching allocator at return, which is safe because every later use is on this stream.
        Tensor D = Tensor::empty({B, d.H, d.T}, DType::F32, q.device());
        const int64_t rows = B * d.H * d.T;
        if (rows > 0) {
            const int64_t warps = kThreads / 32;
            const unsigned blocks = static_cast<unsigned>(std::min<int64_t>((rows + warps - 1) / warps, 65536));
            row_dot_bf16_kernel<<<blocks, kThreads, 0, stream(dev)>>>(ptr<bf16>(dout), ptr<bf16>(out),
                                                                      ptr<float>(D), rows, d.Dh);
            check_launch(op);

            const size_t bytes = dq_smem<kDh>();
            auto* kernel = attention_dq_bf16_kernel<kDh>;
            allow_smem(kernel, bytes);
            const dim3 grid(static_cast<unsigned>(B * d.H), tiles(d.T));
            kernel<<<grid, kBlockThreads, bytes, stream(dev)>>>(ptr<bf16>(dout), ptr<bf16>(q), ptr<bf16>(k),
                                                                ptr<bf16>(v), ptr<float>(lse), ptr<float>(D),
                                                                ptr<bf16>(g.dq), d, causal, fscale, scale_log2);
            check_launch(op);
        }
        // Every element of dK and dV (or of the partials) has one owning block, which writes it
        // even when no query sees its key (T = 0 included), so no zero fill is needed.
        if (B * d.H * d.S > 0) {
            Tensor dk_part, dv_part;
            if (group > 1) {
                dk_part = Tensor::empty({B, d.H, d.S, d.Dh}, DType::F32, q.device());
                dv_part = Tensor::empty({B, d.H, d.S, d.Dh}, DType::F32, q.device());
            }
            const size_t bytes = dkv_smem<kDh>();
            auto* kernel = attention_dkv_bf16_kernel<kDh>;
            allow_smem(kernel, bytes);
            const dim3 grid(static_cast<unsigned>(B * d.H), tiles(d.S));
            kernel<<<grid, kBlockThreads, bytes, stream(dev)>>>(
                ptr<bf16>(dout), ptr<bf16>(q), ptr<bf16>(k), ptr<bf16>(v), ptr<float>(lse), ptr<float>(D),
                ptr<bf16>(g.dk), ptr<bf16>(g.dv), group > 1 ? ptr<float>(dk_part) : nullptr,
                group > 1 ? ptr<float>(dv_part) : nullptr, d, causal, fscale, scale_log2);
            check_launch(op);
            if (group > 1) {
                const int64_t n = B * d.Hkv * d.S * d.Dh, per_head = d.S * d.Dh;
                for (auto [part, grad] : {std::make_pair(&dk_part, &g.dk), std::make_pair(&dv_part, &g.dv)}) {
                    sum_group_kernel<<<blocks_for(n), kThreads, 0, stream(dev)>>>(
                        ptr<float>(*part), ptr<bf16>(*grad), n, per_head, group);
                    check_launch(op);
                }
            }
        }
    });
    return g;
}

}  // namespace mod::cuda
