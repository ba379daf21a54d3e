"""``bench table PAPER:TABLE``: a paper table in its own layout, as reported | reproduced | Δ.

Rows and columns come from the table spec (``results/tables/``), reported numbers from the
reported database (``results/reported/``), reproductions from the run records of a results
store. A cell of the paper's own method that bench can rerun (``reproduce:``) shows

    reported | mean ± std over every matching (fold, seed) record (n=...) | Δ = mean − reported

in the paper's unit (records hold fractions; ``unit: percent`` cells are shown ×100). A
record matches a cell when it ran the same method, under the cell's protocol at its current
hash, with exactly the configuration the cell's preset and overrides resolve to, on the
cell's modalities (and folds where the cell restricts them). A missing
reproduction shows "—" and a footnote with the ``bench run`` command that would produce it.
A cell names the preset that produced its number; where that is the code side (``code``, or
``code_<x>``) and the paper side (``paper``, ``paper_<x>``) resolves to a different
configuration, a second row "<row> (as written)" shows the paper side's reproduction and its
own command, so both replays and their Δ against the reported number stand side by side.
Rows with a record whose checkpoint was selected on test are marked †, rows with a record
of a leaky protocol ‡; cells evaluated from a weights file (``--regime evaluate``) are never
averaged with trained ones: they follow the trained reproduction as ``evaluated X ± Y (n=...) ◊``; a reproduction drawn (in part) from the committed records of
``results/reproduced/`` (:mod:`bench.reporting.reproduced`) is marked §. Cited rows show the reported
number only. A column whose cells carry
different metric ids is refused unless the spec declares it under ``mixed_metrics`` (the
paper's own mixing), and then every cell names its metric.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import io
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.errors import BenchError, DataError, PluginError
from bench.records import cells, store
from bench.reporting import presets, reported, reproduced, rescore, verify
from bench.reporting.reported import Cell, Database, TableSpec

ON_TEST_MARK = "†"
LEAKY_MARK = "‡"
COMMITTED_MARK = "§"
EVALUATED_MARK = "◊"
DEFAULT_OUT = Path("results")


def table_command(args: argparse.Namespace) -> int:
    """``bench table PAPER:TABLE [--format markdown|latex|csv] [--out STORE]``."""
    scan = verify.scan(Path(args.out))
    committed = reproduced.scan()
    print(render(reported.load_all(), args.table_id, Path(args.out), args.format, scan.found, committed.found))
    corrupt = scan.corrupt + committed.corrupt
    for path, why in corrupt:
        print(store.describe_corrupt(path, why), file=sys.stderr)
    if corrupt:
        print(verify.counted(corrupt), file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- matching records


@dataclasses.dataclass(frozen=True)
class Query:
    """Which run records reproduce a number: one method × protocol × configuration (× folds, seeds)."""

    method: str
    protocol: str
    preset: str = "paper"
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    modalities: tuple[str, ...] = ()
    folds: tuple[int, ...] | None = None
    seeds: tuple[int, ...] | None = None
    numerics: Mapping[str, Any] = dataclasses.field(default_factory=lambda: dict(cells.DEFAULT_NUMERICS))
    """Only records computed with these numerics match (records of other numerics are never averaged in)."""

    @classmethod
    def for_cell(cls, cell: Cell, rep: reported.Reproduce, protocol: str) -> Query:
        """The query that reproduces ``cell`` (its ``reproduce`` and ``protocol``)."""
        return cls(rep.method, protocol, rep.preset, dict(rep.overrides), cell.modalities, rep.folds, rep.seeds)

    def fold_names(self) -> set[str] | None:
        """The record ``fold`` names this query is restricted to (None: any)."""
        return None if self.folds is None else {f"fold{k}" for k in self.folds}


@dataclasses.dataclass(frozen=True)
class Aggregate:
    """A metric over matching records: mean, sample std (ddof=1; 0 for one record), count, flags."""

    mean: float
    std: float
    n: int
    folds: tuple[str, ...]
    on_test: bool
    leaky: bool


@functools.lru_cache(maxsize=None)
def _protocol(name: str) -> Any:
    """A protocol, loaded once per process (a table asks for the same few many times)."""
    from bench import protocols

    return protocols.load(name)


def resolved_config(query: Query) -> dict[str, Any]:
    """The configuration a query's method, preset and overrides resolve to (as records store it): as
    ``results/resolved_presets.json`` holds it (no plugin imported), else through the method's plugin.

    Raises :class:`PluginError` when the method is not installed and :class:`ConfigError` for
    an override the method does not have.
    """
    return presets.resolve(query.method, query.preset, query.overrides)[1]


def matching(records: Iterable[Mapping[str, Any]], query: Query, config: Mapping[str, Any],
             evaluated: bool = False) -> list[Mapping[str, Any]]:
    """The records that ran ``query`` with exactly ``config`` and the query's numerics (precision, fast
    kernels: records of other numerics are never averaged in), under the protocol's current hash:
    trained ones, or (``evaluated``) those that tested a weights file (``--regime evaluate``).

    A key the query sets to ``<path>`` (:data:`bench.reporting.reported.LOCAL_PATH`) matches a record
    that was given any file for it (pretrained weights live at a different path on every machine).
    """
    protocol = _protocol(query.protocol)
    modalities = set(query.modalities or protocol.modalities)
    folds, seeds = query.fold_names(), query.seeds
    local = {key for key, value in query.overrides.items() if value == reported.LOCAL_PATH}
    return [
        rec for rec in records
        if rec["method"] == query.method and rec["protocol"]["name"] == query.protocol
        and rec["protocol"]["hash"] == protocol.hash and rec["preset"] == query.preset
        and _same_config(rec["config"], config, local) and set(rec["modalities"]) == modalities
        and cells.numerics_of(rec) == dict(query.numerics)
        and (bool(rec.get("evaluated")) if evaluated else
             not rec.get("evaluated") and _regime_of(rec) == _own_regime(protocol))
        and (folds is None or rec["fold"] in folds) and (seeds is None or rec["seed"] in seeds)
    ]


def _own_regime(protocol: Any) -> dict[str, Any] | None:
    return None if protocol.regime is None else dataclasses.asdict(protocol.regime)


def _regime_of(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The regime a record trained under, None when it was not its protocol's own (``--regime``)."""
    regime = record.get("regime")
    if record.get("regime_source", "protocol") != "protocol" or not isinstance(regime, Mapping):
        return None
    return {"kind": regime.get("kind"), "pretrain": regime.get("pretrain"), "pretrain_on": regime.get("pretrain_on")}


def _same_config(got: Mapping[str, Any], wanted: Mapping[str, Any], local: set[str]) -> bool:
    """Equal configurations, except that a ``<path>`` key matches any path the record was given."""
    if set(got) != set(wanted):
        return False
    return all(isinstance(got[k], str) and bool(got[k]) if k in local else got[k] == wanted[k] for k in wanted)


def aggregate(records: Sequence[Mapping[str, Any]], metric: str,
              value: Callable[[Mapping[str, Any]], float | None] | None = None) -> Aggregate | None:
    """Mean ± std of ``metric`` over the records that hold it; None when none does.

    ``value(record)`` gives a record's value (None: it has none); the default reads the record's
    ``metrics``, :func:`build` also derives it from the stored predictions.
    """
    get = value or (lambda rec: rec["metrics"].get(metric))
    pairs = [(rec, v) for rec in records if (v := get(rec)) is not None]
    if not pairs:
        return None
    having = [rec for rec, _ in pairs]
    values = [float(v) for _, v in pairs]
    mean = math.fsum(values) / len(values)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return Aggregate(mean, std, len(values), tuple(sorted({rec["fold"] for rec in having})),
                     any(rec["selection"]["on_test"] for rec in having),
                     any(rec["protocol"].get("leaky", False) for rec in having))


def run_command(query: Query, out: Path) -> str:
    """The ``bench run`` command line that produces the records of ``query``."""
    protocol = _protocol(query.protocol)
    differ = bool(query.modalities) and set(query.modalities) != set(protocol.modalities)
    return cells.run_command(query.method, query.protocol, folds=query.folds or (), seeds=query.seeds or (),
                             preset=None if query.preset == "paper" else query.preset, overrides=query.overrides,
                             modalities=query.modalities if differ else (),
                             out=None if Path(out) == DEFAULT_OUT else out)


# --------------------------------------------------------------------------- building a table


@dataclasses.dataclass
class Rendered:
    """A table ready for a format: header, rows of cell texts, per-row notes, table notes."""

    title: str
    header: list[str]
    rows: list[list[str]]
    row_notes: list[list[str]]
    notes: list[str]


class _Notes:
    """Numbered footnotes, each text once: (1), (2)... for notes; (r1), (r2)... for commands."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def mark(self, text: str, prefix: str = "") -> str:
        if text not in self.items:
            self._counts[prefix] = self._counts.get(prefix, 0) + 1
            self.items[text] = f"({prefix}{self._counts[prefix]})"
        return self.items[text]

    def line(self, text: str) -> str:
        return f"{self.items[text]} {text}"


_LEGEND = {ON_TEST_MARK: f"{ON_TEST_MARK} a reproduction of this row selected its checkpoint on the test split",
           LEAKY_MARK: f"{LEAKY_MARK} a reproduction of this row ran under a leaky protocol",
           COMMITTED_MARK: f"{COMMITTED_MARK} reproduced by records committed in results/reproduced/ "
                           "(maintainers' real-data runs; machine, device and date in each record)",
           EVALUATED_MARK: f"{EVALUATED_MARK} evaluated: weights tested without training (--regime evaluate, a "
                           "bench weights file or a released checkpoint); never averaged with the trained cells"}


def build(db: Database, table_id: str, out: Path, local: Sequence[verify.Found] | None = None,
          committed: Sequence[verify.Found] | None = None) -> Rendered:
    """Assemble ``paper:table`` from the database and the results store under ``out``: its records that prove
    themselves (``local``; and ``committed``, those of ``results/reproduced/``: scanned here when not given)."""
    spec, table = db.table(table_id)
    _refuse_mixed_columns(spec, table)
    found = reproduced.with_committed(verify.scan(out).found if local is None else local, committed)
    records = [rec for _, rec in found]
    paths = {id(rec): path for path, rec in found}
    notes = _Notes()
    rows, row_notes, marks_used, any_written = [], [], [], False
    for row in spec.rows:
        main_row, written_row = _Row(), _Row()
        for column in spec.columns:
            cell = table.cell(row, column)
            if cell is None:
                main_row.add("")
                written_row.add("")
                continue
            shown = _reported_text(cell, spec, notes)
            queries = _queries(cell)
            if cell.note:
                main_row.note(cell.note)
            if queries is None:
                main_row.add(shown)
                written_row.add("")
                continue
            query, config, written = queries
            main_row.add(f"{shown} | {_repro_text(cell, spec, query, config, records, paths, out, notes, main_row)}")
            if written is None:
                written_row.add("")
                continue
            if cell.note:
                written_row.note(cell.note)
            written_row.add(f"{shown} | {_repro_text(cell, spec, *written, records, paths, out, notes, written_row)}")
        any_written = any_written or written_row.any
        for label, built in ((row, main_row), (row + AS_WRITTEN, written_row)):
            if built is written_row and not built.any:
                continue
            marks = [m for m in (ON_TEST_MARK, LEAKY_MARK) if m in built.flags]
            marks_used += [m for m in [*marks, *(built.flags & {COMMITTED_MARK, EVALUATED_MARK})]
                           if m not in marks_used]
            rows.append([label + (" " + "".join(marks) if marks else ""), *built.texts])
            row_notes.append([*(_LEGEND[m] for m in marks), *(notes.line(n) for n in built.used)])
    table_notes = [*spec.notes,
                   *(_LEGEND[m] for m in (ON_TEST_MARK, LEAKY_MARK, COMMITTED_MARK, EVALUATED_MARK)
                     if m in marks_used),
                   *(f"{column}: {why}" for column, why in spec.mixed_metrics.items()),
                   *([_AS_WRITTEN_NOTE] if any_written else []),
                   *(notes.line(text) for text in notes.items)]
    return Rendered(f"{spec.table_id}: {spec.title}", [spec.row_header, *spec.columns], rows, row_notes,
                    table_notes)


AS_WRITTEN = " (as written)"
"""Suffix of the row that reruns a code-side cell under its paper-side preset."""
_AS_WRITTEN_NOTE = ("(as written): the same cells rerun with the paper-side preset (the paper as written) where "
                    "the number came from the official code (preset code) and the two presets configure the "
                    "method differently; Δ is against the reported number in both rows")


@dataclasses.dataclass
class _Row:
    """One printed row being assembled: cell texts, the marks its reproductions raise, its footnotes."""

    texts: list[str] = dataclasses.field(default_factory=list)
    flags: set[str] = dataclasses.field(default_factory=set)
    used: list[str] = dataclasses.field(default_factory=list)
    any: bool = False

    def add(self, text: str) -> None:
        self.texts.append(text)
        self.any = self.any or bool(text)

    def note(self, text: str) -> None:
        if text not in self.used:
            self.used.append(text)


def paper_side(preset: str) -> str | None:
    """The paper-side preset of a code-side one (``code`` → ``paper``, ``code_<x>`` → ``paper_<x>``), else None."""
    if preset == "code":
        return "paper"
    return "paper_" + preset.removeprefix("code_") if preset.startswith("code_") else None


def _refuse_mixed_columns(spec: TableSpec, table: reported.ReportedTable) -> None:
    for column in spec.columns:
        ids: dict[str, list[str]] = {}
        for cell in table.cells:
            if cell.column == column:
                ids.setdefault(cell.metric, []).append(cell.row)
        if len(ids) > 1 and column not in spec.mixed_metrics:
            listed = "; ".join(f"{metric} ({', '.join(rows)})" for metric, rows in ids.items())
            raise DataError(f"{spec.path}: column {column!r} of {spec.table_id} holds different metric ids: "
                            f"{listed}. bench will not put them in one column (ANCHORS P3); if the paper itself "
                            f"mixes them, declare the column under mixed_metrics: with the reason")
        if len(ids) == 1 and column in spec.mixed_metrics:
            raise DataError(f"{spec.path}: mixed_metrics: column {column!r} holds only {next(iter(ids))}; "
                            f"remove it from mixed_metrics")


def _reported_text(cell: Cell, spec: TableSpec, notes: _Notes) -> str:
    """The reported number as printed (or its status / "—"), its metric in a mixed column, its note mark."""
    if cell.status is not None:
        shown = cell.status
    elif cell.value is None:
        shown = "—"
    else:
        shown = f"{cell.value:.{cell.printed_decimals}f}"
    if cell.column in spec.mixed_metrics:
        shown += f" [{cell.metric}]"
    if cell.note:
        shown += f" {notes.mark(cell.note)}"
    return shown


def _queries(cell: Cell) -> tuple[Query, dict[str, Any] | None, tuple[Query, dict[str, Any]] | None] | None:
    """The cell's query (preset aliases followed) and configuration (None: method not installed), and
    the paper-side query and configuration where the cell's preset is code-side and they differ."""
    if cell.reproduce is None or cell.protocol is None or not reported.is_bench_metric(cell):
        return None
    query = Query.for_cell(cell, cell.reproduce, cell.protocol)
    try:
        query = dataclasses.replace(query, preset=_preset_name(query))
        config = resolved_config(query)
    except PluginError:
        return query, None, None
    except BenchError as exc:
        raise type(exc)(f"{cell.where}: reproduce: {exc}") from exc
    paper = paper_side(query.preset)
    if paper is None:
        return query, config, None
    written = dataclasses.replace(query, preset=paper)
    try:
        written_config = resolved_config(written)
    except BenchError as exc:
        raise type(exc)(f"{cell.where}: reproduce: preset {query.preset!r} is code-side, so bench reruns it "
                        f"as written with {paper!r} too: {exc}") from exc
    return query, config, (None if written_config == config else (written, written_config))


def _preset_name(query: Query) -> str:
    return presets.resolve(query.method, query.preset, query.overrides)[0]


def _repro_text(cell: Cell, spec: TableSpec, query: Query, config: Mapping[str, Any] | None,
                records: list[dict[str, Any]], paths: Mapping[int, Path], out: Path, notes: _Notes,
                row: _Row) -> str:
    """``reproduced | Δ`` for one query (or ``— (rN) | —`` with the command that would produce it).

    A record without the cell's metric has it computed from its stored predictions
    (:func:`bench.reporting.rescore.metric_value`) when the metric applies to its task.
    """
    def value(rec: Mapping[str, Any]) -> float | None:
        return rescore.metric_value(paths[id(rec)], rec, cell.metric)

    matched = matching(records, query, config) if config is not None else []
    agg = aggregate(matched, cell.metric, value) if matched else None
    tested = aggregate(matching(records, query, config, evaluated=True), cell.metric, value) if config else None
    scale = 100.0 if cell.unit == "percent" else 1.0
    decimals = spec.decimals_for(cell.column)
    also = "" if tested is None else \
        f" · evaluated {tested.mean * scale:.{decimals}f} ± {tested.std * scale:.{decimals}f} (n={tested.n}) " \
        f"{EVALUATED_MARK}"
    row.flags |= {EVALUATED_MARK} if tested is not None else set()
    if agg is None:
        missing = _missing_note(query, out, installed=config is not None)
        row.note(missing)
        return f"— {notes.mark(missing, 'r')}{also} | —"
    mean, std = agg.mean * scale, agg.std * scale
    committed = any(reproduced.is_committed(rec) for rec in matched)
    origin = f" {COMMITTED_MARK}" if committed else ""
    repro = f"{mean:.{decimals}f} ± {std:.{decimals}f} (n={agg.n}{_coverage(query, agg)}){origin}{also}"
    delta = "—" if cell.value is None else f"{mean - cell.value:+.{decimals}f}"
    row.flags |= {m for m, on in ((ON_TEST_MARK, agg.on_test), (LEAKY_MARK, agg.leaky), (COMMITTED_MARK, committed))
                  if on}
    return f"{repro} | {delta}"


def _missing_note(query: Query, out: Path, installed: bool) -> str:
    command = f"`{run_command(query, out)}`"
    return command + ("" if installed else f" (method {query.method!r} is not installed yet)")


def _coverage(query: Query, agg: Aggregate) -> str:
    wanted = query.fold_names()
    if wanted is None:
        count = _protocol(query.protocol).split.get("folds")
        wanted = {f"fold{k}" for k in range(1, count + 1)} if isinstance(count, int) else None
    if wanted is None or set(agg.folds) >= wanted:
        return ""
    return f", {len(set(agg.folds) & wanted)}/{len(wanted)} folds"


# --------------------------------------------------------------------------- formats


def to_markdown(table: Rendered) -> str:
    """GitHub-flavoured markdown; a literal ``|`` inside a cell is escaped as ``\\|``."""
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [f"### {table.title}", "",
           "Own rows: reported \\| reproduced (mean ± std over folds × seeds, n) \\| Δ, in the paper's unit.", "",
           line(table.header), "|" + "|".join([":--"] + ["--:"] * (len(table.header) - 1)) + "|"]
    out += [line(row) for row in table.rows]
    if table.notes:
        out += ["", *(f"- {note}" for note in table.notes)]
    return "\n".join(out)


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "±": r"$\pm$", "Δ": r"$\Delta$", "—": "---", "†": r"\dag{}", "‡": r"\ddag{}", "|": r"$|$",
                  "`": "", "−": "-"}


def latex_escape(text: str) -> str:
    """Text safe inside a LaTeX tabular cell."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(table: Rendered) -> str:
    """A ``table`` environment with one ``tabular``; footnotes below it in small type."""
    def line(cells: Sequence[str]) -> str:
        return " & ".join(latex_escape(c) for c in cells) + r" \\"

    out = [r"\begin{table}[t]", r"\centering", r"\caption{" + latex_escape(table.title) + "}",
           r"\begin{tabular}{l" + "c" * (len(table.header) - 1) + "}", r"\hline", line(table.header), r"\hline"]
    out += [line(row) for row in table.rows]
    out += [r"\hline", r"\end{tabular}"]
    if table.notes:
        out += [r"\par\smallskip\footnotesize", *(latex_escape(note) + r"\\" for note in table.notes)]
    out.append(r"\end{table}")
    return "\n".join(out)


def to_csv(table: Rendered) -> str:
    """One header line and one line per row; the last column holds that row's footnotes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*table.header, "notes"])
    for row, notes in zip(table.rows, table.row_notes, strict=True):
        writer.writerow([*row, "; ".join(n.replace("`", "") for n in notes)])
    return buffer.getvalue()


FORMATS = {"markdown": to_markdown, "latex": to_latex, "csv": to_csv}


def render(db: Database, table_id: str, out: Path, fmt: str = "markdown",
           local: Sequence[verify.Found] | None = None, committed: Sequence[verify.Found] | None = None) -> str:
    """``paper:table`` rendered in ``fmt`` (markdown, latex or csv) against the store under ``out`` (as
    :func:`build`)."""
    if fmt not in FORMATS:
        raise BenchError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return FORMATS[fmt](build(db, table_id, out, local, committed))
