#include "trainer/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/font.h"
#include "data/image_io.h"

namespace mod::train {

namespace {

std::string duration_str(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    const int64_t s = static_cast<int64_t>(seconds);
    char buf[32];
    if (s >= 3600) {
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600), static_cast<long long>(s % 3600 / 60));
    } else {
        std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
    }
    return buf;
}

}  // namespace

Progress::Progress(std::string label, int64_t first_step, int64_t total_steps, int64_t log_every)
    : label_(std::move(label)),
      first_(first_step),
      total_(total_steps),
      log_every_(log_every),
      tty_(::isatty(::fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()) {}

void Progress::update(int64_t step, const Terms& terms, double lr, int64_t tokens) {
    tokens_ += tokens;
    if (!tty_ && step % log_every_ != 0 && step != total_) return;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double per_step = elapsed / static_cast<double>(std::max<int64_t>(step - first_, 1));
    const int width = 20, filled = static_cast<int>(width * step / std::max<int64_t>(total_, 1));
    std::string bar(filled, '#');
    bar += std::string(width - filled, '.');
    std::string line = "[" + label_ + "] " + std::to_string(step) + "/" + std::to_string(total_) + " [" + bar + "]";
    char buf[64];
    for (const auto& [name, value] : terms) {
        std::snprintf(buf, sizeof buf, " %s %.4g", name.c_str(), value);
        line += buf;
    }
    std::snprintf(buf, sizeof buf, " lr %.2e %.0f tok/s ETA %s", lr, tokens_ / std::max(elapsed, 1e-9),
                  duration_str(per_step * static_cast<double>(total_ - step)).c_str());
    line += buf;
    if (tty_) {
        std::fprintf(stderr, "\r%s\033[K", line.c_str());
    } else {
        std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
}

void Progress::finish() {
    if (tty_) std::fputc('\n', stderr);
}

MetricsLog::MetricsLog(const std::string& path, bool append)
    : path_(path), out_(path, append ? std::ios::app : std::ios::trunc) {
    MOD_CHECK(out_.good(), IOError, "metrics", path, ": cannot open for writing");
}

void MetricsLog::write(int64_t step, double lr, const Terms& terms) {
    nlohmann::ordered_json j;
    j["step"] = step;
    j["lr"] = lr;
    for (const auto& [name, value] : terms) j[name] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
    out_ << j.dump() << '\n';
    out_.flush();
}

std::map<std::string, std::vector<std::pair<double, double>>> read_metrics(const std::string& path) {
    std::map<std::string, std::vector<std::pair<double, double>>> series;
    std::ifstream in(path);
    std::string line;
    int64_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.empty()) continue;
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(line);
        } catch (const nlohmann::json::parse_error&) {
            throw IOError(detail::format_error("metrics", path, ":", line_no, ": malformed JSON line"));
        }
        const double step = j.value("step", 0.0);
        for (const auto& [k, v] : j.items())
            if (k != "step" && k != "lr" && v.is_number()) series[k].emplace_back(step, v.get<double>());
    }
    return series;
}

namespace {

// Metrics that are not losses (different units) stay out of the loss plot.
bool is_loss_term(const std::string& name) {
    for (const char* other : {"grad_norm", "reward_chosen", "reward_rejected", "margin", "pair_acc"})
        if (name == other) return false;
    return true;
}

}  // namespace

void plot_metrics(const std::string& metrics_path, const std::string& png_path) {
    auto series = read_metrics(metrics_path);
    for (auto it = series.begin(); it != series.end();) it = is_loss_term(it->first) ? std::next(it) : series.erase(it);
    const int W = 720, H = 400, left = 40, right = 10, top = 10, bottom = 30;
    data::ImageRgb img(W, H);
    std::fill(img.pixels.begin(), img.pixels.end(), uint8_t(255));
    double x_max = 1, y_max = 1e-9;
    for (const auto& [name, pts] : series)
        for (const auto& [x, y] : pts) {
            x_max = std::max(x_max, x);
            y_max = std::max(y_max, y);
        }
    auto plot = [&](int x, int y, const uint8_t* c) {
        if (x < 0 || y < 0 || x >= W || y >= H) return;
        std::copy(c, c + 3, img.at(x, y));
    };
    const uint8_t axis[3] = {0, 0, 0};
    for (int x = left; x < W - right; ++x) plot(x, H - bottom, axis);
    for (int y = top; y <= H - bottom; ++y) plot(left, y, axis);
    // Ticks every tenth of each axis.
    for (int i = 0; i <= 10; ++i) {
        const int x = left + (W - left - right) * i / 10, y = H - bottom - (H - top - bottom) * i / 10;
        for (int d = 1; d <= 4; ++d) {
            plot(x, H - bottom + d, axis);
            plot(left - d, y, axis);
        }
    }
    // Axis labels in the built-in font: the largest value at the top left, the last step at the right.
    auto label = [&](const std::string& text, int x0, int y0) {
        for (size_t i = 0; i < text.size(); ++i)
            for (int gy = 0; gy < data::kGlyphHeight; ++gy)
                for (int gx = 0; gx < data::kGlyphWidth; ++gx)
                    if (data::glyph_pixel(text[i], gx, gy)) plot(x0 + static_cast<int>(i) * 6 + gx, y0 + gy, axis);
    };
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", y_max);
    label(buf, 2, top);
    label("0", left - 8, H - bottom - 3);
    std::snprintf(buf, sizeof buf, "%.0f", x_max);
    label(buf, W - right - 6 * static_cast<int>(std::strlen(buf)), H - bottom + 8);
    label("STEP", (W - 24) / 2, H - bottom + 8);
    const uint8_t palette[8][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                                   {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}};
    int colour = 0;
    for (const auto& [name, pts] : series) {
        const uint8_t* c = palette[colour++ % 8];
        auto to_px = [&](double x, double y) {
            return std::pair<int, int>{left + static_cast<int>((W - left - right - 1) * x / x_max),
                                       H - bottom - static_cast<int>((H - top - bottom - 1) * std::max(y, 0.0) / y_max)};
        };
        for (size_t i = 1; i < pts.size(); ++i) {
            auto [x0, y0] = to_px(pts[i - 1].first, pts[i - 1].second);
            auto [x1, y1] = to_px(pts[i].first, pts[i].second);
            const int n = std::max(std::abs(x1 - x0), std::abs(y1 - y0)) + 1;
            for (int k = 0; k <= n; ++k) plot(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n, c);
        }
        // Legend, top right: a swatch and the term's name in the built-in font (capitals and digits).
        const int ly = top + 10 * (colour - 1);
        for (int dy = 0; dy < 6; ++dy)
            for (int dx = 0; dx < 14; ++dx) plot(W - right - 110 + dx, ly + dy, c);
        std::string upper = name.substr(0, 14);
        for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        label(upper, W - right - 92, ly - 1);
    }
    data::write_png(png_path, img);
}

}  // namespace mod::train
