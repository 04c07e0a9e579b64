// Where a tensor lives: the CPU, or a CUDA device with an index ("cuda:1").
#pragma once

#include <string>

namespace mod {

enum class DeviceType { CPU, CUDA };

struct Device {
    DeviceType type = DeviceType::CPU;
    int index = 0;

    static Device cpu() { return {DeviceType::CPU, 0}; }
    static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
    // Parses "cpu", "cuda" or "cuda:N"; throws ValueError naming the text otherwise.
    static Device parse(const std::string& text);

    bool is_cpu() const { return type == DeviceType::CPU; }
    bool is_cuda() const { return type == DeviceType::CUDA; }
    std::string str() const;
    bool operator==(const Device& o) const { return type == o.type && index == o.index; }
    bool operator!=(const Device& o) const { return !(*this == o); }
};

}  // namespace mod
