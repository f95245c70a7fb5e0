"""Grading script: `python -I grade_fsdp.py` in a fresh sandbox holding the agent's
train_fsdp.py, the grader's own model.py / data.py (hidden instance), fsdp_harness.py and
fsdp_ckpt.py.

1. torchrun --nproc_per_node=2 fsdp_harness.py  (the harness runs train_fsdp.py's main() on each
   rank under observers and writes _obs/rank<R>.json);
2. kills anything the run left behind (processes whose working directory is this folder);
3. checks checkpoint.pt in a clean `python -I` process, in a fresh folder holding copies of the
   grader's model.py/data.py taken before any agent code ran.
Writes result.json with the raw observations; the verdict is reached in the pytest process.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

WS = os.getcwd()
RUN_TIMEOUT = 150
CKPT_TIMEOUT = 90
MAX_OBS = 8 * 1024 * 1024
MAX_CKPT = 64 * 1024 * 1024


def read_text(path, limit):
    with open(path, "rb") as fh:
        return fh.read(limit).decode("utf-8", "replace")


def tail(path, n=3000):
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - n))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ancestors():
    out, pid = set(), os.getpid()
    while pid > 1:
        out.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as fh:
                pid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


MARK = "FSDP_GRADE_MARK=" + os.urandom(8).hex()


def is_stray(pid):
    """A process of this job: its working directory is this folder, or it carries the random
    marker the job's environment was given (inherited by every descendant, daemons included)."""
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
        if cwd == WS or cwd.startswith(WS + "/"):
            return True
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return MARK.encode() in fh.read().split(b"\0")
    except OSError:
        return False


def kill_strays():
    """SIGKILL every process the job left running (see is_stray)."""
    mine, killed = ancestors(), 0
    for _ in range(3):
        found = 0
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) in mine:
                continue
            if is_stray(name):
                try:
                    os.kill(int(name), signal.SIGKILL)
                    found += 1
                except OSError:
                    pass
        killed += found
        if not found:
            break
        time.sleep(0.2)
    return killed


def main():
    res = {"version": 1}
    keep = {}
    for name in ("model.py", "data.py", "fsdp_ckpt.py"):
        with open(name, "rb") as fh:
            keep[name] = fh.read()
    script = os.path.join(WS, "train_fsdp.py")
    if not os.path.isfile(script) or os.path.islink(script):
        res["error"] = "no_script"
        return res
    logs = tempfile.mkdtemp(prefix="fsdp-logs-")
    out_path, err_path = os.path.join(logs, "out.txt"), os.path.join(logs, "err.txt")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env[MARK.split("=")[0]] = MARK.split("=")[1]
    for k in list(env):
        if k.startswith("PYTHON") and k != "PYTHONUNBUFFERED":
            env.pop(k)
    cmd = [sys.executable, "-I", "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={free_port()}", "--max-restarts=0",
           os.path.join(WS, "fsdp_harness.py")]
    t0 = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        p = subprocess.Popen(cmd, cwd=WS, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                             start_new_session=True)
        try:
            res["exit_code"] = p.wait(timeout=RUN_TIMEOUT)
            res["timed_out"] = False
        except subprocess.TimeoutExpired:
            res["timed_out"] = True
            res["exit_code"] = None
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()
    res["run_seconds"] = round(time.monotonic() - t0, 2)
    time.sleep(0.3)
    res["strays_killed"] = kill_strays()
    res["stdout_tail"] = tail(out_path)
    res["stderr_tail"] = tail(err_path)

    obs = {}
    for r in (0, 1):
        path = os.path.join(WS, "_obs", f"rank{r}.json")
        try:
            if os.path.islink(path) or not os.path.isfile(path):
                obs[str(r)] = None
                continue
            obs[str(r)] = json.loads(read_text(path, MAX_OBS))
        except (OSError, ValueError) as e:
            obs[str(r)] = {"unreadable": str(e)[:300]}
    res["obs"] = obs

    ck = os.path.join(WS, "checkpoint.pt")
    if os.path.islink(ck) or not os.path.isfile(ck):
        res["checkpoint"] = "missing"
    elif os.path.getsize(ck) > MAX_CKPT:
        res["checkpoint"] = "too_big"
    else:
        fresh = tempfile.mkdtemp(prefix="fsdp-ckpt-")
        for name, data in keep.items():
            with open(os.path.join(fresh, name), "wb") as fh:
                fh.write(data)
        shutil.copyfile(ck, os.path.join(fresh, "checkpoint.pt"), follow_symlinks=False)
        out_json = os.path.join(fresh, "ckpt_result.json")
        try:
            c = subprocess.run([sys.executable, "-I", os.path.join(fresh, "fsdp_ckpt.py"),
                                os.path.join(fresh, "checkpoint.pt"), out_json],
                               cwd=fresh, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=CKPT_TIMEOUT)
            with open(out_json) as fh:
                res["checkpoint"] = json.load(fh)
            res["checkpoint_stderr"] = c.stderr.decode("utf-8", "replace")[-1500:]
        except Exception as e:  # noqa: BLE001
            res["checkpoint"] = {"check_error": f"{type(e).__name__}: {e}"[:800]}
    # other checkpoint-like files the run left in the folder
    res["files"] = sorted(f for f in os.listdir(WS) if f not in keep and not f.startswith("_obs"))[:100]
    return res


if __name__ == "__main__":
    try:
        result = main()
    except Exception as e:  # noqa: BLE001
        result = {"error": "grader_error", "detail": f"{type(e).__name__}: {e}"[:2000]}
    with open("result.json", "w") as fh:
        json.dump(result, fh, default=str)
