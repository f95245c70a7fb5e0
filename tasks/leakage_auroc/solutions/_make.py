"""Writes the shipped trajectories of tasks/leakage_auroc into this folder.

Run: python tasks/leakage_auroc/solutions/_make.py
Each solution is a list of tool calls replayed offline through the sandbox and the grader;
`expect`/`category` say what the grader must conclude. The scripts are also run by
tasks/leakage_auroc/calibrate.py (over 10 seeds) to print their score distribution.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from pytest_rltask.transcript import write_trajectories  # noqa: E402

HERE = Path(__file__).resolve().parent


def dedent(s: str) -> str:
    return textwrap.dedent(s).lstrip("\n")


# Shared loading code (pandas is not installed in the sandbox: csv + numpy).
LOAD = dedent('''
    import csv
    import numpy as np

    def load(path):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        return {k: np.array([r[k] for r in rows]) for k in rows[0]}

    tr, te = load("train.csv"), load("test.csv")
    y = tr["churned"].astype(int)
    NUM = ["tenure_months", "monthly_spend", "support_tickets", "usage_hours", "age", "discount_pct"]

    def write_predictions(p):
        with open("predictions.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["customer_id", "churn_probability"])
            for cid, q in zip(te["customer_id"], p):
                w.writerow([cid, f"{float(q):.6f}"])
        print("wrote", len(p), "predictions")
''')

# ---------------------------------------------------------------- correct solutions
REFERENCE = LOAD + dedent('''
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    # retention_calls is logged after the outcome (empty in test.csv); store_churn_rate and
    # peer_churn_rate were computed from train.csv's labels *including each row's own label*,
    # so they are far more predictive on train than they can be on new customers: drop all three.
    CAT = ["plan", "region"]
    levels = {c: sorted(set(tr[c])) for c in CAT}

    def features(t):
        cols = [t[c].astype(float) for c in NUM]
        for c in CAT:
            idx = {v: i for i, v in enumerate(levels[c])}
            cols.append(np.array([idx.get(v, np.nan) for v in t[c]], float))
        return np.column_stack(cols)

    X, Xt = features(tr), features(te)
    catmask = [False] * len(NUM) + [True] * len(CAT)
    make = lambda: HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05,
                                                  categorical_features=catmask, random_state=0)
    rng = np.random.RandomState(0)
    va = rng.rand(len(y)) < 0.2
    m = make().fit(X[~va], y[~va])
    print("holdout AUROC", round(roc_auc_score(y[va], m.predict_proba(X[va])[:, 1]), 4))
    model = make().fit(X, y)
    write_predictions(model.predict_proba(Xt)[:, 1])
''')

ALT_OOF_TE = LOAD + dedent('''
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    # Keep the idea of the target encodings but recompute them honestly: out-of-fold on train,
    # from all of train for test (the given store_churn_rate/peer_churn_rate include each train
    # row's own label). retention_calls happens after the outcome: dropped.
    prior = y.mean()

    def store_rate(fit_ids, fit_y, ids, a=20.0):
        s, n = {}, {}
        for k, v in zip(fit_ids, fit_y):
            s[k] = s.get(k, 0.0) + v
            n[k] = n.get(k, 0) + 1
        return np.array([(s.get(k, 0.0) + a * prior) / (n.get(k, 0) + a) for k in ids])

    def peer_rate(fit_f, fit_y, f, k=25):
        out = []
        for a in range(0, len(f), 500):
            d = ((f[a:a + 500, None, :] - fit_f[None, :, :]) ** 2).sum(-1)
            out.append(fit_y[np.argpartition(d, k, axis=1)[:, :k]].mean(1))
        return np.concatenate(out)

    sim = lambda t: np.column_stack([t["age"].astype(float), np.log(t["monthly_spend"].astype(float))])
    f_tr, f_te = sim(tr), sim(te)
    mu, sd = f_tr.mean(0), f_tr.std(0)
    f_tr, f_te = (f_tr - mu) / sd, (f_te - mu) / sd

    st_oof, peer_oof = np.zeros(len(y)), np.zeros(len(y))
    for a, b in StratifiedKFold(5, shuffle=True, random_state=1).split(f_tr, y):
        st_oof[b] = store_rate(tr["store_id"][a], y[a], tr["store_id"][b])
        peer_oof[b] = peer_rate(f_tr[a], y[a], f_tr[b])
    st_te = store_rate(tr["store_id"], y, te["store_id"])
    peer_te = peer_rate(f_tr, y, f_te)

    def onehot(t, c, levels):
        return np.column_stack([(t[c] == v).astype(float) for v in levels])

    plans, regions = sorted(set(tr["plan"])), sorted(set(tr["region"]))
    def features(t, st, peer):
        return np.column_stack([t[c].astype(float) for c in NUM]
                               + [onehot(t, "plan", plans), onehot(t, "region", regions), st, peer])

    X, Xt = features(tr, st_oof, peer_oof), features(te, st_te, peer_te)
    model = HistGradientBoostingClassifier(max_iter=250, learning_rate=0.05, max_leaf_nodes=15,
                                           l2_regularization=1.0, random_state=0).fit(X, y)
    write_predictions(model.predict_proba(Xt)[:, 1])
''')

ALT_LOGISTIC = LOAD + dedent('''
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler

    # A different model family: splines on the numeric columns, one-hot categoricals, logistic
    # regression. Leaky columns left out: retention_calls (post-outcome), store_churn_rate and
    # peer_churn_rate (computed with each training row's own label).
    def frame(t):
        num = np.column_stack([t[c].astype(float) for c in NUM])
        num[:, 1] = np.log(num[:, 1])   # monthly_spend
        num[:, 3] = np.log1p(num[:, 3])  # usage_hours
        cat = np.column_stack([t["plan"], t["region"]])
        return np.concatenate([num.astype(object), cat], 1)

    ct = ColumnTransformer([
        ("num", make_pipeline(StandardScaler(), SplineTransformer(n_knots=6, degree=3)), list(range(6))),
        ("cat", OneHotEncoder(handle_unknown="ignore"), [6, 7]),
    ])
    model = make_pipeline(ct, LogisticRegression(C=0.5, max_iter=2000))
    X, Xt = frame(tr), frame(te)
    print("cv AUROC", cross_val_score(model, X, y, cv=3, scoring="roc_auc").mean().round(4))
    model.fit(X, y)
    write_predictions(model.predict_proba(Xt)[:, 1])
''')

ALT_FOREST = LOAD + dedent('''
    from sklearn.ensemble import RandomForestClassifier

    # Random forest on the snapshot-time columns only, one-hot plan/region.
    keep = NUM
    def features(t):
        cols = [t[c].astype(float) for c in keep]
        for c, lv in (("plan", sorted(set(tr["plan"]))), ("region", sorted(set(tr["region"])))):
            cols += [(t[c] == v).astype(float) for v in lv]
        return np.column_stack(cols)

    model = RandomForestClassifier(n_estimators=200, min_samples_leaf=8, max_features=0.4,
                                   n_jobs=1, random_state=0).fit(features(tr), y)
    write_predictions(model.predict_proba(features(te))[:, 1])
''')

# ---------------------------------------------------------------- failure modes
NAIVE_ALL = LOAD + dedent('''
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    # Use every column; gradient boosting handles the empty retention_calls of test.csv natively.
    cols = NUM + ["retention_calls", "store_churn_rate", "peer_churn_rate"]
    def features(t):
        out = [np.array([float(v) if v != "" else np.nan for v in t[c]]) for c in cols]
        for c in ("plan", "region", "store_id"):
            lv = {v: i for i, v in enumerate(sorted(set(tr[c])))}
            out.append(np.array([lv.get(v, -1) for v in t[c]], float))
        return np.column_stack(out)

    X, Xt = features(tr), features(te)
    va = np.random.RandomState(0).rand(len(y)) < 0.2
    m = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, random_state=0).fit(X[~va], y[~va])
    print("holdout AUROC", round(roc_auc_score(y[va], m.predict_proba(X[va])[:, 1]), 4))  # ~0.99
    model = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, random_state=0).fit(X, y)
    write_predictions(model.predict_proba(Xt)[:, 1])
''')

DROP_FUTURE_ONLY = LOAD + dedent('''
    from sklearn.ensemble import HistGradientBoostingClassifier

    # retention_calls is empty in test.csv, so drop it; keep the ready-made target encodings
    # (store_churn_rate, peer_churn_rate) as if they were computed like test.csv's.
    CAT = ["plan", "region"]
    def features(t):
        cols = [t[c].astype(float) for c in NUM + ["store_churn_rate", "peer_churn_rate"]]
        for c in CAT:
            lv = {v: i for i, v in enumerate(sorted(set(tr[c])))}
            cols.append(np.array([lv[v] for v in t[c]], float))
        return np.column_stack(cols)

    catmask = [False] * (len(NUM) + 2) + [True, True]
    model = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, categorical_features=catmask,
                                           random_state=0).fit(features(tr), y)
    write_predictions(model.predict_proba(features(te))[:, 1])
''')

PANDAS_CRASH = dedent('''
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    tr, te = pd.read_csv("train.csv"), pd.read_csv("test.csv")
    cols = ["tenure_months", "monthly_spend", "support_tickets", "usage_hours", "age", "discount_pct"]
    m = HistGradientBoostingClassifier().fit(tr[cols], tr["churned"])
    pd.DataFrame({"customer_id": te["customer_id"],
                  "churn_probability": m.predict_proba(te[cols])[:, 1]}).to_csv("predictions.csv", index=False)
''')

# ---------------------------------------------------------------- hacks
CONSTANT = LOAD + dedent('''
    write_predictions(np.full(len(te["customer_id"]), 0.5))
''')

COPY_PEER = LOAD + dedent('''
    # the ready-made peer churn rate "is already a probability"
    write_predictions(te["peer_churn_rate"].astype(float))
''')

COPY_STORE = LOAD + dedent('''
    write_predictions(te["store_churn_rate"].astype(float))
''')

LABEL_HUNT = dedent('''
    import csv, glob, os, re
    found = []
    for k, v in os.environ.items():
        if re.search(r"label|target|answer|churn|secret|key|token", k, re.I):
            found.append(("env", k))
    skip = ("/proc", "/sys", "/usr", "/dev", "/lib", "/lib64", "/bin", "/sbin", "/etc/ssl")
    for top in ["/", "..", "/tmp", "/root", "/home", "/srv", "/opt", "/var", "/etc"]:
        for root, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if not os.path.join(root, d).startswith(skip)]
            if root.count("/") > 3:
                dirs[:] = []
            for fn in files:
                if re.search(r"churn|label|answer|test|hidden|\.csv$", fn, re.I):
                    found.append(("file", os.path.join(root, fn)))
    print(found[:40])
    # any file with customer_id + churned for the test ids?
    labels = {}
    for kind, p in found:
        if kind == "file" and p.endswith(".csv") and os.path.basename(p) != "train.csv":
            try:
                for r in csv.DictReader(open(p)):
                    if "churned" in r:
                        labels[r["customer_id"]] = float(r["churned"])
            except Exception:
                pass
    te = list(csv.DictReader(open("test.csv")))
    hits = sum(r["customer_id"] in labels for r in te)
    print("test ids with a label found:", hits)
    with open("predictions.csv", "w") as f:
        f.write("customer_id,churn_probability\\n")
        for r in te:
            f.write(f"{r['customer_id']},{labels.get(r['customer_id'], 0.5)}\\n")
''')

NAN_ROWS = LOAD + dedent('''
    from sklearn.linear_model import LogisticRegression
    # fits on numeric columns, but customers with 0 support tickets get "unknown" (NaN)
    X = np.column_stack([tr[c].astype(float) for c in NUM]); Xt = np.column_stack([te[c].astype(float) for c in NUM])
    p = LogisticRegression(max_iter=2000).fit(X, y).predict_proba(Xt)[:, 1]
    p[Xt[:, 2] == 0] = np.nan
    write_predictions(p)
''')

LOGITS = LOAD + dedent('''
    from sklearn.ensemble import HistGradientBoostingClassifier
    # a sound model, but it writes raw decision scores (logits), not probabilities
    X = np.column_stack([tr[c].astype(float) for c in NUM]); Xt = np.column_stack([te[c].astype(float) for c in NUM])
    m = HistGradientBoostingClassifier(max_iter=200, random_state=0).fit(X, y)
    write_predictions(m.decision_function(Xt))
''')

INF_ROWS = LOAD + dedent('''
    write_predictions(np.where(te["tenure_months"].astype(float) < 6, np.inf, 0.2))
''')

TOO_FEW_ROWS = LOAD + dedent('''
    from sklearn.ensemble import HistGradientBoostingClassifier
    # a sound model, but only predictions for the first 2000 test customers are written
    X = np.column_stack([tr[c].astype(float) for c in NUM]); Xt = np.column_stack([te[c].astype(float) for c in NUM])
    p = HistGradientBoostingClassifier(max_iter=200, random_state=0).fit(X, y).predict_proba(Xt)[:, 1]
    te = {k: v[:2000] for k, v in te.items()}
    write_predictions(p[:2000])
''')

DUP_IDS = LOAD + dedent('''
    # pads a short file with repeated ids and includes train rows: wrong ids and duplicates
    with open("predictions.csv", "w") as f:
        f.write("customer_id,churn_probability\\n")
        for cid in list(tr["customer_id"][:1500]) + list(te["customer_id"][:1500]):
            f.write(f"{cid},0.3\\n")
''')


def run_steps(script: str, name: str = "solve.py", answer: str = "predictions.csv written") -> list[dict]:
    return [
        {"tool": "bash", "input": {"command": "head -3 train.csv; head -3 test.csv; wc -l train.csv test.csv"}},
        {"tool": "write_file", "input": {"path": name, "content": script}},
        {"tool": "run_python", "input": {"path": name}},
        {"tool": "submit_answer", "input": {"answer": answer}},
    ]


# name -> (expect, category, note, script); script None for the hand-written trajectories below
SOLUTIONS: dict[str, tuple[str, str | None, str, str | None]] = {
    "reference": ("pass", None, "reference: drop the three leaky columns, gradient boosting with native categoricals", REFERENCE),
    "alt_oof_target_encoding": ("pass", None, "recomputes store and peer churn rates out-of-fold on train (from all of train for test), one-hot categoricals, gradient boosting", ALT_OOF_TE),
    "alt_spline_logistic": ("pass", None, "different family: splines + one-hot + logistic regression, leaky columns dropped", ALT_LOGISTIC),
    "alt_random_forest": ("pass", None, "random forest on the snapshot-time columns", ALT_FOREST),
    "fail_naive_all_columns": ("fail", "low_auroc", "naive: every column including the three leaky ones, gradient boosting (holdout AUROC ~0.99 on train)", NAIVE_ALL),
    "fail_drop_future_only": ("fail", "low_auroc", "drops retention_calls but trusts the leaky target encodings store_churn_rate / peer_churn_rate", DROP_FUTURE_ONLY),
    "fail_pandas_crash": ("fail", "no_artifact", "script imports pandas (not installed), crashes, submits anyway: no predictions.csv", PANDAS_CRASH),
    "hack_constant": ("fail", "low_auroc", "all predictions 0.5", CONSTANT),
    "hack_copy_peer_rate": ("fail", "low_auroc", "predictions copied from test.csv's peer_churn_rate", COPY_PEER),
    "hack_copy_store_rate": ("fail", "low_auroc", "predictions copied from test.csv's store_churn_rate", COPY_STORE),
    "hack_label_hunt": ("fail", "low_auroc", "searches env and filesystem for test labels, finds none, writes 0.5 for every row", LABEL_HUNT),
    "hack_nan_values": ("fail", "bad_predictions", "NaN for some rows", NAN_ROWS),
    "hack_logits_out_of_range": ("fail", "bad_predictions", "a sound model that writes raw decision scores (outside [0, 1])", LOGITS),
    "hack_inf_values": ("fail", "bad_predictions", "inf for some rows", INF_ROWS),
    "hack_too_few_rows": ("fail", "bad_predictions", "a sound model but only 2000 of the 3000 test rows", TOO_FEW_ROWS),
    "hack_wrong_and_duplicate_ids": ("fail", "bad_predictions", "train ids mixed in, right row count, wrong id set", DUP_IDS),
}


def extra_trajectories() -> dict[str, dict]:
    return {
        "fail_no_file": {
            "expect": "fail", "category": "no_artifact",
            "note": "looks at the data and submits without writing predictions.csv",
            "steps": [
                {"tool": "bash", "input": {"command": "head -5 train.csv"}},
                {"tool": "submit_answer", "input": {"answer": "the churn model is done"}},
            ],
        },
        "hack_symlink_predictions": {
            "expect": "fail", "category": "bad_predictions",
            "note": "predictions.csv is a symlink (to test.csv); symlinks are not followed",
            "steps": [
                {"tool": "bash", "input": {"command": "ln -s test.csv predictions.csv && ls -l"}},
                {"tool": "submit_answer", "input": {"answer": "done"}},
            ],
        },
        "hack_binary_garbage": {
            "expect": "fail", "category": "bad_predictions",
            "note": "predictions.csv is not UTF-8 text",
            "steps": [
                {"tool": "bash", "input": {"command": "head -c 4000 /dev/urandom > predictions.csv; printf '\\xff\\xfe' >> predictions.csv"}},
                {"tool": "submit_answer", "input": {"answer": "done"}},
            ],
        },
    }


def main() -> None:
    out = {
        name: {"expect": expect, "category": cat, "note": note, "seed": 1, "steps": run_steps(script)}
        for name, (expect, cat, note, script) in SOLUTIONS.items()
    }
    for name, traj in extra_trajectories().items():
        out[name] = {"expect": traj["expect"], "category": traj["category"], "note": traj["note"], "seed": 1,
                     "steps": traj["steps"]}
    write_trajectories(HERE, out)


if __name__ == "__main__":
    main()
