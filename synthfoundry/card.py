"""Dataset cards, built one way: a `Card` is a title and a list of `Section`s (a title and its markdown lines).

- `version_card`: a published version, from its figures (report.py): card.md beside the manifest (`write_card`), the
  README of the `hf` export, and the Prefect artifact.
- `summary_card`: the few lines the flow prints when it publishes, from the manifest alone.
- `run_card`: a run that published nothing (nothing new, or a failed contract).

To show more on every version's card, add a section where the card is made, e.g.
`card.add(Section("Extrinsic evaluation", lines), before="Lineage")`, or a line to its head
(`card.section("").lines.append(...)`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from synthfoundry import report
from synthfoundry.rounds import describe

CARD, PLOTS = "card.md", "plots"


@dataclass
class Section:
    title: str  # "" for the lines right under the card's title
    lines: list[str] = field(default_factory=list)


@dataclass
class Card:
    title: str
    sections: list[Section] = field(default_factory=list)

    def add(self, section: Section, before: str | None = None) -> Card:
        """Add a section at the end, or before the section titled `before` (at the end if there is none)."""
        titles = [s.title for s in self.sections]
        self.sections.insert(titles.index(before) if before in titles else len(titles), section)
        return self

    def section(self, title: str) -> Section:
        return next(s for s in self.sections if s.title == title)

    def markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        for section in self.sections:
            lines += [f"## {section.title}", ""] if section.title else []
            lines += [*section.lines, ""]
        return "\n".join(lines).rstrip() + "\n"


# --- pieces every card shares --------------------------------------------------------------------------------------


def table(rows: list[dict]) -> list[str]:
    if not rows:
        return ["(none)"]
    header = list(rows[0])
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(_cell(row.get(k)) for k in header) + " |" for row in rows),
    ]


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 80 else text[:77] + "..."


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.4f}"


def stage_table(stages: dict[str, dict]) -> list[str]:
    """Rows in, kept and dropped per stage, from a manifest's `stages`."""
    return table([{"stage": name, **counts} for name, counts in stages.items()])


def cost_line(cost: dict) -> str:
    """Spend, cache, forecast and budget in one line, from a manifest's `cost`."""
    requests = cost.get("requests") or {}
    budget = "no budget set" if cost.get("budget_usd") is None else f"budget {_money(cost['budget_usd'])}"
    line = (
        f"- cost: {_money(cost.get('spent_usd'))} spent on {requests.get('sent', 0)} requests "
        f"({requests.get('cached', 0)} from the cache, {_money(cost.get('cached_usd'))} saved); "
        f"forecast {_money(cost.get('forecast_usd'))}, {budget}"
    )
    if cost.get("budget_exhausted"):
        line += f" (reached: {requests.get('not_sent_budget', 0)} requests not sent)"
    return line


def place(root: str) -> str:
    """The publish root as a reader elsewhere can use it: a URL as given, a local folder as an absolute path."""
    return root if "://" in root else str(Path(root).resolve())


def load_section(root: str, dataset: str, number: int, storage=None) -> Section:
    """How to read the version: the store (with the non-secret `storage` options a reader elsewhere needs; keys come
    from their AWS variables or their own options, never from a card), polars, `datasets`, and an export."""
    root = place(root)
    shown = {name: value for name, value in (storage.model_dump(include={"endpoint_url", "region", "anon"})
                                             if storage else {}).items() if value}
    options = ", ".join(f"{name}={value!r}" for name, value in shown.items())
    opened = (f"DatasetStore({root!r}, {dataset!r}, storage=StorageOptions({options}))" if shown
              else f"DatasetStore({root!r}, {dataset!r})")
    flags = "".join(f" --storage-option {name}={value}" for name, value in shown.items())
    return Section("Load it", [
        "```python", "from synthfoundry.dataset import DatasetStore",
        *(["from synthfoundry.dataset.storage import StorageOptions"] if shown else []),
        f"store = {opened}",
        f"df = store.read({number})                    # polars", "import datasets",
        f"ds = datasets.load_dataset('parquet', data_files=store.data_files({number}), split='train'"
        + (", storage_options=store.files.storage.fsspec())" if "://" in root else ")"),
        "```", "",
        *(["Keys: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or `key` and `secret` in StorageOptions.", ""]
          if "://" in root else []),
        f"For a trainer: `synthfoundry export {dataset} --root {root}{flags} --version {number} "
        "--format hf|trl|dpo|verl|jsonl --out DIR`.",
    ])


# --- the cards -----------------------------------------------------------------------------------------------------


def summary_card(manifest: dict, root: str, storage=None) -> Card:
    """What the flow prints once it has published."""
    teacher = manifest.get("teacher")
    contract = manifest["contract"]
    return Card(f"{manifest['dataset']} {manifest['version']}", [
        Section("", [
            f"- parent: {manifest['parent'] or '(first version)'}",
            f"- rows: {manifest['rows']['added']} added, {manifest['rows']['total']} in total",
            f"- teacher: {teacher['provider']} / {teacher['model']}" if teacher
            else "- teacher: none (the recipe sent no requests)",
            cost_line(manifest.get("cost", {})),
            f"- contract `{contract['suite']}`: {'passed' if contract['success'] else 'FAILED'}",
            *([f"- {describe(manifest['target'])}"] if manifest.get("target") else []),
            f"- code: {manifest['code_version']}, run {manifest['run_id']}",
        ]),
        Section("Pipeline", stage_table(manifest["stages"])),
        load_section(root, manifest["dataset"], int(manifest["version"][1:]), storage),
    ])


def run_card(dataset: str, heading: str, message: list[str], manifest: dict) -> Card:
    """The card of a run that published nothing: why, and its stages."""
    return Card(f"{dataset}: {heading}", [Section("", message), Section("Pipeline", stage_table(manifest["stages"]))])


def tables(figures: dict) -> dict[str, list[dict]]:
    """A version card's tables as rows, for Prefect table artifacts (and `--json`)."""
    return {
        "stages": figures["stages"],
        "rejections": [
            {"stage": r["stage"], "kind": r["kind"], "rows": r["rows"], "example": r["examples"][0]["reason"]}
            for r in figures["rejections"]
        ],
        "scores": [{"stage": s, **_summary(d)} for s, d in figures["scores"].items()],
        "lengths": [{"field": name, **_summary(d)} for name, d in figures["lengths"].items() if d],
        "contamination": [{"benchmark": b, "hits": n} for b, n in figures["contamination"].items()],
        "recipes": figures["recipes"],
        "teachers": figures["teachers"],
    }


def _summary(distribution: dict) -> dict:
    return {k: v for k, v in distribution.items() if k != "histogram"}


def version_card(
    figures: dict, plot_files: dict[str, str] | None = None, root: str | None = None, collapsible: bool = True,
    storage=None,
) -> Card:
    """A published version: what it holds, how it was made, how good it is, and (given the publish `root`) how to
    load it. `plot_files` maps plot names to paths relative to the card (or data URLs). `collapsible`: the run
    config goes in a collapsed `<details>` block; where markdown shows no such block (Prefect's UI renders it
    open), the card points to the manifest instead."""
    plot_files = plot_files or {}
    rows, cost, diversity, contract = figures["rows"], figures["cost"], figures["diversity"], figures["contract"]
    rendered = tables(figures)

    def plot(name: str) -> list[str]:
        return [f"![{name}]({plot_files[name]})", ""] if name in plot_files else []

    lineage = figures["lineage"]
    head = [
        f"- rows: {rows.get('added', '?')} added, {rows.get('removed', 0)} removed, {rows.get('total')} in total; "
        f"parent {figures['parent'] or '(first version)'}",
        f"- contract `{contract.get('suite')}`: {'passed' if contract.get('success') else 'FAILED'}"
        if contract else "- contract: none recorded",
        f"{cost_line(cost)}; {_money(cost['per_kept_row_usd'])} per kept row",
        f"- tokens: {cost['tokens'].get('prompt', 0)} prompt, {cost['tokens'].get('completion', 0)} completion",
        *(["- **unfiltered**: published with `filters: none` (no screen, decontamination or deduplication)"]
          if (lineage["config"] or {}).get("filters") == "none" else []),
        *([_sandbox_line(figures["sandbox"])] if figures.get("sandbox") else []),
        *([f"- {describe(figures['target'])}"] if figures.get("target") else []),
        f"- created {figures['created_at']}, code {lineage['code_version']}, run {lineage['run_id']}",
    ]
    spread = [
        f"- mean pairwise cosine distance (embeddings, sample of {diversity['sample']}): "
        f"{_cell(diversity['mean_cosine_distance']) or 'n/a'}",
        f"- distinct-1 {_cell(diversity['distinct_1'])}, distinct-2 {_cell(diversity['distinct_2'])} "
        f"(unique / all word n-grams of the responses, same sample)",
    ]
    if clusters := diversity["clusters"]:
        spread.append(f"- clusters: {clusters['distinct']} used, largest {clusters['largest_share']:.1%} of rows, "
                      f"evenness {clusters['evenness']}")
    scores = [*table(rendered["scores"]), ""]
    scores += [f"- {report.RATES[name]} (`{name}`): mean {rate['mean']}, median {rate['p50']}, over {rate['rows']} rows"
               for name, rate in figures["rates"].items()]
    scores += [""] if figures["rates"] else []
    scores += plot("scores")
    if judge := figures["judge"]:
        scores += [f"Judge (`{report.JUDGE_STAGE}`): mean kept score {judge['mean_kept']}, {judge['unscored']} "
                   "unparseable", "", *table(judge["by_score"]), "", *plot("judge")]
    card = Card(f"{figures['dataset']} {figures['version']}", [
        Section("", head),
        Section("Pipeline", [*table(figures["stages"]), "", *plot("stages")]),
        Section("Why rows were dropped", table(rendered["rejections"])),
        Section("Diversity", spread),
        Section("Scores and pass rates", scores),
        Section("Contamination", table(rendered["contamination"])),
        Section("Lengths", [*table(rendered["lengths"]), "", *plot("lengths")]),
        Section("Recipes and teachers", [*table(figures["recipes"]), "", *table(figures["teachers"])]),
        Section("Lineage", _lineage(lineage, collapsible)),
    ])
    if figures["change"]:
        changed = [{"metric": k, **v} for k, v in figures["change"].items() if k != "from"]
        card.add(Section(f"Change from {figures['change']['from']}", table(changed)))
    if figures.get("extrinsic"):
        from synthfoundry.evaluation.results import markdown

        card.add(Section("Extrinsic evaluation", [markdown(record, "###") for record in figures["extrinsic"]]))
    if root is not None:
        card.add(load_section(root, figures["dataset"], int(str(figures["version"]).lstrip("v")), storage))
    return card


def _sandbox_line(sandbox: dict) -> str:
    if sandbox["isolation"] == "none":
        return "- **unsandboxed**: model-written code ran with `sandbox: {isolation: none}`, as the run config asked"
    return (f"- sandbox: model-written code ran under {sandbox['isolation']}, {sandbox['timeout_s']:g} s and "
            f"{sandbox['memory_mb']} MB per program")


def _lineage(lineage: dict, collapsible: bool) -> list[str]:
    teacher = lineage["teacher"] or {}
    lines = [
        f"- run `{lineage['run_id']}`, seed {lineage['seed']}, code {lineage['code_version']}",
        f"- teacher: {teacher.get('provider', 'none')} / {teacher.get('model', '-')}",
        "- prompt templates: " + ", ".join(
            f"{t['recipe']} `{t['template_hash']}` ({t['rows']} rows)" for t in lineage["templates"]
        ),
    ]
    if lineage["rollback_of"]:
        lines.append(f"- a rollback: same rows as {lineage['rollback_of']}")
    if lineage["config"] and collapsible:
        lines += ["", "<details><summary>run config</summary>", "", "```json",
                  json.dumps(lineage["config"], indent=2), "```", "", "</details>"]
    elif lineage["config"]:
        lines.append("- run config: `config` in the version's manifest.json (`synthfoundry show DATASET --version N`)")
    return lines


def write_card(store, version, figures: dict, images: dict[str, bytes]) -> list[str]:
    """card.md, evaluation.json and the `plots` PNGs beside the version's manifest; returns the files written."""
    links = {name: f"{PLOTS}/{name}.png" for name in images}
    files = {links[name]: image for name, image in images.items()}
    files[CARD] = version_card(figures, links, store.root, storage=store.files.storage).markdown().encode()
    files[report.EVALUATION] = json.dumps(figures, indent=2, default=str).encode()
    written = []
    for name, data in files.items():
        store.files.write(f"{version.path}/{name}", data)
        written.append(f"{version.path}/{name}")
    return written
