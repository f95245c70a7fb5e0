"""Grading script: `python -I grade_memopt.py STEPS SEED TIMEOUT` in a fresh sandbox holding
train.py (the agent's script, or in a separate call our unmodified baseline), tracer.py, data.npz
and X_eval.npy (features only; labels never enter this sandbox).

Runs train.py in a `python -I tracer.py` child process, checks that the child's record carries
this run's random token (so a file the script forges is not taken), and writes result.json
itself: {"run": rec}, rec = {"ok": true, "intervals": [...], "logits": [[10 floats], ...]} or
{"ok": false, "error": str}. The test scores the logits against the hidden labels.
"""
import json
import os
import secrets
import signal
import subprocess
import sys

STEPS, SEED, TIMEOUT = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
HERE = os.getcwd()
# the test's nonce for this grading call: read and deleted before any agent code starts, echoed in
# result.json, so a process left behind by the script cannot pass off a result.json of its own
try:
    with open(os.path.join(HERE, "nonce.txt")) as fh:
        NONCE = fh.read().strip()
    os.remove(os.path.join(HERE, "nonce.txt"))
except OSError:
    NONCE = None
MAX_OUT = 8 * 1024 * 1024


def run(role="run", script="train.py"):
    token = secrets.token_hex(16)
    out = os.path.join("/tmp", f"rec-{role}-{secrets.token_hex(4)}.json")
    err_path = os.path.join("/tmp", f"err-{role}.txt")
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONWARNINGS": "ignore"}
    with open(err_path, "wb") as ef:
        p = subprocess.Popen([sys.executable, "-I", os.path.join(HERE, "tracer.py"),
                              os.path.join(HERE, script), str(STEPS), str(SEED), out],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=ef,
                             cwd=HERE, env=env, start_new_session=True)
        timed_out = False
        try:
            p.communicate((token + "\n").encode(), timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            try:  # the child's whole process group (DataLoader workers, stray children)
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()
    code = p.returncode
    if timed_out:
        return {"ok": False, "error": f"the run took longer than {TIMEOUT:g} s"}
    tail = ""
    try:
        with open(err_path, "rb") as fh:
            fh.seek(max(0, os.path.getsize(err_path) - 1500))
            tail = fh.read().decode("utf-8", "replace")
    except OSError:
        pass
    try:
        if os.path.getsize(out) > MAX_OUT:
            return {"ok": False, "error": "tracer record too large"}
        with open(out, encoding="utf-8") as fh:
            rec = json.load(fh)
    except (OSError, ValueError) as e:
        return {"ok": False, "error": f"the process exited ({code}) without the tracer's record: "
                f"{e!r}; stderr tail: {tail}"}
    if not isinstance(rec, dict) or rec.get("token") != token:
        return {"ok": False, "error": f"record not written by the tracer (exit {code}); stderr tail: {tail}"}
    rec.pop("token", None)
    if rec.get("ok") is not True and "error" in rec:
        rec["error"] = str(rec["error"])[:2000] + (f"\nstderr tail: {tail}" if tail else "")
    return rec


result = {"nonce": NONCE, "run": run()}
try:  # whatever the script left there (a file, a symlink) is replaced, never written through
    os.remove(os.path.join(HERE, "result.json"))
except OSError:
    pass
with open(os.path.join(HERE, "result.json"), "w") as fh:
    json.dump(result, fh, allow_nan=False)
