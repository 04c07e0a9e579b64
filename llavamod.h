// The engine's public API in one include: tensors, ops, autograd, random numbers.
#pragma once

#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "core/attention.h"
#include "core/conv.h"
#include "core/elementwise.h"
#include "core/index.h"
#include "core/loss.h"
#include "core/matmul.h"
#include "core/norm.h"
#include "core/random.h"
#include "core/reduce.h"
#include "core/softmax.h"
#include "core/tensor.h"
#include "core/view.h"
