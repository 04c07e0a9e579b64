// A training batch as plain arrays (the engine turns them into tensors). Shapes: B rows, T = the
// longest row; everything row-major.
//   ids       B x T  token ids, right-padded with pad_id; an image occupies P positions holding
//                    the <image> id (a block) wherever its <image> tag stood, and is shown in
//                    image_blocks[b] such blocks
//   labels    B x T  = ids on answer tokens (not shifted), kIgnore (-100) elsewhere and in padding
//   lengths   B      real tokens per row (attention covers positions 0..length-1)
//   image_blocks B   image blocks of the row (one per <image> tag), 0 for a text-only row
//   pixels    B x 3 x S x S  preprocessed image (CHW), zeros for text-only rows
// Preference batches hold 2N rows: rows 0..N-1 the chosen answers, N..2N-1 the rejected ones of
// the same pairs in the same order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mod::data {

struct Batch {
    int64_t B = 0;
    int64_t T = 0;
    int64_t S = 0;  // image side
    int64_t P = 0;  // positions per image
    bool preference = false;
    std::vector<int64_t> ids;
    std::vector<int64_t> labels;
    std::vector<int64_t> lengths;
    std::vector<int64_t> image_blocks;
    std::vector<float> pixels;
    std::vector<std::string> sample_ids;
    // The loader's position after this batch: epoch, and how far into that epoch's sample order
    // it got (skipped samples included). Saved with a checkpoint to resume the data order.
    int64_t epoch = 0;
    int64_t end_position = 0;
};

}  // namespace mod::data
