// CUDA elementwise kernels, the twin of core/cpu/elementwise.cpp: every f(x) and f'(x) is
// the CPU formula, evaluated in acc_t (float for float32 and bfloat16, double for float64).
//
// One kernel pair serves every op: out[i] = f(in_0[i], ..., in_{N-1}[i]), f a small functor.
// When every input is contiguous with the output's shape the kernel indexes them with i
// (no division); otherwise a StridedIndexer gives each operand's offset, broadcast dims
// having stride 0. The op is a run-time field of the functor: the switch on it is uniform
// across the grid, so it costs no divergence and the kernels stay memory-bound, while the
// dtype x op instantiations do not multiply.
#include <utility>

#include "cuda/device_utils.cuh"
#include "cuda/elementwise.h"

namespace mod::cuda {

namespace {

constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2/pi)
constexpr double kInvSqrt2 = 0.7071067811865476;
constexpr double kInvSqrt2Pi = 0.3989422804014327;  // 1/sqrt(2 pi)
constexpr double kGeluCubic = 0.044715;
constexpr double kQuickGeluScale = 1.702;

// ---- kernels ----

// out[i] = f(in[i]...): every input contiguous with out's shape.
template <typename Out, typename F, typename... In>
__global__ void map_contiguous_kernel(Out* out, int64_t n, F f, const In*... in) {
    MOD_GRID_STRIDE(i, n) out[i] = f(in[i]...);
}

// f(in_0[off_0], ..., in_{N-1}[off_{N-1}]).
template <typename F, size_t... K, typename... In>
__device__ auto apply_at(const F& f, const Offsets<sizeof...(In)>& off, std::index_sequence<K...>,
                         const In*... in) {
    return f(in[off[K]]...);
}

// out[i] = f(in[off_k(i)]...): strided or broadcast inputs; out is contiguous.
template <typename Out, typename F, typename... In>
__global__ void map_strided_kernel(Out* out, int64_t n, StridedIndexer<sizeof...(In)> ix, F f,
                                   const In*... in) {
    MOD_GRID_STRIDE(i, n) out[i] = apply_at(f, ix.offsets(i), std::index_sequence_for<In...>{}, in...);
}

// An input of device element type T.
template <typename T>
struct Operand {
    const Tensor& t;
};

// Launches out = f(in...) over out's (contiguous) elements, the inputs broadcast to out's shape.
template <typename Out, typename F, typename... T>
void launch_map(const char* op, const Tensor& out, F f, Operand<T>... in) {
    const int64_t n = out.numel();
    if (n == 0) return;
    DeviceGuard guard(out.device().index);
    cudaStream_t s = stream(out.device().index);
    const bool contiguous = ((in.t.is_contiguous() && in.t.shape() == out.shape()) && ...);
    if (contiguous) {
        map_contiguous_kernel<<<blocks_for(n), kThreads, 0, s>>>(ptr<Out>(out), n, f, ptr<const T>(in.t)...);
    } else {
        const std::array<Strides, sizeof...(T)> strides{
            broadcast_strides(in.t.shape(), in.t.strides(), out.shape())...};
        const StridedIndexer<sizeof...(T)> ix = make_indexer<sizeof...(T)>(out.shape(), strides, op);
        map_strided_kernel<<<blocks_for(n), kThreads, 0, s>>>(ptr<Out>(out), n, ix, f, ptr<const T>(in.t)...);
    }
    check_launch(op);
}

// ---- functors: load T, compute in acc_t<T>, store T ----

template <typename A>
__device__ A sigmoid_of(A x) {
    return A(1) / (A(1) + exp(-x));
}

template <typename T>
struct BinaryFn {
    using A = acc_t<T>;
    BinaryOp op;
    __device__ T operator()(T x, T y) const {
        const A u = cast<A>(x), v = cast<A>(y);
        switch (op) {
            case BinaryOp::Add: return cast<T>(u + v);
            case BinaryOp::Sub: return cast<T>(u - v);
            case BinaryOp::Mul: return cast<T>(u * v);
            case BinaryOp::Div: return cast<T>(u / v);
        }
        return cast<T>(u);
    }
};

template <typename T>
struct CompareFn {
    using A = acc_t<T>;
    CompareOp op;
    __device__ bool operator()(T x, T y) const {
        const A u = cast<A>(x), v = cast<A>(y);
        switch (op) {
            case CompareOp::Gt: return u > v;
            case CompareOp::Lt: return u < v;
            case CompareOp::Eq: return u == v;
        }
        return false;
    }
};

// y = f(x); a and b are UnaryArgs (Pow: exponent a; Clamp: [a, b]).
template <typename T>
struct UnaryFn {
    using A = acc_t<T>;
    UnaryOp op;
    A a, b;
    __device__ T operator()(T x) const { return cast<T>(value(cast<A>(x))); }
    __device__ A value(A v) const {
        switch (op) {
            case UnaryOp::Neg: return -v;
            case UnaryOp::Exp: return exp(v);
            case UnaryOp::Log: return log(v);
            case UnaryOp::Sqrt: return sqrt(v);
            case UnaryOp::Rsqrt: return A(1) / sqrt(v);
            case UnaryOp::Pow: return pow(v, a);
            case UnaryOp::Abs: return fabs(v);
            case UnaryOp::Clamp: return v < a ? a : (v > b ? b : v);
            case UnaryOp::Tanh: return tanh(v);
            case UnaryOp::Sigmoid: return sigmoid_of(v);
            case UnaryOp::Relu: return v > A(0) ? v : A(0);
            case UnaryOp::Silu: return v * sigmoid_of(v);
            case UnaryOp::Gelu: return A(0.5) * v * (A(1) + erf(v * A(kInvSqrt2)));
            case UnaryOp::GeluTanh:
                return A(0.5) * v * (A(1) + tanh(A(kSqrt2OverPi) * (v + A(kGeluCubic) * v * v * v)));
            case UnaryOp::QuickGelu: return v * sigmoid_of(A(kQuickGeluScale) * v);
        }
        return v;
    }
};

// dx = dy * f'(x), from x (u) or from y = f(x) (v), as on the CPU.
template <typename T>
struct UnaryBackwardFn {
    using A = acc_t<T>;
    UnaryOp op;
    A a, b;
    __device__ T operator()(T x, T y, T dy) const {
        return cast<T>(grad(cast<A>(x), cast<A>(y), cast<A>(dy)));
    }
    __device__ A grad(A u, A v, A g) const {
        switch (op) {
            case UnaryOp::Neg: return -g;
            case UnaryOp::Exp: return g * v;                      // (e^x)' = e^x
            case UnaryOp::Log: return g / u;                      // 1/x
            case UnaryOp::Sqrt: return g * A(0.5) / v;            // 1/(2 sqrt x)
            case UnaryOp::Rsqrt: return g * A(-0.5) * v * v * v;  // -x^-3/2 / 2
            case UnaryOp::Pow: return g * a * pow(u, a - A(1));   // a x^(a-1)
            case UnaryOp::Abs: return u > A(0) ? g : (u < A(0) ? -g : A(0));
            case UnaryOp::Clamp: return u >= a && u <= b ? g : A(0);
            case UnaryOp::Tanh: return g * (A(1) - v * v);     // 1 - tanh^2
            case UnaryOp::Sigmoid: return g * v * (A(1) - v);  // s (1 - s)
            case UnaryOp::Relu: return u > A(0) ? g : A(0);
            case UnaryOp::Silu: {  // s + x s (1 - s)
                const A s = sigmoid_of(u);
                return g * (s + u * s * (A(1) - s));
            }
            case UnaryOp::Gelu: {  // Phi(x) + x phi(x)
                const A cdf = A(0.5) * (A(1) + erf(u * A(kInvSqrt2)));
                const A pdf = A(kInvSqrt2Pi) * exp(A(-0.5) * u * u);
                return g * (cdf + u * pdf);
            }
            // 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 k x^2), t = tanh(c (x + k x^3))
            case UnaryOp::GeluTanh: {
                const A t = tanh(A(kSqrt2OverPi) * (u + A(kGeluCubic) * u * u * u));
                const A dt = A(kSqrt2OverPi) * (A(1) + A(3 * kGeluCubic) * u * u);
                return g * (A(0.5) * (A(1) + t) + A(0.5) * u * (A(1) - t * t) * dt);
            }
            case UnaryOp::QuickGelu: {  // s + 1.702 x s (1 - s), s = sigmoid(1.702 x)
                const A s = sigmoid_of(A(kQuickGeluScale) * u);
                return g * (s + A(kQuickGeluScale) * u * s * (A(1) - s));
            }
        }
        return g;
    }
};

// SwiGLU: h = silu(g) u; dg = dh u silu'(g), du = dh silu(g) (two launches: each output is
// its own memory-bound pass, the sigmoid recomputed for free).
template <typename T>
struct SwigluFn {
    using A = acc_t<T>;
    __device__ T operator()(T g, T u) const {
        const A x = cast<A>(g);
        return cast<T>(x * sigmoid_of(x) * cast<A>(u));
    }
};

template <typename T>
struct SwigluGateGradFn {
    using A = acc_t<T>;
    __device__ T operator()(T g, T u, T dh) const {
        const A x = cast<A>(g), s = sigmoid_of(x);
        return cast<T>(cast<A>(dh) * cast<A>(u) * (s + x * s * (A(1) - s)));
    }
};

template <typename T>
struct SwigluUpGradFn {
    using A = acc_t<T>;
    __device__ T operator()(T g, T dh) const {
        const A x = cast<A>(g);
        return cast<T>(cast<A>(dh) * x * sigmoid_of(x));
    }
};

template <typename T>
struct WhereFn {
    __device__ T operator()(bool c, T x, T y) const { return c ? x : y; }
};

}  // namespace

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
    Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), "binary"), a.dtype(), a.device());
    dispatch_device_float(a.dtype(), "binary", [&](auto z) {
        using T = decltype(z);
        launch_map<T>("binary", out, BinaryFn<T>{op}, Operand<T>{a}, Operand<T>{b});
    });
    return out;
}

Tensor compare(CompareOp op, const Tensor& a, const Tensor& b) {
    Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), "compare"), DType::Bool, a.device());
    dispatch_device_float(a.dtype(), "compare", [&](auto z) {
        using T = decltype(z);
        launch_map<bool>("compare", out, CompareFn<T>{op}, Operand<T>{a}, Operand<T>{b});
    });
    return out;
}

Tensor unary(UnaryOp op, const Tensor& x, UnaryArgs args) {
    Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
    dispatch_device_float(x.dtype(), "unary", [&](auto z) {
        using T = decltype(z);
        using A = acc_t<T>;
        launch_map<T>("unary", out, UnaryFn<T>{op, A(args.a), A(args.b)}, Operand<T>{x});
    });
    return out;
}

Tensor unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& dy, UnaryArgs args) {
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    dispatch_device_float(x.dtype(), "unary_backward", [&](auto z) {
        using T = decltype(z);
        using A = acc_t<T>;
        launch_map<T>("unary_backward", dx, UnaryBackwardFn<T>{op, A(args.a), A(args.b)}, Operand<T>{x},
                      Operand<T>{y}, Operand<T>{dy});
    });
    return dx;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
    const Shape shape =
        broadcast_shapes(cond.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
    Tensor out = Tensor::empty(shape, a.dtype(), a.device());
    dispatch_device_float(a.dtype(), "where", [&](auto z) {
        using T = decltype(z);
        launch_map<T>("where", out, WhereFn<T>{}, Operand<bool>{cond}, Operand<T>{a}, Operand<T>{b});
    });
    return out;
}

Tensor swiglu(const Tensor& gate, const Tensor& up) {
    Tensor out = Tensor::empty(gate.shape(), gate.dtype(), gate.device());
    dispatch_device_float(gate.dtype(), "swiglu", [&](auto z) {
        using T = decltype(z);
        launch_map<T>("swiglu", out, SwigluFn<T>{}, Operand<T>{gate}, Operand<T>{up});
    });
    return out;
}

std::pair<Tensor, Tensor> swiglu_backward(const Tensor& gate, const Tensor& up, const Tensor& dh) {
    Tensor dgate = Tensor::empty(gate.shape(), gate.dtype(), gate.device());
    Tensor dup = Tensor::empty(gate.shape(), gate.dtype(), gate.device());
    dispatch_device_float(gate.dtype(), "swiglu_backward", [&](auto z) {
        using T = decltype(z);
        launch_map<T>("swiglu_backward", dgate, SwigluGateGradFn<T>{}, Operand<T>{gate}, Operand<T>{up},
                      Operand<T>{dh});
        launch_map<T>("swiglu_backward", dup, SwigluUpGradFn<T>{}, Operand<T>{gate}, Operand<T>{dh});
    });
    return {dgate, dup};
}

}  // namespace mod::cuda
