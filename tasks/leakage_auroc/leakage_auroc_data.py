"""Seeded instance generator for the leakage_auroc task (trusted code: runs in the pytest process).

A customer-churn table. The churn label depends nonlinearly on the numeric columns, on the plan,
the region and (mildly) on the store. Three columns of train.csv leak the label:

* ``retention_calls``: calls logged by the retention team *after* the customer gave notice
  (a post-outcome signal). At prediction time it does not exist yet: empty in test.csv.
* ``store_churn_rate``: churn rate of the customer's store over all of train.csv, including the
  row's own label. In test.csv it is computed honestly from train.csv's labels.
* ``peer_churn_rate``: churn rate among the row's K nearest customers (age, monthly_spend) in
  train.csv, the row itself included. In test.csv: the K nearest train.csv customers.
"""
from __future__ import annotations

import io

import numpy as np

N_TRAIN = 4000
N_TEST = 3000
N_STORES = 1200
K_PEERS = 4
SIGNAL = 1.6
PLANS = ["basic", "standard", "plus", "premium", "family"]
REGIONS = [f"R{i:02d}" for i in range(1, 13)]

NUMERIC = ["tenure_months", "monthly_spend", "support_tickets", "usage_hours", "age", "discount_pct"]
CATEGORICAL = ["plan", "region", "store_id"]
LEAKY = ["retention_calls", "store_churn_rate", "peer_churn_rate"]
COLUMNS = ["customer_id", *NUMERIC, *CATEGORICAL, *LEAKY]


def _population(rng: np.random.Generator, n: int, store_eff, plan_eff, region_eff):
    tenure = rng.integers(1, 73, n)
    plan = rng.choice(len(PLANS), n, p=[0.3, 0.25, 0.2, 0.1, 0.15])
    spend = np.round(np.exp(rng.normal(3.6 + 0.25 * plan, 0.45, n)), 2)
    tickets = rng.poisson(1.4, n)
    usage = np.round(rng.gamma(2.0, 12.0, n), 1)
    age = rng.integers(18, 81, n)
    discount = rng.choice([0, 5, 10, 15, 20, 25], n)
    region = rng.integers(0, len(REGIONS), n)
    # stores: uneven sizes (a few big ones, a long tail)
    store_p = rng_store_p(N_STORES)
    store = rng.choice(N_STORES, n, p=store_p)

    z_usage = (np.log1p(usage) - 3.0) / 0.75
    logit = -1.35 + SIGNAL * (
        2.2 * np.exp(-tenure / 10.0)                     # new customers leave
        + 0.9 * np.tanh(tickets - 2.0)                     # many tickets: unhappy
        - 0.8 * z_usage                                    # heavy users stay
        + 0.9 * (spend > 70) * (plan <= 1)                 # expensive basic plans
        + ((age - 48) / 18.0) ** 2 * 0.6                   # U-shape in age
        - 0.035 * discount * (tenure < 24)                 # discounts help early on
        + plan_eff[plan] + region_eff[region] + store_eff[store]
    )
    p = 1.0 / (1.0 + np.exp(-logit))
    y = (rng.random(n) < p).astype(np.int64)
    cols = {
        "tenure_months": tenure, "monthly_spend": spend, "support_tickets": tickets,
        "usage_hours": usage, "age": age, "discount_pct": discount,
        "plan": np.array(PLANS)[plan], "region": np.array(REGIONS)[region],
        "store_id": np.array([f"S{s:04d}" for s in range(N_STORES)])[store],
    }
    return cols, store, y, p


def rng_store_p(n):
    w = 1.0 / np.arange(1, n + 1) ** 0.6
    return w / w.sum()


def _peer_rate(q_feat, ref_feat, ref_y, k):
    """Mean label of the k nearest reference rows (Euclidean on standardized features)."""
    out = np.empty(len(q_feat))
    r2 = (ref_feat**2).sum(1)
    for a in range(0, len(q_feat), 500):
        q = q_feat[a : a + 500]
        d = (q**2).sum(1)[:, None] + r2[None, :] - 2.0 * q @ ref_feat.T
        idx = np.argpartition(d, k - 1, axis=1)[:, :k]
        out[a : a + 500] = ref_y[idx].mean(1)
    return out


def generate(seed: int):
    """Return (train_cols, test_cols, y_train, y_test). Same seed -> same instance."""
    rng = np.random.default_rng([seed, 20261121])
    store_eff = rng.normal(0.0, 0.5, N_STORES)
    plan_eff = np.array([0.3, 0.0, -0.2, -0.4, 0.1])
    region_eff = rng.normal(0.0, 0.25, len(REGIONS))
    n = N_TRAIN + N_TEST
    cols, store, y, _ = _population(rng, n, store_eff, plan_eff, region_eff)
    tr, te = np.arange(N_TRAIN), np.arange(N_TRAIN, n)
    ytr, yte = y[tr], y[te]

    # 1. post-outcome signal: only churners get retention calls (mostly), logged after notice
    calls = np.where(y == 1, rng.poisson(2.2, n), rng.poisson(0.25, n)).astype(float)
    # 2. store churn rate over the whole training table, own label included
    cnt = np.bincount(store[tr], minlength=N_STORES)
    pos = np.bincount(store[tr], weights=ytr, minlength=N_STORES)
    prior = ytr.mean()
    rate_tr = pos[store[tr]] / cnt[store[tr]]
    with np.errstate(invalid="ignore", divide="ignore"):
        honest = np.where(cnt > 0, pos / np.maximum(cnt, 1), prior)
    rate_te = honest[store[te]]
    # 3. peer churn rate: K nearest by (age, monthly_spend), own row included in train
    f = np.stack([cols["age"].astype(float), np.log(cols["monthly_spend"])], 1)
    f = (f - f[tr].mean(0)) / f[tr].std(0)
    peer_tr = _peer_rate(f[tr], f[tr], ytr, K_PEERS)      # includes itself (distance 0)
    peer_te = _peer_rate(f[te], f[tr], ytr, K_PEERS)

    ids = np.array([f"C{seed % 1000:03d}{i:05d}" for i in range(n)])
    perm = rng.permutation(n)  # ids are not informative of split or label
    ids = ids[perm]

    def table(rows, calls_col, rate_col, peer_col):
        out = {"customer_id": ids[rows]}
        for c in NUMERIC + CATEGORICAL:
            out[c] = cols[c][rows]
        out["retention_calls"] = calls_col
        out["store_churn_rate"] = np.round(rate_col, 4)
        out["peer_churn_rate"] = np.round(peer_col, 4)
        return out

    train = table(tr, calls[tr], rate_tr, peer_tr)
    test = table(te, np.full(len(te), np.nan), rate_te, peer_te)
    return train, test, ytr, yte


def to_csv(table: dict, label=None) -> str:
    buf = io.StringIO()
    names = list(COLUMNS) + (["churned"] if label is not None else [])
    buf.write(",".join(names) + "\n")
    n = len(table["customer_id"])
    for i in range(n):
        vals = []
        for c in COLUMNS:
            v = table[c][i]
            if isinstance(v, (float, np.floating)):
                vals.append("" if np.isnan(v) else (f"{v:.4f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))))
            else:
                vals.append(str(v))
        if label is not None:
            vals.append(str(int(label[i])))
        buf.write(",".join(vals) + "\n")
    return buf.getvalue()


def hidden_labels(seed: int) -> dict[str, int]:
    """customer_id -> churned, for the test rows. Only ever used in the pytest process."""
    _, test, _, yte = generate(seed)
    return dict(zip(test["customer_id"].tolist(), yte.tolist()))


def write_workspace(ws, seed: int) -> None:
    train, test, ytr, _ = generate(seed)
    (ws / "train.csv").write_text(to_csv(train, ytr))
    (ws / "test.csv").write_text(to_csv(test))
