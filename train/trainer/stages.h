// The stages of METHOD.md §2 as train_mod runs them. Each writes its run folder (options.out):
// one job folder per phase with checkpoints and metrics, and <out>/final, the model the next
// stage (or eval_mod, chat_mod) loads.
//   teacher:    dense SFT of the teacher MLLM on general + multi-task data, CE, all trainable
//   align:      the student's projector only, CE on captions (optional adaptor init)
//   imitation:  d2d: KD only on general data, student LM + projector trainable;
//               then upcycling and d2s: KD + CE + aux on multi-task data, MLPs + routers + projector
//               (upcycle=false: the second phase on the dense student, the paper's "without upcycling")
//   sft:        imitation's baseline: its phases, data and trainable sets, CE in place of KD
//   preference: DPO or kto_pair on preference pairs, the teacher as reference, + aux
//   all:        teacher (when none exists), imitation, preference, then the eval table
#pragma once

#include <string>

#include "trainer/options.h"

namespace mod::train {

// Returns false when interrupted by Ctrl-C (the checkpoint is saved; resume= continues).
bool run_stage(const TrainOptions& options);

// A model folder, or a run folder whose final model is used.
std::string resolve_model_dir(const std::string& path);

}  // namespace mod::train
