// What a training run shows and records: a progress line (step, loss terms, learning rate,
// tokens/s, ETA), a metrics file with one JSON object per logged step, and at the end a PNG
// plot of the loss curves.
#pragma once

#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mod::train {

using Terms = std::vector<std::pair<std::string, double>>;  // name -> value, in display order

class Progress {
public:
    // On a terminal the line redraws in place; otherwise one line per log_every steps.
    Progress(std::string label, int64_t first_step, int64_t total_steps, int64_t log_every);
    void update(int64_t step, const Terms& terms, double lr, int64_t tokens);
    void finish();

private:
    std::string label_;
    int64_t first_, total_, log_every_;
    bool tty_;
    int64_t tokens_ = 0;
    std::chrono::steady_clock::time_point start_;
};

// Appends {"step": s, "lr": ..., <terms>} lines to a JSON-lines file (kept on resume).
class MetricsLog {
public:
    MetricsLog(const std::string& path, bool append);
    void write(int64_t step, double lr, const Terms& terms);

private:
    std::string path_;
    std::ofstream out_;
};

// Reads a metrics file back: term -> (step, value) series.
std::map<std::string, std::vector<std::pair<double, double>>> read_metrics(const std::string& path);
// Draws each loss term of the metrics file as a curve (x: step, y: value) into a PNG.
void plot_metrics(const std::string& metrics_path, const std::string& png_path);

}  // namespace mod::train
