"""The static HTML report (``--rl-html``): one self-contained file, no server, no network.

A plot of every task's pass rate with its interval against the band (inline SVG, drawn here, so it
shows even with scripts off), a table per task, and every run with a transcript viewer and filters.
Transcripts hold agent-written text: it travels as JSON in a ``<script type="application/json">``
block with every ``<`` escaped, and the page's script puts it into the DOM with ``textContent``
only, so nothing a model wrote can run or restyle the page.
"""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

MAX_EVENT_CHARS = 20_000  # per string field of one transcript event
MAX_TRANSCRIPT_EVENTS = 2_000


def _clip(value: Any, limit: int = MAX_EVENT_CHARS) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + f" …[{len(value) - limit} more chars]"
    if isinstance(value, list):
        return [_clip(v, limit) for v in value[:500]]
    if isinstance(value, dict):
        return {str(k): _clip(v, limit) for k, v in list(value.items())[:500]}
    return value


def read_transcript(path: str | None) -> list[dict[str, Any]]:
    """A run's events, clipped for the page; an unreadable transcript is one event that says so."""
    if not path:
        return []
    from .transcript import read_events

    try:
        events = [_clip(ev) for ev in read_events(path)]
    except OSError as e:
        return [{"type": "missing", "message": f"transcript not readable: {e}"}]
    if len(events) > MAX_TRANSCRIPT_EVENTS:
        n = len(events) - MAX_TRANSCRIPT_EVENTS
        events = events[:MAX_TRANSCRIPT_EVENTS] + [{"type": "clipped", "message": f"{n} more events in {path}"}]
    return events


def plot_svg(tasks: dict[str, dict[str, Any]], band: list[float]) -> str:
    """Pass rate (dot) and 95 % interval (bar) per task against the band (shaded)."""
    names = sorted(tasks)
    left, width, row = 260, 560, 28
    height = 40 + row * max(1, len(names))
    x = lambda v: left + v * width  # noqa: E731
    out = [f'<svg id="plot" xmlns="http://www.w3.org/2000/svg" width="{left + width + 40}" height="{height}" '
           f'role="img" aria-label="pass rate per task against the band">']
    for t in range(0, 11, 2):
        v = t / 10
        out.append(f'<line x1="{x(v):.1f}" y1="20" x2="{x(v):.1f}" y2="{height - 10}" class="grid"/>')
        out.append(f'<text x="{x(v):.1f}" y="14" class="tick">{v:.0%}</text>')
    for i, name in enumerate(names):
        t = tasks[name]
        lo_b, hi_b = t.get("band") or band
        y = 30 + i * row
        out.append(f'<rect x="{x(lo_b):.1f}" y="{y}" width="{x(hi_b) - x(lo_b):.1f}" height="{row - 8}" class="band"/>')
        label = html.escape(name.split("::")[-1] if "::" in name else name)
        out.append(f'<text x="{left - 8}" y="{y + row / 2}" class="label">{label}</text>')
        rate = t.get("pass_rate")
        if rate is None:
            out.append(f'<text x="{x(0) + 4:.1f}" y="{y + row / 2}" class="none">no completed runs</text>')
            continue
        lo, hi = t.get("ci95") or (rate, rate)
        cy = y + (row - 8) / 2
        verdict = html.escape(str(t.get("verdict", "")))
        out.append(f'<line x1="{x(lo):.1f}" y1="{cy}" x2="{x(hi):.1f}" y2="{cy}" class="ci {verdict}"/>')
        out.append(f'<circle cx="{x(rate):.1f}" cy="{cy}" r="5" class="dot {verdict}">'
                   f'<title>{label}: {rate:.0%} [{lo:.2f}-{hi:.2f}] {verdict}</title></circle>')
    out.append("</svg>")
    return "".join(out)


def _money(v: Any) -> str:
    return "-" if v is None else f"${v:,.4f}"


def task_table(tasks: dict[str, dict[str, Any]]) -> str:
    head = ("task", "verdict", "runs", "pass", "fail", "err", "pass rate [95% CI]", "failures", "scores", "tokens", "cost")
    rows = ["<table id='tasks'><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for name in sorted(tasks):
        t = tasks[name]
        rate = t.get("pass_rate")
        lo, hi = t.get("ci95") or (0, 0)
        cells = [
            name, t.get("verdict", ""), t.get("runs", 0), t.get("passed", 0), t.get("failed", 0), t.get("errors", 0),
            "-" if rate is None else f"{rate:.0%} [{lo:.2f}-{hi:.2f}]",
            ", ".join(f"{k}: {v}" for k, v in (t.get("failures") or {}).items()),
            ", ".join(f"{k}: {v}" for k, v in (t.get("scores") or {}).items()),
            ", ".join(f"{k}: {v}" for k, v in (t.get("tokens") or {}).items()),
            _money(t.get("cost")),
        ]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    rows.append("</tbody></table>")
    return "".join(rows)


def render(report: dict[str, Any], runs: list[dict[str, Any]], title: str = "rltask report") -> str:
    """The whole page. ``runs`` are the per-run records (``report.rltask`` dicts plus ``nodeid``)."""
    tasks = report.get("tasks") or {}
    band = report.get("band") or [0.1, 0.4]
    data = {
        "header": {k: report.get(k) for k in ("agent", "model", "isolation", "band", "verdict")},
        "runs": [{**_clip(r, 2000), "events": read_transcript(r.get("transcript"))} for r in runs],
    }
    blob = json.dumps(data, ensure_ascii=False, default=str).replace("<", "\\u003c").replace("&", "\\u0026")
    h = data["header"]
    summary = (f"agent <b>{html.escape(str(h['agent']))}</b> · model <b>{html.escape(str(h['model'] or '-'))}</b> · "
               f"isolation <b>{html.escape(str(h['isolation']))}</b> · band <b>{band[0]:.2f}–{band[1]:.2f}</b> · "
               f"session verdict <b class='{html.escape(str(h['verdict']))}'>{html.escape(str(h['verdict']))}</b>")
    return PAGE.format(
        title=html.escape(title), summary=summary, plot=plot_svg(tasks, band), table=task_table(tasks),
        data=blob, style=STYLE, script=SCRIPT,
    )


def write(path: Path, report: dict[str, Any], runs: list[dict[str, Any]]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(render(report, runs), encoding="utf-8")
    tmp.replace(path)


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:.2em 0} h2{font-size:1.1em;margin-top:1.4em}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3} .pass{color:#176117} .fail{color:#a11}
svg .grid{stroke:#e4e4e4} svg .tick{font-size:11px;text-anchor:middle;fill:#666}
svg .band{fill:#d8f0d8} svg .label{font-size:12px;text-anchor:end;dominant-baseline:middle}
svg .none{font-size:11px;fill:#888;dominant-baseline:middle}
svg .ci{stroke:#555;stroke-width:2} svg .dot{fill:#555} svg .dot.in_band{fill:#1a7f1a} svg .dot.too_easy,svg .dot.too_hard{fill:#c22}
#filters select{margin-right:1em} #runs tr{cursor:pointer} #runs tr.sel{background:#eef}
.ev{border-left:3px solid #bbb;margin:.4em 0;padding:.2em .6em} .ev pre{white-space:pre-wrap;word-break:break-word;margin:.2em 0;max-height:24em;overflow:auto;background:#fafafa}
.ev.tool_call{border-color:#48c} .ev.model_reply,.ev.assistant_text{border-color:#a6a} .ev.outcome{border-color:#2a2}
.ev.error,.ev.judge_error{border-color:#d33} .ev.grade,.ev.grade_run{border-color:#c80} .ev.judge_exchange,.ev.judge_verdict{border-color:#088}
.kind{font-weight:600} .meta{color:#666;font-size:12px}
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<style>{style}</style></head><body>
<h1>{title}</h1><p id="summary">{summary}</p>
<h2>Pass rate per task against the band (dot: pass rate, bar: 95% interval, green: band)</h2>
{plot}
<h2>Tasks</h2>
{table}
<h2>Runs</h2>
<div id="filters">outcome <select id="f-outcome"><option value="">all</option></select>
category <select id="f-category"><option value="">all</option></select>
task <select id="f-task"><option value="">all</option></select> <span id="count"></span></div>
<table id="runs"><thead><tr><th>task</th><th>run</th><th>outcome</th><th>category</th><th>message</th><th>seconds</th><th>cost</th></tr></thead><tbody></tbody></table>
<h2>Transcript <span id="t-title" class="meta">(click a run)</span></h2>
<div id="transcript"></div>
<script type="application/json" id="rltask-data">{data}</script>
<script>{script}</script>
</body></html>
"""

SCRIPT = r"""
(function () {
  const data = JSON.parse(document.getElementById("rltask-data").textContent);
  const runs = data.runs;
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };
  const short = (t) => (t || "").split("::").pop();
  function fill(id, values) {
    const s = document.getElementById(id);
    [...new Set(values.filter(v => v))].sort().forEach(v => { const o = el("option", v); o.value = v; s.appendChild(o); });
    s.addEventListener("change", draw);
  }
  fill("f-outcome", runs.map(r => r.outcome));
  fill("f-category", runs.map(r => r.category));
  fill("f-task", runs.map(r => r.task));
  const body = document.querySelector("#runs tbody");
  function draw() {
    const fo = document.getElementById("f-outcome").value, fc = document.getElementById("f-category").value,
          ft = document.getElementById("f-task").value;
    body.textContent = "";
    let n = 0;
    runs.forEach((r, i) => {
      if ((fo && r.outcome !== fo) || (fc && r.category !== fc) || (ft && r.task !== ft)) return;
      n++;
      const tr = el("tr"); tr.dataset.index = i;
      [short(r.task), r.case, r.outcome, r.category || "", (r.message || "").slice(0, 160), r.seconds ?? "",
       r.cost == null ? "-" : "$" + Number(r.cost).toFixed(4)].forEach((c, j) => tr.appendChild(el("td", c, j === 2 ? (r.outcome === "passed" ? "pass" : "fail") : undefined)));
      tr.addEventListener("click", () => show(i, tr));
      body.appendChild(tr);
    });
    document.getElementById("count").textContent = n + " of " + runs.length + " runs";
  }
  function field(box, name, value) {
    if (value === undefined || value === null || value === "") return;
    if (typeof value !== "object" && String(value).length < 120 && !String(value).includes("\n")) {
      const line = el("div"); line.appendChild(el("span", name + ": ", "meta")); line.appendChild(el("span", value));
      box.appendChild(line);
      return;
    }
    box.appendChild(el("div", name, "meta"));
    box.appendChild(el("pre", typeof value === "string" ? value : JSON.stringify(value, null, 1)));
  }
  const SHOWN = {
    meta: ["task", "case", "agent", "model", "isolation", "instance_source", "source"],
    prompt: ["system", "prompt", "tools"], assistant_text: ["text"], model_reply: ["stop_reason", "usage"],
    tool_call: ["input", "result", "is_error", "seconds"], end: ["status", "steps"],
    grade: ["exit_code", "limit", "seconds", "stdout", "stderr"],
    grade_run: ["argv", "exit_code", "limit", "peak_rss", "outputs", "missing", "seconds", "stdout", "stderr"],
    judge_exchange: ["backend", "model", "rubric", "request", "response", "usage"], judge_verdict: null,
    judge_screen: ["what", "findings"], outcome: ["outcome", "category", "message", "scores", "parts"],
    error: null, cut_off: null, replay: ["source", "steps", "note"],
  };
  function show(i, tr) {
    document.querySelectorAll("#runs tr.sel").forEach(e => e.classList.remove("sel"));
    tr.classList.add("sel");
    const r = runs[i], box = document.getElementById("transcript");
    document.getElementById("t-title").textContent = short(r.task) + " [" + r.case + "] · " + r.outcome +
      (r.category ? " · " + r.category : "") + (r.transcript ? " · " + r.transcript : "");
    box.textContent = "";
    if (!r.events.length) box.appendChild(el("p", "no transcript was recorded for this run", "meta"));
    r.events.forEach(ev => {
      const d = el("div", undefined, "ev " + ev.type);
      const head = el("div"); head.appendChild(el("span", ev.type === "tool_call" ? "tool " + ev.tool : ev.type, "kind"));
      if (ev.t !== undefined) head.appendChild(el("span", "  " + ev.t + " s", "meta"));
      d.appendChild(head);
      const keys = SHOWN[ev.type];
      Object.keys(ev).filter(k => k !== "type" && k !== "t" && k !== "tool" && (keys == null || keys.includes(k)))
        .forEach(k => field(d, k, ev[k]));
      box.appendChild(d);
    });
  }
  draw();
  const rows = [...body.querySelectorAll("tr")];
  const first = rows.find(tr => runs[tr.dataset.index].outcome !== "passed") || rows[0];
  if (first) first.click();
  document.body.dataset.ready = "1";
})();
"""
