#!/usr/bin/env python3
"""PyTorch reference for bench/train_steps.cpp: the same three training steps, CPU, float32, eager.

A comparison point for the CPU-speed issue: run it beside ./build/bench/train_steps on the same
machine and compare step times. Models and batches follow configs/small.json and our C++ code
(models/clip_vision.cpp, qwen2.cpp, moe.cpp, mllm.cpp, train/trainer/losses.cpp):
  W1  dense student SFT: forward, CE, backward, AdamW, everything trainable (batch 8, 64 image +
      64 text tokens)
  W2  dense-to-sparse imitation: teacher forward (no grad), MoE student forward, KD + CE + aux,
      backward, AdamW; trainable = projector + LM MLPs (experts, dense MLPs) + routers
  W3  DPO on 8 pairs (64 image + 32 prompt + 32 response tokens, chosen and rejected as one
      batch of 16): teacher forward as reference, student forward and backward, DPO + aux
Like the C++ steps, logits are computed only at the supervised rows. Prints the median step
time after a warm-up step, tokens/s, the last loss, peak RSS and parameter counts.

  python3 bench/pytorch_steps.py [workload=W1|W2|W3|all] [steps=5]

Run it with OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE, as our engine runs: Debian's
OpenBLAS picks a slower kernel on AVX-512 CPUs without the first, and spinning OpenMP threads
skew a shared machine without the second. The script sets both itself when they are unset (they
must be set before torch loads), and on an AVX-512 CPU it sets aside an inherited pre-AVX-512
core (machine images may set OPENBLAS_CORETYPE=Haswell), as our engine does (core/cpu/blas.h).
Torch comes from Debian (apt-get install python3-torch, 1.13.1); its GEMM is whatever
libblas.so.3 the system's alternatives name (the header prints it), and it has no fused
attention, so attention here materialises the T x T probabilities.
"""
import os
import sys

if any(a in ("-h", "--help", "help") for a in sys.argv[1:]):
    print(__doc__)
    sys.exit(0)


def cpu_has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx512f" in line for line in f)
    except OSError:
        return False


AVX512_CORES = ("skylakex", "cooperlake", "sapphirerapids")
if cpu_has_avx512() and os.environ.get("OPENBLAS_CORETYPE", "").lower() not in AVX512_CORES:
    os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    import torch
except ImportError:
    # A pyenv python3 shadows Debian's, which is the one that has python3-torch.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    sys.exit("pytorch_steps.py: PyTorch is not installed (Debian: apt-get install python3-torch)")

import copy
import json
import resource
import subprocess
import time

import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = json.load(open(os.path.join(ROOT, "configs", "small.json")))
INIT_STD = 0.02  # models/config.h defaults for everything small.json leaves out
LN_EPS, RMS_EPS, ROPE_THETA, AUX_COEF = 1e-5, 1e-6, 1e6, 0.01
IMAGE_ID, IGNORE = 0, -100  # train_steps sets image_token_id = 0


def linear(n_in, n_out, bias):
    """nn::Linear's initialisation: weights ~ N(0, init_std), bias 0."""
    layer = nn.Linear(n_in, n_out, bias=bias)
    nn.init.normal_(layer.weight, std=INIT_STD)
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


def rope_tables(T, head_dim):
    """cos and sin (T, Dh) for positions 0..T-1, angle_i = pos * theta^(-2i/Dh), halves repeated."""
    inv_freq = ROPE_THETA ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.arange(T, dtype=torch.float32)[:, None] * inv_freq
    angles = torch.cat([angles, angles], -1)
    return angles.cos(), angles.sin()


def apply_rope(x, cos, sin):
    """Rotate-half (Qwen2): [x1 cos - x2 sin, x2 cos + x1 sin]."""
    x1, x2 = x.chunk(2, -1)
    return x * cos + torch.cat([-x2, x1], -1) * sin


class Attention(nn.Module):
    """nn::Attention. Torch 1.13 has no fused attention, so this stores the T x T probabilities."""

    def __init__(self, dim, heads, kv_heads, out_bias, causal):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim, self.causal = heads, kv_heads, dim // heads, causal
        self.q_proj = linear(dim, dim, True)
        self.k_proj = linear(dim, kv_heads * self.head_dim, True)
        self.v_proj = linear(dim, kv_heads * self.head_dim, True)
        self.o_proj = linear(dim, dim, out_bias)

    def forward(self, x, rope=None):
        B, T, _ = x.shape
        H, Hkv, Dh = self.heads, self.kv_heads, self.head_dim
        q = self.q_proj(x).view(B, T, H, Dh).transpose(1, 2)  # (B, H, T, Dh)
        k = self.k_proj(x).view(B, T, Hkv, Dh).transpose(1, 2)  # (B, Hkv, T, Dh)
        v = self.v_proj(x).view(B, T, Hkv, Dh).transpose(1, 2)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        # GQA: query head h reads key/value head h // (H / Hkv).
        k, v = k.repeat_interleave(H // Hkv, 1), v.repeat_interleave(H // Hkv, 1)
        scores = q @ k.transpose(-1, -2) * Dh**-0.5
        if self.causal:
            scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        out = scores.softmax(-1) @ v  # (B, H, T, Dh)
        return self.o_proj(out.transpose(1, 2).reshape(B, T, H * Dh))


class ClipLayer(nn.Module):
    def __init__(self, D, heads, hidden):
        super().__init__()
        self.layer_norm1, self.layer_norm2 = nn.LayerNorm(D, eps=LN_EPS), nn.LayerNorm(D, eps=LN_EPS)
        self.self_attn = Attention(D, heads, heads, out_bias=True, causal=False)
        self.fc1, self.fc2 = linear(D, hidden, True), linear(hidden, D, True)

    def forward(self, x):
        h = x + self.self_attn(self.layer_norm1(x))  # pre-LN attention
        m = self.fc1(self.layer_norm2(h))
        return h + self.fc2(m * torch.sigmoid(1.702 * m))  # pre-LN MLP, QuickGELU


class ClipVision(nn.Module):
    """ClipVisionTransformer: features are the output of block select_layer, class token dropped."""

    def __init__(self, c):
        super().__init__()
        D, p = c["hidden_size"], c["patch_size"]
        P = (c["image_size"] // p) ** 2
        self.class_embedding = nn.Parameter(torch.randn(D) * INIT_STD)
        self.patch_embedding = nn.Conv2d(3, D, p, stride=p, bias=False)
        nn.init.normal_(self.patch_embedding.weight, std=INIT_STD)
        self.position_embedding = nn.Parameter(torch.randn(P + 1, D) * INIT_STD)
        self.pre_layrnorm = nn.LayerNorm(D, eps=LN_EPS)
        # All num_layers blocks and post_layernorm exist, as in our model (and its parameter
        # count), but only the first layers_used blocks run and post_layernorm never does.
        self.layers = nn.ModuleList(ClipLayer(D, c["num_heads"], c["intermediate_size"]) for _ in range(c["num_layers"]))
        self.post_layernorm = nn.LayerNorm(D, eps=LN_EPS)
        sel = c["select_layer"]
        self.layers_used = sel if sel >= 0 else c["num_layers"] + 1 + sel

    def forward(self, pixels):
        B = pixels.shape[0]
        patches = self.patch_embedding(pixels).flatten(2).transpose(1, 2)  # (B, P, Dv)
        cls = self.class_embedding.view(1, 1, -1).expand(B, 1, -1)
        h = self.pre_layrnorm(torch.cat([cls, patches], 1) + self.position_embedding)  # (B, P+1, Dv)
        for layer in self.layers[: self.layers_used]:
            h = layer(h)
        return h[:, 1:]  # (B, P, Dv)


class RMSNorm(nn.Module):
    def __init__(self, D):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(D))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + RMS_EPS) * self.weight


class SwiGlu(nn.Module):
    def __init__(self, D, hidden):
        super().__init__()
        self.gate_proj, self.up_proj, self.down_proj = linear(D, hidden, False), linear(D, hidden, False), linear(hidden, D, False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Moe(nn.Module):
    """models/moe.cpp, top-k router, dropless: E copies of the dense MLP and a router."""

    def __init__(self, dense, D, c):
        super().__init__()
        self.top_k = c["top_k"]
        self.experts = nn.ModuleList(copy.deepcopy(dense) for _ in range(c["num_experts"]))
        self.gate = nn.Linear(D, c["num_experts"], bias=False)
        nn.init.uniform_(self.gate.weight, -D**-0.5, D**-0.5)  # as MoeLayer::upcycle

    def forward(self, x):
        D, E, K = x.shape[-1], len(self.experts), self.top_k
        x2 = x.reshape(-1, D)  # (N, D)
        N = x2.shape[0]
        logits = self.gate(x2)  # (N, E)
        probs = logits.softmax(1)
        picks = logits.detach().topk(K, 1).indices  # (N, K), largest first
        p = probs.gather(1, picks)
        w = (p / p.sum(1, keepdim=True)).reshape(N * K)  # picked probabilities, renormalised
        # Group the N*K picks by expert, token order within an expert (a stable sort of slots).
        order = torch.sort(picks.reshape(-1), stable=True).indices
        rows = order // K
        counts = torch.bincount(picks.reshape(-1), minlength=E).tolist()
        xs = x2.index_select(0, rows)  # (N*K, D)
        # One product chain per expert; experts no token picked stay out of the graph.
        ys = torch.cat([expert(xe) for expert, xe in zip(self.experts, xs.split(counts)) if xe.shape[0] > 0])
        y = torch.zeros_like(x2).index_add(0, rows, ys * w.index_select(0, order)[:, None])
        # Switch load balancing: E * sum_e mean_t(probs_e) * (share of tokens whose top-1 is e).
        frac = torch.bincount(picks[:, 0], minlength=E).float() / N
        return y.reshape(x.shape), (probs.mean(0) * frac).sum() * E


class DecoderLayer(nn.Module):
    def __init__(self, D, heads, kv_heads, hidden):
        super().__init__()
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(D), RMSNorm(D)
        self.self_attn = Attention(D, heads, kv_heads, out_bias=False, causal=True)
        self.mlp = SwiGlu(D, hidden)

    def forward(self, x, rope):
        h = x + self.self_attn(self.input_layernorm(x), rope)
        out = self.mlp(self.post_attention_layernorm(h))
        return (h + out[0], out[1]) if isinstance(self.mlp, Moe) else (h + out, None)


class Llava(nn.Module):
    """LlavaModel: vision tower -> mlp2x_gelu projector -> Qwen2 LM, image features spliced in."""

    def __init__(self, vision, c, vision_dim):
        super().__init__()
        D, self.heads = c["hidden_size"], c["num_heads"]
        self.vision = vision  # shared between teacher and student, as in train_steps
        self.projector = nn.Sequential(linear(vision_dim, D, True), nn.GELU(), linear(D, D, True))
        self.embed_tokens = nn.Embedding(c["vocab_size"], D)
        nn.init.normal_(self.embed_tokens.weight, std=INIT_STD)
        self.layers = nn.ModuleList(
            DecoderLayer(D, c["num_heads"], c["num_kv_heads"], c["intermediate_size"]) for _ in range(c["num_layers"]))
        self.norm = RMSNorm(D)
        self.lm_head = None if c["tie_word_embeddings"] else linear(D, c["vocab_size"], False)

    def upcycle(self, moe):
        spec = moe["moe_layers"]  # a list of layers, "every_other" or "all", as models/config.cpp reads it
        for l in spec if isinstance(spec, list) else range(0, len(self.layers), 2 if spec == "every_other" else 1):
            self.layers[l].mlp = Moe(self.layers[l].mlp, self.embed_tokens.embedding_dim, moe)

    def forward(self, ids, pixels, rows):
        """ids (B, T), pixels (B, 3, S, S), rows (N,) -> logits at rows (N, V), summed MoE aux loss."""
        B, T = ids.shape
        D = self.embed_tokens.embedding_dim
        # A frozen vision tower (W2, W3) runs under no_grad; the projector after it may train.
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.vision.class_embedding.requires_grad):
            patches = self.vision(pixels)  # (B, P, Dv)
        feats = self.projector(patches)
        is_image = ids.reshape(-1) == IMAGE_ID
        embeds = self.embed_tokens(ids).reshape(B * T, D).masked_fill(is_image[:, None], 0.0)
        h = embeds.index_add(0, is_image.nonzero().squeeze(1), feats.reshape(-1, D)).reshape(B, T, D)
        rope = rope_tables(T, D // self.heads)
        aux = torch.zeros(())
        for layer in self.layers:
            h, layer_aux = layer(h, rope)
            if layer_aux is not None:
                aux = aux + layer_aux
        hidden = self.norm(h).reshape(B * T, D).index_select(0, rows)
        logits = self.lm_head(hidden) if self.lm_head is not None else hidden @ self.embed_tokens.weight.t()
        return logits, aux


def make_batch(B, text, prompt, pairs):
    """train_steps' make_batch: B rows of 64 image positions then `text` tokens, the response
    (text after `prompt`) supervised; with `pairs`, rows b and b + B/2 share the prompt."""
    S, p = CONFIG["vision"]["image_size"], CONFIG["vision"]["patch_size"]
    P, V = (S // p) ** 2, CONFIG["student"]["vocab_size"]
    T = P + text
    ids = torch.full((B, T), IMAGE_ID, dtype=torch.long)
    labels = torch.full((B, T), IGNORE, dtype=torch.long)
    for b in range(B):
        src = b % (B // 2) if pairs else b
        for t in range(P, T):
            response = t >= P + prompt
            seed = b if response and pairs else src
            ids[b, t] = 1 + (seed * 131 + t * 17) % (V - 1)
            if response:
                labels[b, t] = ids[b, t]
    # Shifted positions: row b*T + t predicts labels[b, t + 1] (train::shifted_positions).
    b_idx, t_idx = (labels[:, 1:] != IGNORE).nonzero(as_tuple=True)
    rows, targets = b_idx * T + t_idx, labels[b_idx, t_idx + 1]
    # One random image per row, as train_steps draws them (pairs do not share pixels there either).
    return ids, torch.randn(B, 3, S, S), rows, targets, b_idx


def soft_cross_entropy(s, t, tau=1.0):
    """KD: tau^2 * mean_N [ -sum_v softmax(t / tau) log softmax(s / tau) ]."""
    return -(F.softmax(t / tau, 1) * F.log_softmax(s / tau, 1)).sum(1).mean() * tau**2


def sequence_log_probs(logits, targets, sample, B):
    """Per-row sum of log p(target) over the supervised positions: (B,)."""
    picked = F.log_softmax(logits, 1).gather(1, targets[:, None]).squeeze(1)
    return torch.zeros(B).index_add(0, sample, picked)


def dpo_loss(policy, reference, beta=0.1):
    """mean -log sigmoid(beta (r_c - r_r)), r = policy - reference, chosen rows first."""
    r = policy - reference
    pairs = r.shape[0] // 2
    return F.softplus(-(r[:pairs] - r[pairs:]) * beta).mean()


def count(module, trainable=False):
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable)


def run_workload(name, steps):
    """Builds the models and batch of one workload, times its step; returns the table row."""
    torch.manual_seed(0)
    vision = ClipVision(CONFIG["vision"])
    Dv = CONFIG["vision"]["hidden_size"]
    # train_steps builds the teacher in every workload (the student borrows its vision tower).
    teacher = Llava(vision, CONFIG["teacher"], Dv).eval().requires_grad_(False)
    student = Llava(vision, CONFIG["student"], Dv)
    if name == "W1":
        student.requires_grad_(True)
        ids, pixels, rows, targets, sample = make_batch(8, 64, 0, False)
    else:
        student.upcycle(CONFIG["moe"])
        for pname, p in student.named_parameters():
            p.requires_grad = ".mlp." in pname or pname.startswith("projector.")
        ids, pixels, rows, targets, sample = make_batch(16, 64, 32, True) if name == "W3" else make_batch(8, 64, 0, False)

    def loss_fn():
        if name == "W1":
            return F.cross_entropy(student(ids, pixels, rows)[0], targets)
        with torch.no_grad():
            t, _ = teacher(ids, pixels, rows)
        s, aux = student(ids, pixels, rows)
        if name == "W2":
            return soft_cross_entropy(s, t) + F.cross_entropy(s, targets) + aux * AUX_COEF
        B = ids.shape[0]
        return dpo_loss(sequence_log_probs(s, targets, sample, B), sequence_log_probs(t, targets, sample, B)) + aux * AUX_COEF

    # AdamWOptions defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, no weight decay.
    opt = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=1e-3, weight_decay=0.0)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        opt.step()
        return loss.item()

    step()  # warm-up: page faults, thread start, allocator growth
    times, loss = [], 0.0
    for _ in range(steps):
        start = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - start)
    median = sorted(times)[steps // 2]  # bench/timing.h's median (the upper one for even steps)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (f"{name:<4} {median:10.3f} {ids.numel() / median:10.0f} {loss:10.4f} {peak_mib:10.0f} "
            f"{count(student, True):12d} {count(student):12d} {count(teacher):12d}")


def blas_libraries():
    """The BLAS shared objects this process mapped (Debian's torch uses whatever libblas.so.3 is)."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    with open("/proc/self/maps") as maps:
        return sorted({line.split()[-1] for line in maps if "blas" in line.split()[-1]})


def main():
    if any("=" not in a for a in sys.argv[1:]):
        sys.exit("usage: pytorch_steps.py [workload=W1|W2|W3|all] [steps=5]")
    args = dict(a.split("=", 1) for a in sys.argv[1:])
    workload, steps = args.pop("workload", "all"), max(1, int(args.pop("steps", "5")))
    header = args.pop("header", "true") == "true"  # false: the row of one child of workload=all
    if args or workload not in ("W1", "W2", "W3", "all"):
        sys.exit("usage: pytorch_steps.py [workload=W1|W2|W3|all] [steps=5]")
    torch.set_num_threads(2)
    if header:
        threads = next(l.strip() for l in torch.__config__.parallel_info().splitlines() if "get_num_threads" in l)
        print(f"torch {torch.__version__}, {threads}, BLAS: {' '.join(blas_libraries())}")
        print(" ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OMP_WAIT_POLICY")))
        print(f"{'':4} {'step s':>10} {'tokens/s':>10} {'loss':>10} {'peak MiB':>10} "
              f"{'trainable':>12} {'student':>12} {'teacher':>12}", flush=True)
    if workload != "all":
        print(run_workload(workload, steps), flush=True)
        return
    # One process per workload, so that peak RSS is each workload's own.
    for w in ("W1", "W2", "W3"):
        subprocess.run([sys.executable, os.path.abspath(__file__), f"workload={w}", f"steps={steps}", "header=false"],
                       check=True)


if __name__ == "__main__":
    main()
