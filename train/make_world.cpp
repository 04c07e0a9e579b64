// make_world: writes the built-in multimodal world (images + LLaVA-format JSON), see data/world.h.
//   make_world out=data/world seed=0
#include "data/args.h"
#include "data/errors.h"
#include "data/world.h"

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
    using mod::data::KeyValueArgs;
    KeyValueArgs args("make_world", "Writes a seeded scene world as a LLaVA-format dataset folder (see train/data/world.h).");
    const mod::data::WorldConfig d;
    args.add("out", "", "output folder (required)");
    args.add("seed", "0", "random seed; the same seed gives byte-identical files");
    args.add("images", std::to_string(d.images), "training scenes");
    args.add("test_images", std::to_string(d.test_images), "held-out scenes for the test sets");
    args.add("image_size", std::to_string(d.image_size), "image width = height in pixels");
    args.add("max_objects", std::to_string(d.max_objects), "most shapes per scene (1-8)");
    args.add("min_objects", std::to_string(d.min_objects), "fewest shapes per scene (1-max_objects)");
    args.add("text_percent", std::to_string(d.text_percent), "percent of scenes with a short text");
    args.add("general_per_image", std::to_string(d.general_per_image), "captions/conversations per training scene");
    args.add("conversation_percent", std::to_string(d.conversation_percent), "percent of general samples that are multi-turn");
    args.add("vqa_per_image", std::to_string(d.vqa_per_image), "short-answer VQA samples per training scene");
    args.add("task_weights", "", "how often each task type comes up in the training VQA, e.g. relation=3 (others 1)");
    args.add("preference_pairs", std::to_string(d.preference_pairs), "preference pairs in all");
    args.add("caption_pair_percent", std::to_string(d.caption_pair_percent), "percent of pairs that are captions");
    args.add("test_vqa_per_image", std::to_string(d.test_vqa_per_image), "held-out VQA questions per test scene");
    args.add("pope_per_side", std::to_string(d.pope_per_side), "POPE yes (and as many no) probes per test scene and strategy");
    args.add("images_per_folder", std::to_string(d.images_per_folder), "PNG files per sub-folder");
    args.add("image_after_question", d.image_after_question ? "true" : "false",
             "put the image after each first question's first line rather than before it");
    args.add("image_after_names", d.image_after_names ? "true" : "false",
             "put the image right after each shape a question names (twice in a relation question), after the question where it names none");
    args.add("reasoned_relations", d.style.reasoned_relations ? "true" : "false",
             "answer relation questions with each shape's column or row, then yes or no");
    args.add("compared_relations", d.style.compared_relations ? "true" : "false",
             "with reasoned_relations: a last step says how the two shapes stand along that line, then yes or no");
    args.add("swapped_negatives", d.style.swapped_negatives ? "true" : "false",
             "negative existence questions name one shape's colour with another's kind, where the scene allows it");
    try {
        if (!args.parse(argc, argv)) {
            std::fputs(args.help().c_str(), stdout);
            return 0;
        }
        mod::data::WorldConfig c;
        c.out = args.get("out");
        c.seed = args.get_u64("seed");
        constexpr int64_t kMany = int64_t{1} << 40;  // counts: far beyond any disk
        c.images = args.get_int("images", 1, kMany);
        c.test_images = args.get_int("test_images", 0, kMany);
        c.image_size = static_cast<int>(args.get_int("image_size", 32, 4096));
        c.max_objects = static_cast<int>(args.get_int("max_objects", 1, 8));
        c.min_objects = static_cast<int>(args.get_int("min_objects", 1, 8));
        c.text_percent = static_cast<int>(args.get_int("text_percent", 0, 100));
        c.general_per_image = static_cast<int>(args.get_int("general_per_image", 0, 1000));
        c.conversation_percent = static_cast<int>(args.get_int("conversation_percent", 0, 100));
        c.vqa_per_image = static_cast<int>(args.get_int("vqa_per_image", 0, 1000));
        c.task_weights = args.get("task_weights");
        c.preference_pairs = args.get_int("preference_pairs", 0, kMany);
        c.caption_pair_percent = static_cast<int>(args.get_int("caption_pair_percent", 0, 100));
        c.test_vqa_per_image = static_cast<int>(args.get_int("test_vqa_per_image", 0, 1000));
        c.pope_per_side = static_cast<int>(args.get_int("pope_per_side", 0, 7));
        c.images_per_folder = args.get_int("images_per_folder", 1, kMany);
        c.image_after_question = args.get_bool("image_after_question");
        c.image_after_names = args.get_bool("image_after_names");
        c.style.reasoned_relations = args.get_bool("reasoned_relations");
        c.style.compared_relations = args.get_bool("compared_relations");
        c.style.swapped_negatives = args.get_bool("swapped_negatives");
        const mod::data::WorldStats s = mod::data::write_world(c);
        std::printf("make_world: wrote %s: %lld general, %lld multitask, %lld preference, %lld test vqa, %lld pope, %lld chair\n",
                    c.out.c_str(), static_cast<long long>(s.general), static_cast<long long>(s.multitask),
                    static_cast<long long>(s.preference), static_cast<long long>(s.test_vqa),
                    static_cast<long long>(s.pope), static_cast<long long>(s.chair));
        return 0;
    } catch (const mod::data::DataError& e) {
        std::fprintf(stderr, "%s\n", e.what());
    } catch (const std::exception& e) {  // e.g. std::filesystem errors: still one line, no abort
        std::fprintf(stderr, "[make_world] %s\n", e.what());
    }
    return 1;
}
