"""PyTorch autograd reference for scripts/benchTraining.ts: one training step of a Mixtral checkpoint (the
benchmark model's family) as Hugging Face's eager modelling code computes it, in float32: RMSNorm, rotary
attention with an additive causal mask and a float32 softmax, the sparse MoE block's per-expert dispatch
(softmax over router logits, top-k, renormalise, gather the expert's tokens, w2(silu(w1 x) * w3 x), scale,
index_add_), the causal-LM loss with labels = input ids (mean cross-entropy of the shifted logits). Every
routed expert's w1/w2/w3 requires grad; everything else is frozen.

Usage: python3 torchTrainStep.py MODEL_DIR --threads 2
A server on stdin/stdout, one JSON object per line each way, so that the caller can interleave its own runs
with these in one process lifetime (the weights load once):
  {"cmd": "step", "T": 512}     -> forward + loss.backward(): ms, forward_ms, backward_ms, loss
  {"cmd": "forward", "T": 512}  -> forward + loss under no_grad: ms, loss
  {"cmd": "grads", "T": 512}    -> loss, the norm of every expert gradient, and a few entries of some
  {"cmd": "reset_peak"}         -> resets VmHWM (peak resident set) so the next figures are per phase
  {"cmd": "adamw", "lr": 1e-4, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1, "clip": 1.0}
                                -> sets up torch.optim.AdamW over every routed expert tensor (for "train")
  {"cmd": "train", "T": 512}    -> one optimizer step (scripts/benchFinetune.ts): zero_grad, forward, backward,
                                   clip_grad_norm_ (when clip > 0), AdamW step: ms and its parts, loss, grad_norm
  {"cmd": "dump", "names": [...], "file": F} -> the named tensors' current values, float32 little-endian, one
                                   after the other into F: their element counts
Every answer carries rss_peak_kb (getrusage ru_maxrss, whole life), vm_hwm_kb (since the last reset) and
rss_anon_kb. Token ids are (i * 7919 + 13) % vocab, as the TypeScript side uses.
"""
import argparse
import json
import os
import resource
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("model_dir")
p.add_argument("--threads", type=int, default=2)
args = p.parse_args()
# BLAS and OpenMP read their thread counts when the libraries load.
os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.threads)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_torch import load_safetensors, rms_norm, rotate_half  # noqa: E402


class Mixtral:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            c = json.load(f)
        if c["model_type"] != "mixtral":
            raise SystemExit(f"{model_dir}: model_type {c['model_type']!r}; this reference implements mixtral only")
        self.c = c
        self.w = load_safetensors(os.path.join(model_dir, "model.safetensors"))
        self.H = c["hidden_size"]
        self.nH = c["num_attention_heads"]
        self.nKV = c.get("num_key_value_heads", self.nH)
        self.D = c.get("head_dim") or self.H // self.nH
        self.eps = c["rms_norm_eps"]
        self.E = c["num_local_experts"]
        self.K = c["num_experts_per_tok"]
        self.L = c["num_hidden_layers"]
        self.V = c["vocab_size"]
        self.inv_freq = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, self.D, 2, dtype=torch.int64).float() / self.D))
        self.experts = [n for n in self.w if ".block_sparse_moe.experts." in n]
        for n in self.experts:
            self.w[n].requires_grad_(True)

    def attention(self, L, x, cos, sin, mask):
        p = f"model.layers.{L}.self_attn."
        w = self.w
        T = x.shape[0]
        q = F.linear(x, w[p + "q_proj.weight"]).view(1, T, self.nH, self.D).transpose(1, 2)
        k = F.linear(x, w[p + "k_proj.weight"]).view(1, T, self.nKV, self.D).transpose(1, 2)
        v = F.linear(x, w[p + "v_proj.weight"]).view(1, T, self.nKV, self.D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        r = self.nH // self.nKV
        if r > 1:
            k = k[:, :, None].expand(1, self.nKV, r, T, self.D).reshape(1, self.nH, T, self.D)
            v = v[:, :, None].expand(1, self.nKV, r, T, self.D).reshape(1, self.nH, T, self.D)
        s = torch.matmul(q, k.transpose(2, 3)) / (self.D ** 0.5) + mask
        s = F.softmax(s, dim=-1, dtype=torch.float32)
        o = torch.matmul(s, v).transpose(1, 2).reshape(T, -1)
        return F.linear(o, w[p + "o_proj.weight"])

    def moe(self, L, x):
        p = f"model.layers.{L}.block_sparse_moe."
        w = self.w
        probs = F.softmax(F.linear(x, w[p + "gate.weight"]), dim=1, dtype=torch.float)
        weights, selected = torch.topk(probs, self.K, dim=-1)
        weights = weights / weights.sum(dim=-1, keepdim=True)
        out = torch.zeros_like(x)
        expert_mask = F.one_hot(selected, num_classes=self.E).permute(2, 1, 0)
        for e in range(self.E):
            idx, top_x = torch.where(expert_mask[e])
            if top_x.numel() == 0:
                continue
            q = f"{p}experts.{e}."
            xs = x[top_x]
            y = F.linear(F.silu(F.linear(xs, w[q + "w1.weight"])) * F.linear(xs, w[q + "w3.weight"]), w[q + "w2.weight"])
            out.index_add_(0, top_x, y * weights[top_x, idx, None])
        return out

    def loss(self, ids):
        T = ids.shape[0]
        w = self.w
        freqs = torch.outer(torch.arange(T).float(), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = torch.full((T, T), float("-inf")).triu(1)[None, None]
        h = w["model.embed_tokens.weight"][ids]
        for L in range(self.L):
            q = f"model.layers.{L}."
            h = h + self.attention(L, rms_norm(h, w[q + "input_layernorm.weight"], self.eps), cos, sin, mask)
            h = h + self.moe(L, rms_norm(h, w[q + "post_attention_layernorm.weight"], self.eps))
        logits = F.linear(rms_norm(h, w["model.norm.weight"], self.eps), w["lm_head.weight"]).float()
        return F.cross_entropy(logits[:-1], ids[1:])


def memory():
    with open("/proc/self/status") as f:
        st = dict(line.split(":", 1) for line in f)
    kb = lambda k: int(st[k].split()[0])  # noqa: E731
    return {"rss_peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "vm_hwm_kb": kb("VmHWM"), "rss_anon_kb": kb("RssAnon")}


# Entries compared besides the norms: a few tensors, a few flat positions each.
PROBE_TENSORS = ["model.layers.0.block_sparse_moe.experts.0.w1.weight", "model.layers.3.block_sparse_moe.experts.7.w2.weight", "model.layers.7.block_sparse_moe.experts.15.w3.weight"]


def main():
    t0 = time.perf_counter()
    m = Mixtral(args.model_dir)
    ids_of = lambda T: torch.tensor([(i * 7919 + 13) % m.V for i in range(T)])  # noqa: E731
    hello = {"torch": torch.__version__, "threads": torch.get_num_threads(), "load_ms": (time.perf_counter() - t0) * 1000, **memory()}
    print(json.dumps(hello), flush=True)
    opt = None
    clip = 0.0
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req["cmd"]
        res = {}
        if cmd == "reset_peak":
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        elif cmd == "forward":
            ids = ids_of(req["T"])
            t0 = time.perf_counter()
            with torch.no_grad():
                res["loss"] = m.loss(ids).item()
            res["ms"] = (time.perf_counter() - t0) * 1000
        elif cmd in ("step", "grads"):
            ids = ids_of(req["T"])
            for n in m.experts:
                m.w[n].grad = None
            t0 = time.perf_counter()
            loss = m.loss(ids)
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            res.update(loss=loss.item(), ms=(t2 - t0) * 1000, forward_ms=(t1 - t0) * 1000, backward_ms=(t2 - t1) * 1000)
            if cmd == "grads":
                g = lambda n: m.w[n].grad if m.w[n].grad is not None else torch.zeros_like(m.w[n])  # noqa: E731
                res["norms"] = {n: g(n).double().norm().item() for n in m.experts}
                res["probes"] = {n: g(n).flatten()[:: max(1, g(n).numel() // 8)][:8].tolist() for n in PROBE_TENSORS}
        elif cmd == "adamw":
            params = [m.w[n] for n in m.experts]
            opt = torch.optim.AdamW(params, lr=req["lr"], betas=tuple(req["betas"]), eps=req["eps"], weight_decay=req["weight_decay"])
            clip = req.get("clip", 0.0)
        elif cmd == "train":
            ids = ids_of(req["T"])
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = m.loss(ids)
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            # An expert no token reached has no gradient: torch's AdamW would skip it, our trainer applies
            # weight decay to every trained tensor. A zero gradient makes the two the same update.
            for n in m.experts:
                if m.w[n].grad is None:
                    m.w[n].grad = torch.zeros_like(m.w[n])
            norm = torch.nn.utils.clip_grad_norm_([m.w[n] for n in m.experts], clip).item() if clip > 0 else None
            t3 = time.perf_counter()
            opt.step()
            t4 = time.perf_counter()
            res.update(loss=loss.item(), grad_norm=norm, ms=(t4 - t0) * 1000, forward_ms=(t1 - t0) * 1000, backward_ms=(t2 - t1) * 1000, clip_ms=(t3 - t2) * 1000, optimizer_ms=(t4 - t3) * 1000)
        elif cmd == "dump":
            with open(req["file"], "wb") as f:
                for n in req["names"]:
                    f.write(m.w[n].detach().contiguous().numpy().astype("<f4").tobytes())
            res["counts"] = [m.w[n].numel() for n in req["names"]]
        else:
            raise SystemExit(f"unknown command {cmd!r}")
        print(json.dumps({**res, **memory()}), flush=True)


main()
