"""Trusted check of an FSDP job's products: `python -I sandboxed.py` in a fresh grading sandbox.

The sandbox holds only data and our own code: the grader's model.py / data.py (the hidden CONFIG),
params.json, and the bytes the agent's job wrote (checkpoint.pt, shard_rank<R>.pt), which are
loaded with torch.load(weights_only=True) and never imported or executed. The script recomputes
the training the prompt describes, in one process (FSDP over WORLD ranks with averaged gradients
is numerically one data-parallel step on the union of the ranks' batches), and reports plain
numbers in result.json; the verdict is reached in the pytest process (grader.verdict).
"""
import json
import math
import os
import sys

HERE = os.getcwd()
sys.path.insert(0, HERE)  # -I drops the script's folder: import the grader's model/data from here only


def load(name):
    """A state dict of plain tensors from one product file, or a string saying what is wrong."""
    import torch
    path = os.path.join(HERE, name)
    if not os.path.isfile(path):
        return "missing"
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        return f"not loadable with weights_only=True: {type(e).__name__}: {e}"[:600]
    if not isinstance(obj, dict):
        return f"holds a {type(obj).__name__}, not a dict of tensors"
    for k, v in obj.items():
        if not isinstance(k, str):
            return f"has a non-string key {k!r:.60}"
        if type(v) not in (torch.Tensor, torch.nn.Parameter):
            return f"{k}: a {type(v).__name__}, not a plain torch.Tensor"
    return obj


def structure(sd, ref):
    """Key, shape and dtype differences of a full state dict against the model's own."""
    bad = [f"missing {k}" for k in ref if k not in sd] + [f"unexpected {k}" for k in sd if k not in ref]
    for k, v in sd.items():
        if k in ref and (tuple(v.shape) != tuple(ref[k].shape) or v.dtype != ref[k].dtype):
            bad.append(f"{k}: {tuple(v.shape)} {v.dtype}, expected {tuple(ref[k].shape)} {ref[k].dtype}")
    return bad[:20]


def max_diff(a, b):
    return max(float((a[k].double() - b[k].double()).abs().max()) if a[k].numel() else 0.0 for k in b)


def train(p, set_epoch=True):
    """The prompt's training, recomputed: WORLD ranks' DistributedSampler batches, averaged."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data.distributed import DistributedSampler
    from data import make_dataset
    from model import build_model

    model = build_model()
    opt = torch.optim.AdamW(model.parameters(), lr=p["lr"])
    ds = make_dataset()
    samplers = [DistributedSampler(ds, num_replicas=p["world"], rank=r, shuffle=True, seed=p["sampler_seed"])
                for r in range(p["world"])]
    B = p["batch"]
    for epoch in range(p["epochs"]):
        per_rank = []
        for s in samplers:
            if set_epoch:
                s.set_epoch(epoch)
            per_rank.append(list(s))
        for i in range(0, len(per_rank[0]), B):
            loss = 0.0
            for idx in per_rank:
                items = [ds[j] for j in idx[i:i + B]]
                x = torch.stack([a for a, _ in items])
                y = torch.stack([b for _, b in items])
                logits = model(x)
                loss = loss + F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            opt.zero_grad()
            (loss / p["world"]).backward()
            opt.step()
    return {k: v.detach() for k, v in model.state_dict().items()}


def mean_loss(sd):
    import torch
    import torch.nn.functional as F
    from data import make_dataset
    from model import build_model
    m = build_model()
    m.load_state_dict(sd)
    ds = make_dataset()
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    y = torch.stack([ds[i][1] for i in range(len(ds))])
    with torch.no_grad():
        logits = m(x)
        v = float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)))
    return v if math.isfinite(v) else None


def shard_report(shards, ck, world):
    """How the per-rank files relate to the full checkpoint: each must be its rank's dim-0 chunk."""
    import torch
    out = {"issues": [], "max_diff": 0.0, "largest_fraction": 0.0}
    for r, sh in enumerate(shards):
        if isinstance(sh, str):
            out["issues"].append(f"shard_rank{r}.pt {sh}")
    if out["issues"]:
        return out
    for r, sh in enumerate(shards):
        extra = sorted(set(sh) - set(ck))
        if extra or set(sh) != set(ck):
            out["issues"].append(f"shard_rank{r}.pt keys differ from the state dict's "
                                 f"(missing {sorted(set(ck) - set(sh))[:3]}, unexpected {extra[:3]})")
    if out["issues"]:
        return out
    total = sum(v.numel() for v in ck.values())
    for r, sh in enumerate(shards):
        out["largest_fraction"] = max(out["largest_fraction"], sum(v.numel() for v in sh.values()) / max(total, 1))
    for k, full in ck.items():
        parts = [sh[k] for sh in shards]
        want = list(torch.chunk(full, world, dim=0)) if full.dim() else [full]
        want += [full[:0]] * (world - len(want))
        for r, (got, w) in enumerate(zip(parts, want)):
            if tuple(got.shape) != tuple(w.shape) or got.dtype != w.dtype:
                out["issues"].append(f"shard_rank{r}.pt[{k}] has shape {tuple(got.shape)} {got.dtype}; "
                                     f"rank {r}'s dim-0 part of {tuple(full.shape)} is {tuple(w.shape)}")
                break
            if got.numel():
                out["max_diff"] = max(out["max_diff"], float((got.double() - w.double()).abs().max()))
        if len(out["issues"]) >= 5:
            break
    return out


def main():
    import torch
    torch.set_num_threads(1)
    with open(os.path.join(HERE, "params.json")) as fh:
        p = json.load(fh)
    from model import build_model
    res = {"version": 2}
    init = {k: v.detach().clone() for k, v in build_model().state_dict().items()}
    ck = load(p["checkpoint"])
    if isinstance(ck, str):
        res["checkpoint_error"] = ck
        return res
    bad = structure(ck, init)
    if bad:
        res["checkpoint_error"] = "not the full unsharded state dict: " + "; ".join(bad[:5])
        return res
    res["nonfinite"] = sorted(k for k, v in ck.items() if v.is_floating_point() and not bool(torch.isfinite(v).all()))[:10]
    if res["nonfinite"]:
        return res
    res["shards"] = shard_report([load(n) for n in p["shards"]], ck, p["world"])
    if res["shards"]["issues"] or res["shards"]["max_diff"] > p["shard_tolerance"]:
        return res  # decided (not_sharded / checkpoint_mismatch) before any training is compared
    ref = train(p)
    res["diff_ref"] = max_diff(ck, ref)
    res["diff_init"] = max_diff(ck, init)
    res["ref_moved"] = max_diff(ref, init)
    res["loss"] = mean_loss(ck)
    res["loss_ref"] = mean_loss(ref)
    if res["diff_ref"] > p["tolerance"]:  # name a common mistake: the same order every epoch
        res["diff_no_set_epoch"] = max_diff(ck, train(p, set_epoch=False))
    return res


if __name__ == "__main__":
    result = main()
    with open("result.json", "w") as fh:
        json.dump(result, fh)
