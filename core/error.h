// Typed errors of the engine and the one CHECK macro that raises them.
//
// Every message starts with the op in brackets, then says what was expected and what was
// got, e.g. "[matmul] a.shape[-1] == b.shape[-2] expected, got (2,3) and (4,5)".
// CHECKs are always on: they guard user input, so they never compile away like assert().
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace mod {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A tensor has the wrong shape, rank or size for the op.
class ShapeError : public Error {
public:
    using Error::Error;
};

// A tensor has a dtype the op does not accept, or two dtypes disagree.
class DTypeError : public Error {
public:
    using Error::Error;
};

// Tensors live on different devices, or the device is not available in this build.
class DeviceError : public Error {
public:
    using Error::Error;
};

// Misuse of autograd: backward through a freed graph, an integer tensor, a tensor
// modified in place after it was saved for backward.
class AutogradError : public Error {
public:
    using Error::Error;
};

// An argument value is out of range: a dim, an index, k of top-k, a negative size.
class ValueError : public Error {
public:
    using Error::Error;
};

// A file cannot be read, parsed or written.
class IOError : public Error {
public:
    using Error::Error;
};

namespace detail {
template <typename... Args>
std::string format_error(const char* op, const Args&... args) {
    std::ostringstream os;
    os << '[' << op << "] ";
    (os << ... << args);
    return os.str();
}
}  // namespace detail

}  // namespace mod

// MOD_CHECK(cond, ErrorType, "op", message parts...): throws ErrorType("[op] parts...") when cond fails.
#define MOD_CHECK(cond, ErrorType, op, ...)                                       \
    do {                                                                          \
        if (!(cond)) throw ErrorType(::mod::detail::format_error(op, __VA_ARGS__)); \
    } while (0)
