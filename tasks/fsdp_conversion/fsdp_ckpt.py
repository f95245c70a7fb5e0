"""Clean checkpoint check: `python -I fsdp_ckpt.py <checkpoint>` in a fresh folder holding the
grader's own model.py and data.py (no agent code ever runs in this process).

Loads the checkpoint with torch.load(weights_only=True), compares it key by key with a fresh
build_model().state_dict(), loads it strictly and measures the mean next-token cross-entropy on
the whole dataset. Prints one JSON line (the grader reads it from a file it names)."""
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(HERE)  # after the standard paths: model/data come from here only


def main(path, out):
    res = {}
    try:
        import torch
        import torch.nn.functional as F
        torch.set_num_threads(1)
        from data import make_dataset
        from model import build_model
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001
            res["load_error"] = f"{type(e).__name__}: {e}"[:800]
            return res
        if not isinstance(sd, dict):
            res["not_dict"] = type(sd).__name__
            return res
        model = build_model()
        ref = model.state_dict()
        keys = [k for k in sd]
        res["n_keys"] = len(keys)
        res["missing"] = sorted(k for k in ref if k not in sd)[:50]
        res["unexpected"] = sorted(str(k) for k in keys if k not in ref)[:50]
        bad = []
        for k, v in sd.items():
            if k not in ref:
                continue
            if type(v) not in (torch.Tensor, torch.nn.Parameter):
                bad.append(f"{k}: {type(v).__name__}")
            elif tuple(v.shape) != tuple(ref[k].shape):
                bad.append(f"{k}: shape {tuple(v.shape)} != {tuple(ref[k].shape)}")
            elif v.dtype != ref[k].dtype:
                bad.append(f"{k}: dtype {v.dtype} != {ref[k].dtype}")
            elif not bool(torch.isfinite(v).all()):
                bad.append(f"{k}: non-finite values")
        res["bad"] = bad[:50]
        if res["missing"] or res["unexpected"] or bad:
            return res
        model.load_state_dict({k: sd[k] for k in ref}, strict=True)
        model.eval()
        ds = make_dataset()
        x = torch.stack([ds[i][0] for i in range(len(ds))])
        y = torch.stack([ds[i][1] for i in range(len(ds))])
        with torch.no_grad():
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
        res["loss"] = loss if math.isfinite(loss) else str(loss)
        return res
    except Exception as e:  # noqa: BLE001
        res["check_error"] = f"{type(e).__name__}: {e}"[:800]
        return res


if __name__ == "__main__":
    r = main(sys.argv[1], sys.argv[2])
    with open(sys.argv[2], "w") as fh:
        json.dump(r, fh)
