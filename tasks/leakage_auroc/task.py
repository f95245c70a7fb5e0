"""leakage_auroc: the Task, its prompt, and the secret instance generator (trusted code).

Every instance comes from ``rollout.instance`` (a 63-bit secret drawn per rollout on the host),
through a Philox generator keyed by it; customer ids are random draws, so nothing in the
workspace names the instance. One call draws the train customers, the test customers the agent
sees and ``N_HIDDEN`` new customers whose rows never reach the workspace: the agent's predict.py
is run on those (as test.csv) and graded by AUROC.

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

import dataclasses
import functools
from pathlib import Path

import numpy as np

from pytest_rltask import Limits, Task

from .grader import THRESHOLD

N_TRAIN = 4000
N_TEST = 3000
N_HIDDEN = 3000  # new customers, same format as test.csv: graded through predict.py
STREAM = 0x1EA6  # domain tag of this task's generator stream
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


@dataclasses.dataclass(frozen=True)
class Instance:
    """One instance: the tables the agent gets, and new customers (hidden) it is graded on."""

    train: dict
    test: dict
    hidden: dict
    y_train: np.ndarray
    y_test: np.ndarray
    y_hidden: np.ndarray
    p_hidden: np.ndarray  # true churn probabilities of the hidden customers (Bayes reference)


@functools.lru_cache(maxsize=8)
def generate(instance: int) -> Instance:
    """All customers of ``instance`` from one generation call: train, test and hidden rows are
    iid draws of one population; ids are random. Same instance -> same tables."""
    rng = np.random.Generator(np.random.Philox(np.random.SeedSequence([int(instance), STREAM])))
    store_eff = rng.normal(0.0, 0.5, N_STORES)
    plan_eff = np.array([0.3, 0.0, -0.2, -0.4, 0.1])
    region_eff = rng.normal(0.0, 0.25, len(REGIONS))
    n = N_TRAIN + N_TEST + N_HIDDEN
    cols, store, y, p = _population(rng, n, store_eff, plan_eff, region_eff)
    tr = np.arange(N_TRAIN)
    te = np.arange(N_TRAIN, N_TRAIN + N_TEST)
    hd = np.arange(N_TRAIN + N_TEST, n)
    ytr = y[tr]

    # 1. post-outcome signal: only churners get retention calls (mostly), logged after notice
    calls = np.where(y == 1, rng.poisson(2.2, n), rng.poisson(0.25, n)).astype(float)
    # 2. store churn rate over the whole training table, own label included
    cnt = np.bincount(store[tr], minlength=N_STORES)
    pos = np.bincount(store[tr], weights=ytr, minlength=N_STORES)
    prior = ytr.mean()
    rate_tr = pos[store[tr]] / cnt[store[tr]]
    honest = np.where(cnt > 0, pos / np.maximum(cnt, 1), prior)
    # 3. peer churn rate: K nearest by (age, monthly_spend), own row included in train
    f = np.stack([cols["age"].astype(float), np.log(cols["monthly_spend"])], 1)
    f = (f - f[tr].mean(0)) / f[tr].std(0)
    peer_tr = _peer_rate(f[tr], f[tr], ytr, K_PEERS)      # includes itself (distance 0)

    ids = np.array([f"C{v:08d}" for v in rng.choice(10**8, n, replace=False)])

    def table(rows, calls_col, rate_col, peer_col):
        out = {"customer_id": ids[rows]}
        for c in NUMERIC + CATEGORICAL:
            out[c] = cols[c][rows]
        out["retention_calls"] = calls_col
        out["store_churn_rate"] = np.round(rate_col, 4)
        out["peer_churn_rate"] = np.round(peer_col, 4)
        return out

    def at_prediction_time(rows):  # what test.csv (and the hidden customers' file) hold
        return table(rows, np.full(len(rows), np.nan), honest[store[rows]], _peer_rate(f[rows], f[tr], ytr, K_PEERS))

    return Instance(
        train=table(tr, calls[tr], rate_tr, peer_tr), test=at_prediction_time(te), hidden=at_prediction_time(hd),
        y_train=ytr, y_test=y[te], y_hidden=y[hd], p_hidden=p[hd],
    )


def _cell(v) -> str:
    if isinstance(v, float):
        if v != v:
            return ""
        return f"{v:.4f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))
    return str(v)


def to_csv(table: dict, label=None) -> str:
    """The table as CSV text (floats with up to 4 decimals, NaN as an empty cell), column by column."""
    names = list(COLUMNS) + (["churned"] if label is not None else [])
    cols = [[_cell(v) for v in np.asarray(table[c]).tolist()] for c in COLUMNS]
    if label is not None:
        cols.append([str(int(v)) for v in np.asarray(label).tolist()])
    return ",".join(names) + "\n" + "".join(",".join(row) + "\n" for row in zip(*cols))


def write_workspace(ws: Path, instance: int) -> None:
    """train.csv and test.csv of the instance; labels of test.csv and the hidden customers stay here."""
    inst = generate(instance)
    (ws / "train.csv").write_text(to_csv(inst.train, inst.y_train))
    (ws / "test.csv").write_text(to_csv(inst.test))


PROMPT = f"""\
You are a data scientist at a telecom company. Build a model that predicts which customers will
churn, and deliver it as a prediction script.

Workspace:
- train.csv: {N_TRAIN} customers with the outcome column `churned` (1 = the customer cancelled
  within 90 days after the snapshot date, 0 = stayed).
- test.csv: {N_TEST} other customers, the same columns without `churned`. They are like the
  customers the model is used on: their snapshot was just taken, their outcome is unknown.

Columns (data dictionary from the analytics team):
- customer_id: unique id of the customer (not informative).
- tenure_months, monthly_spend, support_tickets, usage_hours, age, discount_pct: numeric, as of the
  snapshot date.
- plan (5 values), region (12 values), store_id (over a thousand stores, many with only a few
  customers): categorical, as of the snapshot date.
- retention_calls: number of calls the retention team logged for the customer in the 90 days after
  the snapshot date.
- store_churn_rate: churn rate of the customer's store, computed by the analytics team from the
  `churned` column of train.csv (a store with no customer in train.csv gets train.csv's overall
  churn rate).
- peer_churn_rate: share of churners among the {K_PEERS} customers of train.csv closest to
  the customer in (age, log monthly_spend), computed by the analytics team from the `churned`
  column of train.csv.

Be careful: not every column of train.csv is available, or computed the same way, at the moment a
prediction is made. test.csv holds every column exactly as it is available at prediction time.

Deliverable: predict.py in the workspace root. Run as `python predict.py` with the workspace as the
working directory, it must read test.csv and write predictions.csv there: a regular UTF-8 CSV text
file (not a symlink, at most 2 MB) with the header line
customer_id,churn_probability
and then exactly one row per customer of test.csv (each customer_id exactly once, any order), where
churn_probability is a finite number between 0 and 1 (higher = more likely to churn).

How it is graded: predict.py is run once more, in a fresh copy of your final workspace in which
test.csv has been replaced by a file of the same format holding {N_HIDDEN} new customers you have
never seen (columns computed exactly as in test.csv; train.csv and every other file of yours are
still there), with the same Python, packages and a 300 s time limit. It must exit with status 0
and write predictions.csv for those customers. The area under the ROC curve (AUROC) of their
churn_probability against their true outcomes must be at least {THRESHOLD}. A file that breaks the
format (missing or extra customers, duplicate ids, non-numeric, NaN, infinite or out-of-range
values, another header) fails. A predictions.csv you write for the given test.csv is not graded
(its AUROC is only reported). Any model file predict.py needs must be saved in the workspace.

Tools: write_file, read_file, list_files, run_python, bash. Python has numpy and scikit-learn
(pandas is not installed). You have at most 20 turns. When predict.py works, call submit_answer
(the answer text is not graded).
"""

TASK = Task(
    prompt=PROMPT,
    tools=["write_file", "read_file", "list_files", "run_python", "bash", "submit_answer"],
    files=write_workspace,
    max_steps=20,
    time_limit=900,
    limits=Limits(wall_s=300),
)
