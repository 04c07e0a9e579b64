// train_mod: the LLaVA-MoD distillation from the command line.
//   train_mod stage=imitation                      everything else defaults; the world, tokenizer
//                                                  and a teacher are made on first use
//   train_mod stage=imitation config=configs/small.json lr=1e-4 steps=2000 out=runs/x
//   train_mod stage=imitation resume=runs/x        continues exactly where runs/x stopped
//   train_mod --help                               every key with its default
// Errors print one line and exit 1; Ctrl-C saves a checkpoint and exits 130.
#include <omp.h>

#include <cstdio>
#include <exception>

#include "core/runtime.h"
#include "trainer/options.h"
#include "trainer/stages.h"

int main(int argc, char** argv) {
    using namespace mod::train;
    mod::use_short_openmp_spin(argv);
    try {
        std::optional<TrainOptions> options = parse_train_options(argc, argv);
        if (!options) return 0;
        if (options->threads > 0) omp_set_num_threads(static_cast<int>(options->threads));
        std::fprintf(stderr, "train_mod: stage=%s config=%s data=%s out=%s threads=%d (config saved in %s/train_config.json)\n",
                     options->stage.c_str(), options->config_path.c_str(), options->data.c_str(),
                     options->out.c_str(), omp_get_max_threads(), options->out.c_str());
        return run_stage(*options) ? 0 : 130;
    } catch (const std::exception& e) {
        // Library errors already start with "[op]"; say which program failed once.
        std::fprintf(stderr, "%s%s\n", e.what()[0] == '[' ? "" : "train_mod: ", e.what());
        return 1;
    }
}
