// Vision pretraining on the world's scene truth, before the teacher's SFT and, for the
// student's projector alone, before the student's first phase.
//
// A released teacher comes with a pretrained vision encoder (CLIP); ours starts from random
// weights, and through the language model alone its gradient is too weak and too indirect
// to find small objects on textured backgrounds. This phase stands in for that pretraining:
// one linear read-out, shared by all patches, predicts from each patch's features the shape
// (or none), the colour, the size and the characters of a text object of the grid cell under
// that patch's centre, and that cell itself (where the patch is), with a cross-entropy per
// attribute. The cell makes a found object's token say where it is, for the position and
// relation questions. Per patch, not from all patches at
// once: what a patch shows stays in that patch's token, where the language model's attention
// can find it by content (a read-out of all patches together let it spread anywhere). The
// read-out is dropped afterwards; the ViT keeps what it learned and stays frozen through the
// SFT (train/trainer/stages.cpp). The phase is short and is not checkpointed: an interrupted
// run repeats it.
//
// Given the teacher's projector, the read-out sits on the projector's output and the projector
// trains with the ViT; the SFT then keeps it frozen too. Left to the SFT, a projector carries
// on what the language model reads first and lets the rest fade: on the features of held-out
// patches that show an object, shape classes explained 42% of the variance and colour 15%;
// after the SFT's projector, 65% and 6%, and the teacher answered colour questions at 15%.
// A student's projector, which its phases train on (METHOD.md §2), starts from the same
// read-out on the teacher's frozen encoder: from random weights it lost colour the same way.
#pragma once

#include <string>
#include <vector>

#include "models/clip_vision.h"
#include "models/mllm.h"
#include "trainer/options.h"

namespace mod::train {

struct VisionPretrainReport {
    // Mean loss over the first and over the last tenth of the steps: one batch's loss swings
    // with whether it holds a text object (the characters' term).
    double first_loss = 0, last_loss = 0;
    // Held-out accuracy per attribute over the test patches that show an object (characters:
    // over the slots of text objects), and of "empty" over the patches that show none.
    double shape_accuracy = 0, colour_accuracy = 0, text_accuracy = 0, cell_accuracy = 0, empty_accuracy = 0;
    double texts_read = 0;  // text objects whose every character slot is right
};

// The world's grid cell (row * 3 + col) under each patch's centre, in patch order (row-major):
// the cell whose labels that patch's features learn to predict.
std::vector<int> grid_cell_of_patches(const models::VisionConfig& vision);

// Trains `vision` (unless train_vision is false: a frozen, shared encoder) and, when not null,
// `projector` (on o.device) for `steps` steps of o.batch_size images, then scores
// <o.data>/test/scenes.jsonl. The images are those of <o.data>/train/scenes.jsonl, or with
// o.vision_scenes == "generated" new scenes rendered every step by the world's generator with
// the settings of <o.data>/meta.json (a text in o.vision_text_percent of them unless -1): a
// text's characters need far more examples than 4000 images hold.
VisionPretrainReport pretrain_vision(models::ClipVisionModel& vision, models::Projector* projector,
                                     const TrainOptions& o, int64_t steps, bool train_vision = true);

}  // namespace mod::train
