// Prompt building and KV-cached decoding. The logits of each step are masked (the <image> id and
// ids beyond the tokenizer), then either argmax'ed or sampled: softmax(logits / temperature),
// sorted by top-k over the whole vocabulary when top_p < 1 to cut the nucleus, and one uniform draw
// from the seeded Generator walks the cumulative mass.
#include "trainer/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "autograd/grad_mode.h"
#include "core/elementwise.h"
#include "core/index.h"
#include "core/random.h"
#include "core/reduce.h"
#include "core/softmax.h"
#include "core/view.h"
#include "data/image_io.h"
#include "data/preprocess.h"
#include "trainer/workspace.h"

namespace mod::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// The message list of a generation prompt: alternating turns from a human one, ending with a human one.
void check_prompt_messages(const std::vector<data::Message>& messages) {
    MOD_CHECK(!messages.empty(), ValueError, "prompt_ids", "at least one message expected");
    for (size_t i = 0; i < messages.size(); ++i) {
        const data::Role expected = i % 2 == 0 ? data::Role::human : data::Role::gpt;
        MOD_CHECK(messages[i].role == expected, ValueError, "prompt_ids", "message ", i, ": a ",
                  data::role_name(expected), " turn expected (turns alternate from a human one), got ",
                  data::role_name(messages[i].role));
    }
    MOD_CHECK(messages.back().role == data::Role::human, ValueError, "prompt_ids",
              "the last message must be a human turn, the one to answer");
}

// (1, V) logits of the last position -> the next id.
int64_t pick_token(const Tensor& logits, const GenerateOptions& options, Generator& gen) {
    if (options.temperature <= 0) return static_cast<int64_t>(argmax(logits, -1).item());
    const Tensor probs = softmax(div(logits, options.temperature), -1);  // (1, V)
    std::vector<double> p;
    std::vector<int64_t> ids;
    if (options.top_p < 1.0) {
        auto [values, indices] = topk(probs, probs.size(-1), -1);  // sorted, most probable first
        p = values.to_vector<double>();
        ids = indices.to_vector<int64_t>();
        double mass = 0;
        size_t keep = 0;
        while (keep < p.size() && mass < options.top_p) mass += p[keep++];  // at least one token
        p.resize(keep);
        ids.resize(keep);
    } else {
        p = probs.to_vector<double>();
        ids.resize(p.size());
        for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(i);
    }
    double total = 0;
    for (double v : p) total += v;
    const double u = rand({1}, gen, DType::F64).item() * total;
    double acc = 0;
    for (size_t i = 0; i < p.size(); ++i) {
        acc += p[i];
        if (u < acc) return ids[i];
    }
    return ids.back();  // u within rounding of the total
}

Tensor ids_tensor(const std::vector<int64_t>& ids) {
    return Tensor::from_vector<int64_t>(ids, {1, static_cast<int64_t>(ids.size())});
}

// The conversation's one image (1, 3, S, S), repeated once per image block of the prompt (its
// image positions / P): the model fills each block with the next image in order.
Tensor pixels_per_block(const Tensor& pixels, const std::vector<int64_t>& prompt, int64_t image_id, int64_t P) {
    const int64_t blocks = static_cast<int64_t>(std::count(prompt.begin(), prompt.end(), image_id)) / P;
    if (!pixels.defined() || blocks <= 1) return pixels;
    MOD_CHECK(pixels.size(0) == 1, ShapeError, "generate", "one image (1, 3, S, S) expected, got ",
              shape_str(pixels.shape()));
    return cat(std::vector<Tensor>(static_cast<size_t>(blocks), pixels), 0);
}

}  // namespace

std::vector<int64_t> GenerateResult::answer_ids() const {
    std::vector<int64_t> out = ids;
    if (stopped && !out.empty()) out.pop_back();
    return out;
}

std::vector<int64_t> prompt_ids(const std::vector<data::Message>& messages, const text::Tokenizer& tok,
                                int64_t image_tokens, const data::ChatTemplate& chat) {
    check_prompt_messages(messages);
    MOD_CHECK(image_tokens > 0, ValueError, "prompt_ids", "image_tokens > 0 expected, got ", image_tokens);
    const int32_t image_id = tok.token_id(text::kImageToken);
    // The expansion mirrors data::build_sequence: each <image> token becomes P image positions.
    std::vector<int64_t> ids;
    for (int32_t id : tok.encode(data::generation_prompt(messages, chat))) {
        if (id == image_id && image_id >= 0) {
            ids.insert(ids.end(), image_tokens, image_id);
        } else {
            ids.push_back(id);
        }
    }
    return ids;
}

std::vector<int64_t> prompt_ids(const models::LlavaModel& model, const std::vector<data::Message>& messages,
                                const text::Tokenizer& tok) {
    const int32_t image_id = tok.token_id(text::kImageToken);
    MOD_CHECK(image_id == model.config.image_token_id, ValueError, "prompt_ids", "the tokenizer's <image> id ",
              image_id, " differs from the model's image_token_id ", model.config.image_token_id,
              " (model and tokenizer from different checkpoints?)");
    return prompt_ids(messages, tok, model.config.vision.num_patches(), chat_template(model.config));
}

Tensor load_image_tensor(const std::string& path, const models::VisionConfig& vision) {
    Tensor pixels = Tensor::empty({1, 3, vision.image_size, vision.image_size});
    data::preprocess_image(data::read_image(path), preprocess_config(vision), pixels.data<float>());
    return pixels;
}

GenerateOptions default_options(const models::LlavaModel& model, const text::Tokenizer& tok) {
    GenerateOptions options;
    options.stop_id = tok.require_id(text::kEndOfText);
    options.vocab_size = std::min<int64_t>(tok.vocab_size(), model.config.lm.vocab_size);
    return options;
}

GenerateResult generate(const models::LlavaModel& model, const std::vector<int64_t>& prompt, const Tensor& pixels,
                        const GenerateOptions& options) {
    MOD_CHECK(!prompt.empty(), ValueError, "generate", "a non-empty prompt expected");
    MOD_CHECK(options.max_new_tokens >= 0, ValueError, "generate", "max_new_tokens >= 0 expected, got ",
              options.max_new_tokens);
    MOD_CHECK(options.temperature >= 0 && std::isfinite(options.temperature), ValueError, "generate",
              "a finite temperature >= 0 expected, got ", options.temperature);
    MOD_CHECK(options.top_p > 0 && options.top_p <= 1, ValueError, "generate", "top_p in (0, 1] expected, got ",
              options.top_p);
    const int64_t V = model.config.lm.vocab_size;
    MOD_CHECK(options.vocab_size >= 0 && options.vocab_size <= V, ValueError, "generate", "vocab_size in [0, ", V,
              "] expected, got ", options.vocab_size);

    NoGradGuard no_grad;
    Generator gen(options.seed);
    std::vector<bool> banned(V, false);
    const int64_t image_id = model.config.image_token_id;
    if (image_id >= 0 && image_id < V) banned[image_id] = true;
    for (int64_t id = options.vocab_size > 0 ? options.vocab_size : V; id < V; ++id) banned[id] = true;
    const Tensor ban = Tensor::from_vector<bool>(banned, {1, V}).to(model.device());
    // The logits of the last position only, (1, V): the head over the vocabulary runs on that row.
    auto last_logits = [&](const std::vector<int64_t>& ids, const Tensor& px, std::vector<nn::KVCache>* c) {
        const Tensor last = Tensor::from_vector<int64_t>({static_cast<int64_t>(ids.size()) - 1}, {1});
        return model.forward(ids_tensor(ids), px, Tensor(), c, nullptr, last).logits;
    };
    auto next_token = [&](const Tensor& logits) {
        return pick_token(masked_fill(logits, ban, -std::numeric_limits<double>::infinity()), options, gen);
    };

    GenerateResult result;
    result.prompt_tokens = static_cast<int64_t>(prompt.size());
    if (options.max_new_tokens == 0) return result;
    std::vector<nn::KVCache> caches(model.model->layers->size());
    std::vector<int64_t> sequence = prompt;
    const Tensor shown = pixels_per_block(pixels, prompt, image_id, model.config.vision.num_patches());

    const Clock::time_point prefill_start = Clock::now();
    int64_t id = next_token(last_logits(prompt, shown, options.use_cache ? &caches : nullptr));
    result.prefill_seconds = seconds_since(prefill_start);

    const Clock::time_point decode_start = Clock::now();
    while (true) {
        result.ids.push_back(id);
        sequence.push_back(id);
        if (options.on_token) options.on_token(id);
        if (id == options.stop_id) {
            result.stopped = true;
            break;
        }
        if (static_cast<int64_t>(result.ids.size()) >= options.max_new_tokens) break;
        // With the cache only the new token runs (its position follows the cached ones); without it
        // the whole sequence, image included, runs again.
        id = next_token(options.use_cache ? last_logits({id}, Tensor(), &caches)
                                          : last_logits(sequence, shown, nullptr));
        ++result.decode_steps;
    }
    result.decode_seconds = seconds_since(decode_start);
    return result;
}

std::string decode_ids(const text::Tokenizer& tok, const std::vector<int64_t>& ids) {
    return tok.decode(std::vector<int32_t>(ids.begin(), ids.end()), true);
}

}  // namespace mod::train
