// Elementwise CPU kernels: each unary op's f(x) and f'(x) sit side by side in one switch.
#include "core/cpu/elementwise.h"

#include <cmath>

#include "core/cpu/loops.h"
#include "core/cpu/vector_math.h"

namespace mod::cpu {

namespace {

constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2/pi)
constexpr double kInvSqrt2 = 0.7071067811865476;
constexpr double kInvSqrt2Pi = 0.3989422804014327;  // 1/sqrt(2 pi)
constexpr double kGeluCubic = 0.044715;
constexpr double kQuickGeluScale = 1.702;

// out[i] = f(in[i]) over any strided input.
template <typename T, typename F>
void map1(const Tensor& x, const Tensor& out, F f) {
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    const Strides os = out.strides();
    for_each_row<2>(x.shape(), {&x.strides(), &os}, [&](auto base, int64_t n, auto inner) {
        const T* xr = xp + base[0];
        T* orow = op + base[1];
        if (inner[0] == 1) {  // the common case, as its own loop so that it vectorises
            for (int64_t i = 0; i < n; ++i) orow[i] = f(xr[i]);
        } else {
            for (int64_t i = 0; i < n; ++i) orow[i] = f(xr[i * inner[0]]);
        }
    });
}

// out[i] = f(a[i], b[i], c[i]) with a, b, c broadcast to out's shape.
template <typename Out, typename A, typename B, typename C, typename F>
void map3(const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& out, F f) {
    const Strides as = broadcast_strides(a.shape(), a.strides(), out.shape());
    const Strides bs = broadcast_strides(b.shape(), b.strides(), out.shape());
    const Strides cs = broadcast_strides(c.shape(), c.strides(), out.shape());
    const Strides os = out.strides();
    const A* ap = static_cast<const A*>(a.raw_data());
    const B* bp = static_cast<const B*>(b.raw_data());
    const C* cp = static_cast<const C*>(c.raw_data());
    Out* op = static_cast<Out*>(out.raw_data());
    for_each_row<4>(out.shape(), {&as, &bs, &cs, &os}, [&](auto base, int64_t n, auto inner) {
        if (inner[0] == 1 && inner[1] == 1 && inner[2] == 1) {  // vectorises; see map1
            const A* ar = ap + base[0];
            const B* br = bp + base[1];
            const C* cr = cp + base[2];
            Out* orow = op + base[3];
            for (int64_t i = 0; i < n; ++i) orow[i] = f(ar[i], br[i], cr[i]);
        } else {
            for (int64_t i = 0; i < n; ++i)
                op[base[3] + i] = f(ap[base[0] + i * inner[0]], bp[base[1] + i * inner[1]], cp[base[2] + i * inner[2]]);
        }
    });
}

// out[i] = f(a[i], b[i]) with a and b broadcast to out's shape.
template <typename Out, typename T, typename F>
void map2(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
    const Strides as = broadcast_strides(a.shape(), a.strides(), out.shape());
    const Strides bs = broadcast_strides(b.shape(), b.strides(), out.shape());
    const Strides os = out.strides();
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    Out* op = static_cast<Out*>(out.raw_data());
    for_each_row<3>(out.shape(), {&as, &bs, &os}, [&](auto base, int64_t n, auto inner) {
        const T* ar = ap + base[0];
        const T* br = bp + base[1];
        Out* orow = op + base[2];
        if (inner[0] == 1 && inner[1] == 1) {
            for (int64_t i = 0; i < n; ++i) orow[i] = f(ar[i], br[i]);
        } else {
            for (int64_t i = 0; i < n; ++i) orow[i] = f(ar[i * inner[0]], br[i * inner[1]]);
        }
    });
}

}  // namespace

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
    Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), "binary"), a.dtype());
    dispatch_float(a.dtype(), "binary", [&](auto z) {
        using T = decltype(z);
        switch (op) {
            case BinaryOp::Add: map2<T, T>(a, b, out, [](T x, T y) { return x + y; }); break;
            case BinaryOp::Sub: map2<T, T>(a, b, out, [](T x, T y) { return x - y; }); break;
            case BinaryOp::Mul: map2<T, T>(a, b, out, [](T x, T y) { return x * y; }); break;
            case BinaryOp::Div: map2<T, T>(a, b, out, [](T x, T y) { return x / y; }); break;
        }
    });
    return out;
}

Tensor compare(CompareOp op, const Tensor& a, const Tensor& b) {
    Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), "compare"), DType::Bool);
    dispatch_float(a.dtype(), "compare", [&](auto z) {
        using T = decltype(z);
        switch (op) {
            case CompareOp::Gt: map2<bool, T>(a, b, out, [](T x, T y) { return x > y; }); break;
            case CompareOp::Lt: map2<bool, T>(a, b, out, [](T x, T y) { return x < y; }); break;
            case CompareOp::Eq: map2<bool, T>(a, b, out, [](T x, T y) { return x == y; }); break;
        }
    });
    return out;
}

Tensor unary(UnaryOp op, const Tensor& x, UnaryArgs args) {
    Tensor out = Tensor::empty(x.shape(), x.dtype());
    dispatch_float(x.dtype(), "unary", [&](auto z) {
        using T = decltype(z);
        const T a = T(args.a), b = T(args.b);
        switch (op) {
            case UnaryOp::Neg: map1<T>(x, out, [](T v) { return -v; }); break;
            case UnaryOp::Exp: map1<T>(x, out, [](T v) { return std::exp(v); }); break;
            case UnaryOp::Log: map1<T>(x, out, [](T v) { return std::log(v); }); break;
            case UnaryOp::Sqrt: map1<T>(x, out, [](T v) { return std::sqrt(v); }); break;
            case UnaryOp::Rsqrt: map1<T>(x, out, [](T v) { return T(1) / std::sqrt(v); }); break;
            case UnaryOp::Pow: map1<T>(x, out, [a](T v) { return std::pow(v, a); }); break;
            case UnaryOp::Abs: map1<T>(x, out, [](T v) { return std::abs(v); }); break;
            case UnaryOp::Clamp: map1<T>(x, out, [a, b](T v) { return v < a ? a : (v > b ? b : v); }); break;
            case UnaryOp::Tanh: map1<T>(x, out, [](T v) { return std::tanh(v); }); break;
            case UnaryOp::Sigmoid: map1<T>(x, out, [](T v) { return sigmoid_of(v); }); break;
            case UnaryOp::Relu: map1<T>(x, out, [](T v) { return v > T(0) ? v : T(0); }); break;
            case UnaryOp::Silu: map1<T>(x, out, [](T v) { return v * sigmoid_of(v); }); break;
            case UnaryOp::Gelu:
                map1<T>(x, out, [](T v) { return T(0.5) * v * (T(1) + std::erf(v * T(kInvSqrt2))); });
                break;
            case UnaryOp::GeluTanh:
                map1<T>(x, out, [](T v) {
                    return T(0.5) * v * (T(1) + std::tanh(T(kSqrt2OverPi) * (v + T(kGeluCubic) * v * v * v)));
                });
                break;
            case UnaryOp::QuickGelu: map1<T>(x, out, [](T v) { return v * sigmoid_of(T(kQuickGeluScale) * v); }); break;
        }
    });
    return out;
}

// Each case gives dx = dy * f'(x), from x or from y = f(x).
Tensor unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& dy, UnaryArgs args) {
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    dispatch_float(x.dtype(), "unary_backward", [&](auto z) {
        using T = decltype(z);
        const T a = T(args.a), b = T(args.b);
        auto grad = [&](auto dfdx) { map3<T, T, T, T>(x, y, dy, dx, dfdx); };
        switch (op) {
            case UnaryOp::Neg: grad([](T, T, T g) { return -g; }); break;
            case UnaryOp::Exp: grad([](T, T v, T g) { return g * v; }); break;                     // (e^x)' = e^x
            case UnaryOp::Log: grad([](T u, T, T g) { return g / u; }); break;                     // 1/x
            case UnaryOp::Sqrt: grad([](T, T v, T g) { return g * T(0.5) / v; }); break;          // 1/(2 sqrt x)
            case UnaryOp::Rsqrt: grad([](T, T v, T g) { return g * T(-0.5) * v * v * v; }); break; // -x^-3/2 / 2
            case UnaryOp::Pow: grad([a](T u, T, T g) { return g * a * std::pow(u, a - T(1)); }); break;
            case UnaryOp::Abs: grad([](T u, T, T g) { return u > T(0) ? g : (u < T(0) ? -g : T(0)); }); break;
            case UnaryOp::Clamp: grad([a, b](T u, T, T g) { return u >= a && u <= b ? g : T(0); }); break;
            case UnaryOp::Tanh: grad([](T, T v, T g) { return g * (T(1) - v * v); }); break;       // 1 - tanh^2
            case UnaryOp::Sigmoid: grad([](T, T v, T g) { return g * v * (T(1) - v); }); break;    // s (1 - s)
            case UnaryOp::Relu: grad([](T u, T, T g) { return u > T(0) ? g : T(0); }); break;
            case UnaryOp::Silu:  // s + x s (1 - s)
                grad([](T u, T, T g) {
                    T s = sigmoid_of(u);
                    return g * (s + u * s * (T(1) - s));
                });
                break;
            case UnaryOp::Gelu:  // Phi(x) + x phi(x)
                grad([](T u, T, T g) {
                    T cdf = T(0.5) * (T(1) + std::erf(u * T(kInvSqrt2)));
                    T pdf = T(kInvSqrt2Pi) * std::exp(T(-0.5) * u * u);
                    return g * (cdf + u * pdf);
                });
                break;
            case UnaryOp::GeluTanh:  // 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 k x^2), t = tanh(c (x + k x^3))
                grad([](T u, T, T g) {
                    T t = std::tanh(T(kSqrt2OverPi) * (u + T(kGeluCubic) * u * u * u));
                    T dt = T(kSqrt2OverPi) * (T(1) + T(3 * kGeluCubic) * u * u);
                    return g * (T(0.5) * (T(1) + t) + T(0.5) * u * (T(1) - t * t) * dt);
                });
                break;
            case UnaryOp::QuickGelu:  // s + 1.702 x s (1 - s), s = sigmoid(1.702 x)
                grad([](T u, T, T g) {
                    T s = sigmoid_of(T(kQuickGeluScale) * u);
                    return g * (s + T(kQuickGeluScale) * u * s * (T(1) - s));
                });
                break;
        }
    });
    return dx;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
    Shape shape = broadcast_shapes(cond.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
    Tensor out = Tensor::empty(shape, a.dtype());
    dispatch_float(a.dtype(), "where", [&](auto z) {
        using T = decltype(z);
        map3<T, bool, T, T>(cond, a, b, out, [](bool c, T x, T y) { return c ? x : y; });
    });
    return out;
}

Tensor swiglu(const Tensor& gate, const Tensor& up) {
    Tensor out = Tensor::empty(gate.shape(), gate.dtype());
    dispatch_float(gate.dtype(), "swiglu", [&](auto z) {
        using T = decltype(z);
        map2<T, T>(gate, up, out, [](T g, T u) { return g * sigmoid_of(g) * u; });
    });
    return out;
}

std::pair<Tensor, Tensor> swiglu_backward(const Tensor& gate_in, const Tensor& up_in, const Tensor& dh_in) {
    const Tensor gate = gate_in.contiguous(), up = up_in.contiguous(), dh = dh_in.contiguous();
    Tensor dgate = Tensor::empty(gate.shape(), gate.dtype()), dup = Tensor::empty(gate.shape(), gate.dtype());
    dispatch_float(gate.dtype(), "swiglu_backward", [&](auto z) {
        using T = decltype(z);
        const T* g = gate.data<T>();
        const T* u = up.data<T>();
        const T* d = dh.data<T>();
        T* dg = dgate.data<T>();
        T* du = dup.data<T>();
        parallel_for(gate.numel(), kParallelGrain, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                const T s = sigmoid_of(g[i]);
                du[i] = d[i] * g[i] * s;
                dg[i] = d[i] * u[i] * (s + g[i] * s * (T(1) - s));  // silu' = s + g s (1 - s)
            }
        });
    });
    return {dgate, dup};
}

}  // namespace mod::cpu
