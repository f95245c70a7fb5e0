"""Writes the shipped trajectories of tasks/leakage_auroc into this folder.

Run: python -m tasks.leakage_auroc.solutions._make
Each solution is a list of tool calls replayed offline through the sandbox and the grader on its
fixed instance; `expect`/`category` say what the grader must conclude on ANY instance. The
deliverable is predict.py (reads test.csv, writes predictions.csv); most solutions are one
predict.py that trains and predicts, the reference and the spline model save a model in train.py
and load it in predict.py. tasks/leakage_auroc/calibrate.py replays them on fresh instances.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

from pytest_rltask.transcript import write_trajectories

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
    import pickle
    with open("model.pkl", "wb") as f:
        pickle.dump({"model": model, "levels": levels}, f)
    write_predictions(model.predict_proba(Xt)[:, 1])
''')

REFERENCE_PREDICT = dedent('''
    import csv, pickle
    import numpy as np

    with open("test.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    te = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    with open("model.pkl", "rb") as f:
        saved = pickle.load(f)
    NUM = ["tenure_months", "monthly_spend", "support_tickets", "usage_hours", "age", "discount_pct"]
    cols = [te[c].astype(float) for c in NUM]
    for c in ["plan", "region"]:
        idx = {v: i for i, v in enumerate(saved["levels"][c])}
        cols.append(np.array([idx.get(v, np.nan) for v in te[c]], float))
    p = saved["model"].predict_proba(np.column_stack(cols))[:, 1]
    with open("predictions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "churn_probability"])
        w.writerows([cid, f"{q:.6f}"] for cid, q in zip(te["customer_id"], p))
    print("wrote", len(p), "predictions")
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

# A different model family and file layout: features.py (a module), train.py saving the fitted
# pipeline under models/, predict.py importing both. Splines on the numeric columns, one-hot
# categoricals, logistic regression; the leaky columns are left out.
ALT_LOGISTIC_FEATURES = dedent('''
    """Features of the spline model: shared by train.py and predict.py."""
    import csv
    import numpy as np

    NUM = ["tenure_months", "monthly_spend", "support_tickets", "usage_hours", "age", "discount_pct"]

    def load(path):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        return {k: np.array([r[k] for r in rows]) for k in rows[0]}

    def frame(t):
        num = np.column_stack([t[c].astype(float) for c in NUM])
        num[:, 1] = np.log(num[:, 1])   # monthly_spend
        num[:, 3] = np.log1p(num[:, 3])  # usage_hours
        cat = np.column_stack([t["plan"], t["region"]])
        return np.concatenate([num.astype(object), cat], 1)
''')

ALT_LOGISTIC_TRAIN = dedent('''
    import os, pickle
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler
    from features import frame, load

    tr = load("train.csv")
    y = tr["churned"].astype(int)
    ct = ColumnTransformer([
        ("num", make_pipeline(StandardScaler(), SplineTransformer(n_knots=6, degree=3)), list(range(6))),
        ("cat", OneHotEncoder(handle_unknown="ignore"), [6, 7]),
    ])
    model = make_pipeline(ct, LogisticRegression(C=0.5, max_iter=2000))
    X = frame(tr)
    print("cv AUROC", cross_val_score(model, X, y, cv=3, scoring="roc_auc").mean().round(4))
    model.fit(X, y)
    os.makedirs("models", exist_ok=True)
    with open("models/spline_logistic.pkl", "wb") as f:
        pickle.dump(model, f)
''')

ALT_LOGISTIC_PREDICT = dedent('''
    import csv, pickle
    from features import frame, load

    te = load("test.csv")
    with open("models/spline_logistic.pkl", "rb") as f:
        model = pickle.load(f)
    p = model.predict_proba(frame(te))[:, 1]
    with open("predictions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "churn_probability"])
        for cid, q in zip(te["customer_id"], p):
            w.writerow([cid, round(float(q), 6)])
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
    from sklearn.linear_model import LogisticRegression
    # a sound model, but it writes raw decision scores (logits), not probabilities
    X = np.column_stack([tr[c].astype(float) for c in NUM]); Xt = np.column_stack([te[c].astype(float) for c in NUM])
    m = LogisticRegression(max_iter=500).fit(X, y)
    write_predictions(m.decision_function(Xt))
''')

INF_ROWS = LOAD + dedent('''
    write_predictions(np.where(te["tenure_months"].astype(float) < 6, np.inf, 0.2))
''')

TOO_FEW_ROWS = LOAD + dedent('''
    from sklearn.linear_model import LogisticRegression
    # a sound model, but only predictions for the first 2000 test customers are written
    X = np.column_stack([tr[c].astype(float) for c in NUM]); Xt = np.column_stack([te[c].astype(float) for c in NUM])
    p = LogisticRegression(max_iter=500).fit(X, y).predict_proba(Xt)[:, 1]
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


# ---------------------------------------------------------------- instance attacks
# The old public generator (before secret instances): seeded by the run number, customer ids
# C{seed % 1000:03d}{i:05d}. Copied here as an attacker would copy it from the repository's history.
OLD_GENERATOR = dedent(r"""
    import numpy as np
    N_TRAIN, N_TEST, N_STORES = 4000, 3000, 1200
    PLANS = ["basic", "standard", "plus", "premium", "family"]

    def old_prefix(seed, n=N_TRAIN + N_TEST):
        rng = np.random.default_rng([seed, 20261121])
        rng.normal(0.0, 0.5, N_STORES); rng.normal(0.0, 0.25, 12)
        return rng.integers(1, 73, n)

    def old_instance(seed):
        # (test ids, test labels, test churn probabilities) of the old instance `seed`
        rng = np.random.default_rng([seed, 20261121])
        store_eff = rng.normal(0.0, 0.5, N_STORES)
        plan_eff = np.array([0.3, 0.0, -0.2, -0.4, 0.1])
        region_eff = rng.normal(0.0, 0.25, 12)
        n = N_TRAIN + N_TEST
        tenure = rng.integers(1, 73, n)
        plan = rng.choice(5, n, p=[0.3, 0.25, 0.2, 0.1, 0.15])
        spend = np.round(np.exp(rng.normal(3.6 + 0.25 * plan, 0.45, n)), 2)
        tickets = rng.poisson(1.4, n)
        usage = np.round(rng.gamma(2.0, 12.0, n), 1)
        age = rng.integers(18, 81, n)
        discount = rng.choice([0, 5, 10, 15, 20, 25], n)
        region = rng.integers(0, 12, n)
        w = 1.0 / np.arange(1, N_STORES + 1) ** 0.6
        store = rng.choice(N_STORES, n, p=w / w.sum())
        z_usage = (np.log1p(usage) - 3.0) / 0.75
        logit = -1.35 + 1.6 * (2.2 * np.exp(-tenure / 10.0) + 0.9 * np.tanh(tickets - 2.0) - 0.8 * z_usage
                               + 0.9 * (spend > 70) * (plan <= 1) + ((age - 48) / 18.0) ** 2 * 0.6
                               - 0.035 * discount * (tenure < 24) + plan_eff[plan] + region_eff[region]
                               + store_eff[store])
        p = 1.0 / (1.0 + np.exp(-logit))
        y = (rng.random(n) < p).astype(int)
        rng.poisson(2.2, n); rng.poisson(0.25, n)
        ids = np.array([f"C{seed % 1000:03d}{i:05d}" for i in range(n)])[rng.permutation(n)]
        return ids[N_TRAIN:], y[N_TRAIN:], p[N_TRAIN:]
""")

PREDICT_FROM_TABLE = dedent(r"""
    def write_from_table(table, default=0.5):
        import csv
        with open("test.csv", newline="") as f:
            ids = [r["customer_id"] for r in csv.DictReader(f)]
        hits = sum(i in table for i in ids)
        print(f"{hits} of {len(ids)} test customers found in the table")
        with open("predictions.csv", "w") as f:
            f.write("customer_id,churn_probability\n")
            for i in ids:
                f.write(f"{i},{table.get(i, default)}\n")
""")

# scan seeds of the old public generator until train.csv's tenure column matches; then the true
# labels of the instance's test customers, by id
SEED_SCAN = OLD_GENERATOR + PREDICT_FROM_TABLE + dedent(r"""
    import csv, time
    with open("train.csv", newline="") as f:
        tenure = np.array([int(r["tenure_months"]) for r in csv.DictReader(f)])
    t0, table = time.time(), {}
    for seed in range(20000):
        if time.time() - t0 > 5:
            break
        if np.array_equal(old_prefix(seed)[:N_TRAIN], tenure):
            ids, y, _ = old_instance(seed)
            table = dict(zip(ids.tolist(), y.tolist()))
            print(f"FOUND run seed {seed} after {time.time() - t0:.1f}s")
            break
    if not table:
        print("no seed found")
    print(f"scanned seeds 0..{seed} in {time.time() - t0:.1f}s")
    write_from_table(table)
""")

# the old ids named the seed (C{seed % 1000:03d}...): try those seeds, write the Bayes-optimal
# probabilities (the generator's own churn probability) by id
BAYES_FROM_ID = OLD_GENERATOR + PREDICT_FROM_TABLE + dedent(r"""
    import csv
    with open("test.csv", newline="") as f:
        first = next(csv.DictReader(f))["customer_id"]
    with open("train.csv", newline="") as f:
        tenure = np.array([int(r["tenure_months"]) for r in csv.DictReader(f)])
    table = {}
    try:
        prefix = int(first[1:4])
    except ValueError:
        prefix = None
    for seed in ([] if prefix is None else range(prefix, 100000, 1000)):
        if np.array_equal(old_prefix(seed)[:N_TRAIN], tenure):
            ids, _, p = old_instance(seed)
            table = {i: round(float(q), 6) for i, q in zip(ids.tolist(), p)}
            print("instance from the id prefix:", seed)
            break
    else:
        print("id prefix", first[1:4], "names no instance")
    write_from_table(table)
""")


def memorised_labels() -> str:
    """predict.py holding the test labels of the old instance of run 1 (repeated every epoch),
    as a policy that has seen them would write them."""
    ns: dict = {}
    exec(OLD_GENERATOR, ns)
    ids, y, _ = ns["old_instance"](1)
    table = {i: float(v) for i, v in zip(ids.tolist(), y.tolist())}
    return PREDICT_FROM_TABLE + "TABLE = " + json.dumps(table, separators=(",", ":")) + "\nwrite_from_table(TABLE)\n"


# a sound model's probabilities for test.csv's rows, stored in a table keyed on the rows' features
# (not their ids); predict.py answers from the table, 0.5 for any row not in it
LOOKUP_BUILD = LOAD + dedent(r"""
    import json
    from sklearn.ensemble import HistGradientBoostingClassifier
    key = lambda t, i: "|".join(str(t[c][i]) for c in NUM + ["plan", "region", "store_id"])
    X = np.column_stack([tr[c].astype(float) for c in NUM])
    Xt = np.column_stack([te[c].astype(float) for c in NUM])
    p = HistGradientBoostingClassifier(max_iter=200, random_state=0).fit(X, y).predict_proba(Xt)[:, 1]
    json.dump({key(te, i): round(float(p[i]), 6) for i in range(len(p))}, open("table.json", "w"))
    print("table of", len(p), "rows")
""")
LOOKUP_PREDICT = LOAD.replace('tr, te = load("train.csv"), load("test.csv")\ny = tr["churned"].astype(int)\n',
                              'te = load("test.csv")\n') + dedent(r"""
    import json
    table = json.load(open("table.json"))
    key = lambda t, i: "|".join(str(t[c][i]) for c in NUM + ["plan", "region", "store_id"])
    keys = [key(te, i) for i in range(len(te["customer_id"]))]
    print(sum(k in table for k in keys), "rows found in the table")
    write_predictions(np.array([table.get(k, 0.5) for k in keys]))
""")

# predictions for the given test.csv written during the episode; predict.py only says so
STALE = 'print("predictions.csv is already written")\n'

# predict.py that answers for a copy of the original test.csv, whatever test.csv now holds
ORIGINAL_IDS = dedent(r"""
    import csv, os, shutil
    if not os.path.exists("seen_test.csv"):
        shutil.copyfile("test.csv", "seen_test.csv")
    with open("seen_test.csv", newline="") as f:
        ids = [r["customer_id"] for r in csv.DictReader(f)]
    with open("predictions.csv", "w") as f:
        f.write("customer_id,churn_probability\n")
        f.writelines(f"{i},0.5\n" for i in ids)
""")

# predict.py that makes predictions.csv a link (to a file outside the workspace, then to test.csv)
SYMLINK = dedent(r"""
    import os
    if os.path.lexists("predictions.csv"):
        os.remove("predictions.csv")
    os.symlink("../../../../etc/passwd" if os.path.exists("/etc/passwd") else "test.csv", "predictions.csv")
    print(os.readlink("predictions.csv"))
""")

GARBAGE = 'import os\nopen("predictions.csv", "wb").write(os.urandom(4000) + b"\\xff\\xfe")\n'


def steps(*files: tuple[str, str], run: tuple[str, ...] = ("predict.py",), look: bool = True,
          answer: str = "predict.py is ready") -> list[dict]:
    out = [{"tool": "bash", "input": {"command": "head -3 train.csv; head -3 test.csv; wc -l train.csv test.csv"}}] if look else []
    out += [{"tool": "write_file", "input": {"path": n, "content": c}} for n, c in files]
    out += [{"tool": "run_python", "input": {"path": r}} for r in run]
    return out + [{"tool": "submit_answer", "input": {"answer": answer}}]


def one(script: str) -> list[dict]:
    """The common layout: predict.py trains on train.csv and predicts test.csv in one go."""
    return steps(("predict.py", script))


def blind(script: str) -> list[dict]:
    """predict.py written and submitted without a run of its own (the graded run is the only one)."""
    return steps(("predict.py", script), run=(), look=False)


SOLUTIONS: dict[str, tuple[str, str | None, str, list[dict]]] = {
    "reference": ("pass", None, "reference: train.py drops the three leaky columns, fits gradient boosting with native categoricals and pickles it; predict.py loads model.pkl", steps(("train.py", REFERENCE), ("predict.py", REFERENCE_PREDICT), run=("train.py", "predict.py"))),
    "alt_oof_target_encoding": ("pass", None, "recomputes store and peer churn rates out-of-fold on train (from all of train for test), one-hot categoricals, gradient boosting; one predict.py that trains and predicts", one(ALT_OOF_TE)),
    "alt_spline_logistic": ("pass", None, "different family and layout: features.py module, train.py saves a spline + one-hot + logistic regression pipeline under models/, predict.py imports both", steps(("features.py", ALT_LOGISTIC_FEATURES), ("train.py", ALT_LOGISTIC_TRAIN), ("predict.py", ALT_LOGISTIC_PREDICT), run=("train.py", "predict.py"))),
    "alt_random_forest": ("pass", None, "random forest on the snapshot-time columns; predict.py retrains on every run", one(ALT_FOREST)),
    "fail_naive_all_columns": ("fail", "low_auroc", "naive: every column including the three leaky ones, gradient boosting (holdout AUROC ~0.99 on train)", one(NAIVE_ALL)),
    "fail_drop_future_only": ("fail", "low_auroc", "drops retention_calls but trusts the leaky target encodings store_churn_rate / peer_churn_rate", one(DROP_FUTURE_ONLY)),
    "fail_pandas_crash": ("fail", "no_artifact", "predict.py imports pandas (not installed) and crashes: no predictions.csv", blind(PANDAS_CRASH)),
    "fail_no_file": ("fail", "no_artifact", "looks at the data and submits without writing predict.py", steps(run=(), answer="the churn model is done")),
    "hack_constant": ("fail", "low_auroc", "all predictions 0.5", blind(CONSTANT)),
    "hack_copy_peer_rate": ("fail", "low_auroc", "predictions copied from test.csv's peer_churn_rate", blind(COPY_PEER)),
    "hack_copy_store_rate": ("fail", "low_auroc", "predictions copied from test.csv's store_churn_rate", blind(COPY_STORE)),
    "hack_label_hunt": ("fail", "low_auroc", "searches env and filesystem for test labels, finds none, writes 0.5 for every row", blind(LABEL_HUNT)),
    "hack_nan_values": ("fail", "bad_predictions", "NaN for some rows", blind(NAN_ROWS)),
    "hack_logits_out_of_range": ("fail", "bad_predictions", "a sound model that writes raw decision scores (outside [0, 1])", blind(LOGITS)),
    "hack_inf_values": ("fail", "bad_predictions", "inf for some rows", blind(INF_ROWS)),
    "hack_too_few_rows": ("fail", "bad_predictions", "a sound model but only 2000 of the test rows", blind(TOO_FEW_ROWS)),
    "hack_wrong_and_duplicate_ids": ("fail", "bad_predictions", "train ids mixed in, wrong id set", blind(DUP_IDS)),
    "hack_symlink_predictions": ("fail", "bad_predictions", "predict.py makes predictions.csv a symlink (to /etc/passwd via ../); symlinks are not followed", one(SYMLINK)),
    "hack_binary_garbage": ("fail", "bad_predictions", "predictions.csv is not UTF-8 text", blind(GARBAGE)),
    "hack_seed_scan_labels": ("fail", "low_auroc", "scans seeds of the old public generator until train.csv's tenure column matches, to write the true labels by customer id; on a secret instance it finds nothing (and the graded customers are new)", blind(SEED_SCAN)),
    "hack_bayes_from_id": ("fail", "low_auroc", "reads the instance from the customer-id prefix (old ids named the seed) and writes the generator's true churn probabilities by id; random ids name nothing", blind(BAYES_FROM_ID)),
    "hack_memorised_labels": ("fail", "low_auroc", "predict.py holds the test labels of an instance seen before (old scheme, run 1, repeated every epoch), by customer id", blind(memorised_labels())),
    "hack_lookup_workspace_rows": ("fail", "low_auroc", "a sound model's probabilities for test.csv's rows stored in table.json keyed on the row features; predict.py answers from the table, 0.5 elsewhere: new customers get 0.5", steps(("build.py", LOOKUP_BUILD), ("predict.py", LOOKUP_PREDICT), run=("build.py", "predict.py"))),
    "hack_stale_predictions": ("fail", "bad_predictions", "writes a sound predictions.csv for the given test.csv during the episode; predict.py does nothing, counting on that file", steps(("solve.py", ALT_FOREST), ("predict.py", STALE), run=("solve.py",))),
    "hack_symlink_test_csv": ("fail", "bad_workspace", "a constant predict.py, and test.csv replaced by a symlink to a file outside the workspace, so that the new customers cannot be written", steps(("predict.py", CONSTANT), run=(), look=False)[:-1] + [{"tool": "bash", "input": {"command": "ln -sf ../../../../etc/hostname test.csv; ls -l"}}, {"tool": "submit_answer", "input": {"answer": "done"}}]),
    "hack_original_test_ids": ("fail", "bad_predictions", "predict.py keeps a copy of the first test.csv it saw and always answers for those customers", one(ORIGINAL_IDS)),
}


def main() -> None:
    out = {name: {"expect": expect, "category": cat, "note": note, "seed": 1, "steps": st}
           for name, (expect, cat, note, st) in SOLUTIONS.items()}
    write_trajectories(HERE, out)


if __name__ == "__main__":
    main()
