#include "core/profile.h"

#include <algorithm>
#include <cstdio>

#include "cuda/memory.h"

namespace mod {

namespace {
// The profile and innermost running timer of this thread: explicit, scoped state, set only
// by ProfileGuard and OpTimer, like GradMode's flag.
thread_local Profile* current_profile = nullptr;
thread_local OpTimer* current_timer = nullptr;
}  // namespace

void Profile::add(const std::string& name, double seconds) {
    ProfileEntry& e = entries_[name];
    e.seconds += seconds;
    ++e.calls;
}

double Profile::total_seconds() const {
    double t = 0;
    for (const auto& [name, e] : entries_) t += e.seconds;
    return t;
}

std::string Profile::table(size_t max_rows) const {
    std::vector<std::pair<std::string, ProfileEntry>> rows(entries_.begin(), entries_.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
    const double total = total_seconds();
    std::string out;
    char line[160];
    std::snprintf(line, sizeof line, "%-32s %8s %10s %7s\n", "op", "calls", "ms", "share");
    out += line;
    for (size_t i = 0; i < rows.size() && i < max_rows; ++i) {
        const auto& [name, e] = rows[i];
        std::snprintf(line, sizeof line, "%-32s %8lld %10.1f %6.1f%%\n", name.c_str(), static_cast<long long>(e.calls),
                      e.seconds * 1e3, total > 0 ? 100 * e.seconds / total : 0.0);
        out += line;
    }
    std::snprintf(line, sizeof line, "%-32s %8s %10.1f\n", "total", "", total * 1e3);
    return out + line;
}

ProfileGuard::ProfileGuard(Profile& profile) : previous_(current_profile) { current_profile = &profile; }
ProfileGuard::~ProfileGuard() { current_profile = previous_; }

OpTimer::OpTimer(const char* name) : profile_(current_profile) {
    if (profile_) {
        name_ = name;
        start();
    }
}

OpTimer::OpTimer(const std::string& name, const char* suffix) : profile_(current_profile) {
    if (profile_) {
        name_ = name + suffix;
        start();
    }
}

OpTimer::OpTimer(const char* name, const char* suffix) : profile_(current_profile) {
    if (profile_) {
        name_ = std::string(name) + suffix;
        start();
    }
}

void OpTimer::start() {
    if (profile_->sync_device() >= 0) cuda::synchronize(profile_->sync_device());
    parent_ = current_timer;
    current_timer = this;
    start_ = std::chrono::steady_clock::now();
}

OpTimer::~OpTimer() {
    if (!profile_) return;
    if (profile_->sync_device() >= 0) cuda::synchronize(profile_->sync_device());
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    profile_->add(name_, elapsed - child_seconds_);
    if (parent_) parent_->child_seconds_ += elapsed;
    current_timer = parent_;
}

}  // namespace mod
