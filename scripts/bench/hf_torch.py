"""What the PyTorch reference scripts (hfEagerMoe.py, torchTrainStep.py) share: reading the benchmark's
safetensors into float32 tensors, and Hugging Face's RMSNorm and rotate-half. Import it after setting the
BLAS/OpenMP thread variables: torch reads them when it loads."""
import json
import struct

import numpy as np
import torch


def load_safetensors(path):
    """name -> float32 torch tensor; BF16/F16/F32 only (what the benchmark writes)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    raw = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        buf = raw[a:b]
        if t["dtype"] == "BF16":
            arr = (buf.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif t["dtype"] == "F16":
            arr = buf.view(np.float16).astype(np.float32)
        elif t["dtype"] == "F32":
            arr = np.array(buf.view(np.float32))
        else:
            raise SystemExit(f"{path}: tensor {name} has dtype {t['dtype']}, not handled")
        out[name] = torch.from_numpy(arr.reshape(t["shape"]))
    return out


def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)
