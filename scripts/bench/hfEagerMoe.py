"""PyTorch eager reference for scripts/benchFineGrained.ts: the forward pass of an OLMoE / Qwen3-MoE /
Qwen2-MoE checkpoint written as Hugging Face's modelling code computes it (eager attention with repeat_kv
and an additive causal mask; the sparse MoE block's per-expert dispatch: gather the expert's tokens,
SwiGLU, index_add_), on the same safetensors weights, in float32.

Usage: python3 hfEagerMoe.py MODEL_DIR --tokens 128,1024 --reps 3 --threads 2
Prints one JSON object: best and median wall ms per token count, and the top-k experts of the last MoE
layer for the first token count (so the caller can check both sides route identically).
Token ids are (i * 7919 + 13) % vocab, as the TypeScript side uses.
"""
import argparse
import json
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("model_dir")
    p.add_argument("--tokens", default="128,1024")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args()


args = parse_args()
# BLAS and OpenMP read their thread counts when the libraries load.
os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.threads)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_torch import load_safetensors, rms_norm, rotate_half  # noqa: E402


def repeat_kv(x, n_rep):
    b, nkv, t, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, nkv, n_rep, t, d).reshape(b, nkv * n_rep, t, d)


class Model:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.c = json.load(f)
        self.w = load_safetensors(os.path.join(model_dir, "model.safetensors"))
        c = self.c
        self.type = c["model_type"]
        self.H = c["hidden_size"]
        self.nH = c["num_attention_heads"]
        self.nKV = c.get("num_key_value_heads", self.nH)
        self.D = c.get("head_dim") or self.H // self.nH
        self.eps = c["rms_norm_eps"]
        self.E = c["num_experts"]
        self.K = c["num_experts_per_tok"]
        self.norm_topk = c.get("norm_topk_prob", False)
        inv = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, self.D, 2, dtype=torch.int64).float() / self.D))
        self.inv_freq = inv

    def attention(self, L, x, cos, sin, mask):
        p = f"model.layers.{L}.self_attn."
        w = self.w
        T = x.shape[0]
        bias = lambda n: w.get(p + n)  # noqa: E731
        q = F.linear(x, w[p + "q_proj.weight"], bias("q_proj.bias"))
        k = F.linear(x, w[p + "k_proj.weight"], bias("k_proj.bias"))
        v = F.linear(x, w[p + "v_proj.weight"], bias("v_proj.bias"))
        if self.type == "olmoe":
            q = rms_norm(q, w[p + "q_norm.weight"], self.eps)
            k = rms_norm(k, w[p + "k_norm.weight"], self.eps)
        q = q.view(1, T, -1, self.D)
        k = k.view(1, T, -1, self.D)
        v = v.view(1, T, -1, self.D)
        if self.type == "qwen3_moe":
            q = rms_norm(q, w[p + "q_norm.weight"], self.eps)
            k = rms_norm(k, w[p + "k_norm.weight"], self.eps)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = repeat_kv(k, self.nH // self.nKV)
        v = repeat_kv(v, self.nH // self.nKV)
        s = torch.matmul(q, k.transpose(2, 3)) * (self.D ** -0.5) + mask
        s = F.softmax(s, dim=-1, dtype=torch.float32)
        o = torch.matmul(s, v).transpose(1, 2).reshape(T, -1)
        return F.linear(o, w[p + "o_proj.weight"])

    def mlp(self, prefix, x):
        w = self.w
        g = F.linear(x, w[prefix + "gate_proj.weight"])
        u = F.linear(x, w[prefix + "up_proj.weight"])
        return F.linear(F.silu(g) * u, w[prefix + "down_proj.weight"])

    def moe(self, L, x):
        p = f"model.layers.{L}.mlp."
        router = F.linear(x, self.w[p + "gate.weight"])
        probs = F.softmax(router, dim=1, dtype=torch.float)
        weights, selected = torch.topk(probs, self.K, dim=-1)
        if self.norm_topk:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        out = torch.zeros_like(x)
        expert_mask = F.one_hot(selected, num_classes=self.E).permute(2, 1, 0)
        hit = torch.greater(expert_mask.sum(dim=(-1, -2)), 0).nonzero()
        for e in hit:
            e = int(e)
            idx, top_x = torch.where(expert_mask[e])
            y = self.mlp(f"{p}experts.{e}.", x[top_x]) * weights[top_x, idx, None]
            out.index_add_(0, top_x, y)
        if self.type == "qwen2_moe":
            shared = self.mlp(p + "shared_expert.", x)
            shared = torch.sigmoid(F.linear(x, self.w[p + "shared_expert_gate.weight"])) * shared
            out = out + shared
        return out, selected

    @torch.no_grad()
    def forward(self, ids):
        T = ids.shape[0]
        w = self.w
        pos = torch.arange(T).float()
        freqs = torch.outer(pos, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = torch.full((T, T), float("-inf")).triu(1)[None, None]
        h = w["model.embed_tokens.weight"][ids]
        selected = None
        for L in range(self.c["num_hidden_layers"]):
            p = f"model.layers.{L}."
            h = h + self.attention(L, rms_norm(h, w[p + "input_layernorm.weight"], self.eps), cos, sin, mask)
            m, selected = self.moe(L, rms_norm(h, w[p + "post_attention_layernorm.weight"], self.eps))
            h = h + m
        logits = F.linear(rms_norm(h, w["model.norm.weight"], self.eps), w["lm_head.weight"])
        return logits, selected


def main():
    m = Model(args.model_dir)
    V = m.c["vocab_size"]
    counts = [int(t) for t in args.tokens.split(",")]
    ids = {T: torch.tensor([(i * 7919 + 13) % V for i in range(T)]) for T in counts}
    _, topk = m.forward(ids[counts[0]])
    for T in counts[1:]:
        m.forward(ids[T])  # warm-up
    times = {T: [] for T in counts}
    for _ in range(args.reps):
        for T in counts:
            t0 = time.perf_counter()
            m.forward(ids[T])
            times[T].append((time.perf_counter() - t0) * 1000)
    res = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "best_ms": {str(T): min(v) for T, v in times.items()},
        "median_ms": {str(T): sorted(v)[len(v) // 2] for T, v in times.items()},
        "last_layer_topk": topk.tolist(),
    }
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")


main()
