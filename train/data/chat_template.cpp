// Rendering of the chat template, recording where each answer lies in the text.
#include "data/chat_template.h"

namespace mod::data {

TemplatedText apply_chat_template(const std::vector<Message>& messages, const ChatTemplate& chat) {
    TemplatedText out;
    out.text = chat.system.empty() ? "" : chat.system + " ";
    for (const Message& m : messages) {
        if (m.role == Role::human) {
            out.text += "USER: " + m.value + " ASSISTANT:";
        } else {
            const size_t begin = out.text.size();
            out.text += " " + m.value + chat.end_of_turn;
            out.answer_spans.push_back({begin, out.text.size()});
        }
    }
    return out;
}

std::string generation_prompt(const std::vector<Message>& messages, const ChatTemplate& chat) {
    return apply_chat_template(messages, chat).text;  // a human turn already ends with "ASSISTANT:"
}

}  // namespace mod::data
