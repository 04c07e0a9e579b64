// Fits y = 3x - 1 with a one-unit linear model and plain gradient descent: tensors,
// autograd and the no-grad update, from outside the project through the installed package.
#include <llavamod/llavamod.h>

#include <cmath>
#include <cstdio>

int main() {
    using namespace mod;
    Generator gen(0);
    Tensor x = randn({64, 1}, gen);
    Tensor y = x * 3.0 - 1.0;
    Tensor w = Tensor::zeros({1, 1}).requires_grad_();
    Tensor b = Tensor::zeros({1}).requires_grad_();
    double loss_value = 0.0;
    for (int step = 0; step < 200; ++step) {
        Tensor loss = mean(pow(matmul(x, w) + b - y, 2.0));
        loss.backward();
        {
            NoGradGuard no_grad;
            w.copy_(w - w.grad() * 0.1);
            b.copy_(b - b.grad() * 0.1);
        }
        w.zero_grad();
        b.zero_grad();
        loss_value = loss.item();
    }
    std::printf("w = %.4f (want 3), b = %.4f (want -1), loss = %.2e\n", w.item(), b.item(), loss_value);
    return (std::abs(w.item() - 3.0) < 1e-3 && std::abs(b.item() + 1.0) < 1e-3) ? 0 : 1;
}
