// The chat template (METHOD.md §3, the public code's "qwen" template), the one place it is applied:
//   <system> USER: <q1> ASSISTANT: <a1><|endoftext|>USER: <q2> ASSISTANT: <a2><|endoftext|>
// As in the public code (SeparatorStyle.TWO, sep " ", sep2 "<|endoftext|>"), nothing separates
// <|endoftext|> from the next "USER:". A generation prompt ends with "ASSISTANT:". An empty system
// line leaves it out, with its space: the text then starts with "USER:".
#pragma once

#include "data/conversation.h"

#include <string>
#include <utility>
#include <vector>

namespace mod::data {

inline constexpr const char* kDefaultSystem =
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions.";

struct ChatTemplate {
    std::string system = kDefaultSystem;  // "" for none
    std::string end_of_turn = "<|endoftext|>";
};

struct TemplatedText {
    std::string text;
    // Byte ranges that carry labels: each answer with the space after "ASSISTANT:" and its closing
    // end-of-turn token. The space belongs to the answer because byte-level BPE glues it to the
    // answer's first word (" Yes").
    std::vector<std::pair<size_t, size_t>> answer_spans;
};

// A full training text; the messages must already be valid (validate_messages).
TemplatedText apply_chat_template(const std::vector<Message>& messages, const ChatTemplate& chat);

// The prompt for generating the answer to the last message (a human turn): ends with "ASSISTANT:".
std::string generation_prompt(const std::vector<Message>& messages, const ChatTemplate& chat);

}  // namespace mod::data
