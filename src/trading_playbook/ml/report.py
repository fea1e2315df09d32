"""The honest report: JSON (``ml_report.json``), Markdown (``ml_report.md``), HTML (``ml_report.html``)
and SVG charts under ``--out`` (inlined in the HTML).

It answers, out of sample and fold by fold: does the model rank winners above losers (AUC) and are its
probabilities right (Brier against the base rate, calibration)? Does the rule score itself separate
winners from losers? Does the learned ranking or filter make a better portfolio than the rule score and
than random order under the same capital and slots, after deflating for every model and threshold
tried? The verdict says plainly when the model does not help.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from trading_playbook.ml.models import grid

__all__ = ["build_report", "verdict", "write_report"]

DSR_BAR = 0.95


def _mean(values: list[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def summarise(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mean of the per-fold metrics by kind (models and rule score)."""
    out: dict[str, dict[str, Any]] = {}
    for kind in sorted({r["kind"] for r in rows}):
        mine = [r for r in rows if r["kind"] == kind]
        out[kind] = {
            "folds": len(mine),
            "auc": _mean([r["auc"] for r in mine]),
            "brier": _mean([r["brier"] for r in mine]),
            "brier_base": _mean([r["brier_base"] for r in mine]),
            "folds_auc_above_half": sum(1 for r in mine if r["auc"] is not None and r["auc"] > 0.5),
        }
    return out


def verdict(doc: dict[str, Any]) -> dict[str, Any]:
    """Plain-language findings and whether the learned score helps (all bars must be cleared)."""
    lines: list[str] = []
    summary = doc["summary"]
    rule = summary.get("rule_score", {})
    for kind in doc["settings"]["models"]:
        s = summary.get(kind)
        if not s:
            lines.append(f"{kind}: no fold could be trained (see skipped folds).")
            continue
        text = f"{kind}: mean out-of-sample AUC {_f(s['auc'])} over {s['folds']} folds ({s['folds_auc_above_half']} above 0.5); the rule score's {_f(rule.get('auc'))}."
        if s["brier"] is not None:
            better = s["brier"] < (s["brier_base"] or 0)
            text += f" Brier {_f(s['brier'])} against {_f(s['brier_base'])} for always predicting the training win rate ({'better' if better else 'not better'})."
        lines.append(text)
    rs = doc["rule_score"]
    separates = rs["auc"] is not None and rs["auc"] > 0.55
    lines.append(
        f"Rule score: AUC {_f(rs['auc'])} on {rs['n']} out-of-sample setups; winners' mean score {_f(rs['mean_score_winners'])}, "
        f"losers' {_f(rs['mean_score_losers'])}: it {'separates' if separates else 'does not clearly separate'} winners from losers."
    )
    helps = beats = False
    dsr = None
    port = doc.get("portfolio")
    if port and port.get("best_learned"):
        best = port["best_learned"]
        rnd = port["random_sharpe"]
        dsr = best["deflated_sharpe"]
        lines.append(
            f"Portfolio {port['start']} to {port['end']}: best learned variant '{best['label']}' Sharpe {_f(best['sharpe'])}, "
            f"rule score {_f(port['rule_sharpe'])}, random order {_f(rnd['mean'])} on average ({_f(rnd['min'])} to {_f(rnd['max'])}); "
            f"deflated Sharpe probability {_f(dsr)} over {port['n_trials']} trials."
        )
        kind = best["label"].split(" ")[0]
        auc_better = (summary.get(kind, {}).get("auc") or 0) > (rule.get("auc") or 0)
        beats = bool(best["beats_rule"] and best["beats_every_random"] and auc_better)
        helps = beats and dsr >= DSR_BAR
    elif port is not None:
        lines.append("Portfolio comparison: no learned variant ran.")
    bars = (
        "beat the rule score and every random order, deflated Sharpe >= 0.95, better AUC than the rule score"
    )
    if helps:
        headline = "The learned score helped out of sample in this test (it cleared every bar); confirm on other data and periods before trusting it."
    elif beats:
        headline = (
            "The learned score does not help enough to trade: it ranks setups a little better than the rule score and its best "
            f"portfolio beat the rule score and every random order, but its deflated Sharpe probability is {_f(dsr)} (< {DSR_BAR}): "
            "no proven edge after counting the trials."
        )
    else:
        headline = f"The learned score does not help: it did not clear every bar ({bars})."
    return {"helps": helps, "beats_baselines": beats, "headline": headline, "lines": lines}


def build_report(
    *,
    meta: dict[str, Any],
    settings: dict[str, Any],
    folds: list[dict[str, Any]],
    models: list[dict[str, Any]],
    skipped: list[dict[str, Any]],
    rule_score: dict[str, Any],
    portfolio: dict[str, Any] | None,
    filter_quantiles: list[float],
) -> dict[str, Any]:
    """The report document (JSON-safe)."""
    doc: dict[str, Any] = {
        "schema": 1,
        "dataset": meta,
        "settings": settings,
        "folds": folds,
        "models": models,
        "skipped": skipped,
        "summary": summarise(folds),
        "rule_score": rule_score,
        "portfolio": portfolio,
        "trials": {
            "models": settings["models"],
            "filter_quantiles": filter_quantiles,
            "portfolio_trials": portfolio["n_trials"] if portfolio else 0,
            "inner_grid_points": {k: len(grid(k, settings["target"])) for k in settings["models"]},
        },
    }
    doc["verdict"] = verdict(doc)
    return doc


def _f(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _markdown(doc: dict[str, Any], charts: list[str]) -> str:
    s = doc["settings"]
    out = [
        "# Learned setup scoring: out-of-sample report",
        "",
        f"**{doc['verdict']['headline']}**",
        "",
        *[f"- {line}" for line in doc["verdict"]["lines"]],
        "",
        "## Setup",
        "",
        f"- Dataset: {doc['dataset']['rows']} setups {doc['dataset']['start']} to {doc['dataset']['end']}, scanner "
        f"{doc['dataset']['scanner']['name']} {doc['dataset']['scanner']['params']}, exit {doc['dataset']['exit']}, config hash {doc['dataset']['config_hash']}.",
        f"- Walk-forward: train {s['train']}, test {s['test']}, {'expanding' if s['anchored'] else 'rolling'} windows, "
        f"embargo {s['embargo']} sessions, {s['inner_splits']} inner splits for tuning, target {s['target']}.",
        f"- Features: {', '.join(doc['dataset']['features'])}.",
        f"- Tried: models {', '.join(s['models'])}; filter quantiles {doc['trials']['filter_quantiles']}; "
        f"{doc['trials']['portfolio_trials']} portfolio trials in the deflated Sharpe; inner grid points {doc['trials']['inner_grid_points']}.",
        "",
        "## Per fold (test windows)",
        "",
        "| fold | test window | kind | n | win rate | AUC | Brier | Brier (base rate) | mean R top half | mean R bottom half |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["folds"]:
        out.append(
            f"| {r['fold']} | {r['test_start']} to {r['test_end']} | {r['kind']} | {r['n']} | {_f(r['win_rate'])} | {_f(r['auc'])} | "
            f"{_f(r['brier'])} | {_f(r['brier_base'])} | {_f(r['mean_r_top_half'])} | {_f(r['mean_r_bottom_half'])} |"
        )
    out += [
        "",
        "## Models (cutoff rule: each scores only sessions after its training cutoff)",
        "",
        "| kind | fold | training cutoff | purge boundary | test start | train n | purged | params |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in doc["models"]:
        out.append(
            f"| {m['kind']} | {m['fold']} | {m['training_cutoff']} | {m['purge_boundary']} | {m['test_start']} | {m['n_train']} | {m['n_purged']} | `{json.dumps(m['params'])}` |"
        )
    if doc["skipped"]:
        out += [
            "",
            "Skipped folds: "
            + "; ".join(f"fold {x['fold']} ({x['test_start']}): {x['reason']}" for x in doc["skipped"]),
        ]
    out += [
        "",
        "## Does the rule score separate winners from losers?",
        "",
        "| score from | setups | win rate | mean R |",
        "|---|---|---|---|",
    ]
    out += [
        f"| {b['score_from']} | {b['count']} | {_f(b['win_rate'])} | {_f(b['mean_r'])} |"
        for b in doc["rule_score"]["by_score"]
    ]
    port = doc.get("portfolio")
    if port:
        out += [
            "",
            f"## Portfolio, {port['start']} to {port['end']} ({port['engine']} engine)",
            "",
            "| variant | total return | CAGR | Sharpe | max drawdown | trades | win rate |",
            "|---|---|---|---|---|---|---|",
        ]
        for run in port["runs"]:
            m = run["metrics"]
            out.append(
                f"| {run['label']} | {_f(m['total_return'])} | {_f(m['cagr'])} | {_f(m['sharpe'])} | {_f(m['max_drawdown'])} | {m['trades']} | {_f(m['win_rate'])} |"
            )
    out += ["", "## Charts", "", *[f"![{c}]({c})" for c in charts], ""]
    out += [
        "Limits: labels are single trades that ignore cash and slots; the universe may be survivorship-biased; "
        "a model is only as good as the periods it was trained on. See docs/ml.md.",
        "",
    ]
    return "\n".join(out)


def _html(markdown_text: str, charts: dict[str, str]) -> str:
    body: list[str] = []
    in_table = False
    for line in markdown_text.splitlines():
        if line.startswith("|"):
            cells = [html.escape(c.strip().strip("`")) for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-"):
                continue
            tag = "th" if not in_table else "td"
            body.append(
                ("<table>" if not in_table else "")
                + "<tr>"
                + "".join(f"<{tag}>{c}</{tag}>" for c in cells)
                + "</tr>"
            )
            in_table = True
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        if line.startswith("!["):
            name = line[line.index("(") + 1 : -1]
            body.append(f'<figure class="chart">{charts[name]}</figure>')  # the SVG carries its own title
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            body.append(f"<li>{html.escape(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{html.escape(line.replace('**', ''))}</p>")
    if in_table:
        body.append("</table>")
    style = "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}svg.chart{max-width:100%;height:auto}figure{margin:1em 0}"
    return f"<!doctype html><html><head><meta charset='utf-8'><title>ML report</title><style>{style}</style></head><body>{''.join(body)}</body></html>"


def write_report(doc: dict[str, Any], out: str | Path) -> list[Path]:
    """Write ``ml_report.json``, ``ml_report.md``, ``ml_report.html`` and the charts; returns the paths."""
    from trading_playbook.ml.charts import render_charts

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    charts = render_charts(doc)
    paths = []
    for name, svg in charts.items():
        (folder / name).write_text(svg, encoding="utf-8")
        paths.append(folder / name)
    text = _markdown(doc, list(charts))
    for name, content in (
        ("ml_report.json", json.dumps(doc, indent=2, sort_keys=True, default=_json)),
        ("ml_report.md", text),
        ("ml_report.html", _html(text, charts)),
    ):
        (folder / name).write_text(content, encoding="utf-8")
        paths.append(folder / name)
    return paths


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
