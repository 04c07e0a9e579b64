#include "core/device.h"

#include <cctype>

#include "core/error.h"

namespace mod {

Device Device::parse(const std::string& text) {
    if (text == "cpu") return cpu();
    if (text == "cuda") return cuda(0);
    const std::string prefix = "cuda:";
    if (text.size() > prefix.size() && text.compare(0, prefix.size(), prefix) == 0) {
        std::string num = text.substr(prefix.size());
        bool digits = num.size() <= 4;
        for (char c : num) digits = digits && std::isdigit(static_cast<unsigned char>(c));
        if (digits) return cuda(std::stoi(num));
    }
    throw ValueError(detail::format_error("device", "\"cpu\", \"cuda\" or \"cuda:N\" expected, got \"", text, "\""));
}

std::string Device::str() const {
    return type == DeviceType::CPU ? "cpu" : "cuda:" + std::to_string(index);
}

}  // namespace mod
