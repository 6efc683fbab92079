"""Benchmark: the «Чаты» registry table at 100 000 chats (prints figures, asserts nothing).

Builds a deterministic district-sized registry (schools with their staff room, class,
parents and subject chats, a few custom ones; Russian administrators' names; sizes as in real
schools) as plain dicts, the way a local cache hands them over, and as the API client's
pydantic `Chat` models. Then, with a `ChatRegistryView` shown on the offscreen platform so the
view's own reaction (reset/layout handling, a repaint of the visible rows) is counted:

- load: `ChatRegistryModel.set_rows()` from the dicts and from the models, split into the
  storage build (reading the items into column lists) and the rest (reset, view);
- filter-as-you-type: 50 keystrokes of realistic queries typed letter by letter and deleted,
  p50/p95/max per keystroke, in ESh's order and sorted by name; each keystroke is timed from
  `set_filter` (or `setFilterFixedString`) until the event loop is idle again, so the view's
  relayout and repaint count. A keystroke that leaves the rows shown unchanged costs the model
  a lookup and no signal, so the figures for the keystrokes that did change them follow;
- sorting by each column, ascending (the first one computes that column's keys) and descending;
- memory, each in a fresh child process: tracemalloc peak and retained Python memory of the
  load, RSS growth and peak RSS (ru_maxrss).

Baseline, in the same run: QStandardItemModel + QSortFilterProxyModel, the textbook Qt way —
one QStandardItem per cell (numbers as int data so that they sort numerically), the proxy
filtering with `setFilterFixedString` case-insensitively on all columns and sorting itself.

Targets (issue 5): load < 0.5 s, keystroke p95 < 30 ms, load >= 10x faster than the baseline.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/registry_model.py [--chats N] [--runs R]
        [--skip-baseline]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import PySide6
from PySide6.QtCore import QEvent, QObject, QSortFilterProxyModel, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication

from sferum_desktop.api.esh_models import Chat as EshChat
from sferum_desktop.domain.naming import (
    STAFF_CHAT_NAME,
    class_chat_name,
    parents_chat_name,
    subject_chat_name,
)
from sferum_desktop.sandbox.datasets import CURRICULUM, SPLIT_GRADES, SUBGROUPS
from sferum_desktop.sandbox.names import (
    FEMALE_NAMES,
    MALE_NAMES,
    SURNAMES,
    surname_for,
)
from sferum_desktop.ui.registry_model import (
    ChatRegistryModel,
    ChatRegistryView,
    Column,
    _Columns,  # the storage build alone, to split the load time
)

CUSTOM_CHATS = (
    "Кружок робототехники",
    "Совет старшеклассников",
    "Олимпиадная команда по математике",
    "Методическое объединение учителей начальных классов",
    "Школьный театр «Ёлка»",
    "Родительский комитет школы",
    "Волонтёрский отряд",
    "Подготовка к ОГЭ по русскому языку",
    "Школьный спортивный клуб",
    "Юные журналисты",
)

# What a user types: (text typed letter by letter, backspaces after it). 50 keystrokes.
TYPING = (("Смирнова", 8), ("5Б - Матем", 4), ("Физ", 8), ("родители", 1))
KEYSTROKES = sum(len(text) + deleted for text, deleted in TYPING)
KEY_RUNS = 5  # passes of TYPING for ChatRegistryModel (cheap); the baseline gets one


def guard_singleton_refcounts() -> None:
    """Keep None/True/False alive under PySide6 6.12.0's abi3 wheels on CPython < 3.12.

    Those wheels return None, True and False without a new reference (the limited API's
    Py_RETURN_NONE of CPython gh-134989), so on 3.11 every void call or signal emit takes one
    reference away and a few thousand calls end in «deallocating None». Adding 2**40 references
    up front makes them as good as immortal, as they are on 3.12+; it changes no timing.
    """
    if sys.version_info >= (3, 12):
        return
    import ctypes

    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 40


def person(rng: random.Random) -> str:
    """«Фамилия Имя Отчество», declined for a random sex."""
    sex = rng.choice(("male", "female"))
    father = rng.choice(MALE_NAMES)
    if sex == "male":
        given, middle = rng.choice(MALE_NAMES)[0], father[1]
    else:
        given, middle = rng.choice(FEMALE_NAMES), father[2]
    return f"{surname_for(rng.choice(SURNAMES), sex)} {given} {middle}"


def synthetic_registry(count: int, seed: int = 1) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """`count` registry chat items of a district, as dicts, and the class titles by class id."""
    rng = random.Random(seed)
    chats: list[dict[str, Any]] = []
    titles: dict[str, str] = {}
    school = n_class = n_group = 0

    def add(name: str, kind: str, admin: tuple[str, str], members: int, **fields: Any) -> None:
        chat_id = len(chats) + 1
        linked = round(members * rng.betavariate(5, 2))
        chats.append({
            "id": chat_id, "school_id": f"org-{school:03d}", "name": name, "type": kind,
            "class_id": fields.get("class_id"), "group_id": fields.get("group_id"),
            "subject": fields.get("subject"), "admin_person_id": admin[0],
            "admin_name": admin[1], "member_count": members, "linked_member_count": linked,
            "sferum_chat_id": 10**6 + chat_id if rng.random() < 0.9 else None,
            "status": "archived" if rng.random() < 0.02 else "active",
            "version": rng.randint(1, 40), "updated_at": "2026-09-01T08:00:00Z",
        })  # fmt: skip

    while len(chats) < count:
        school += 1
        staff = [(f"usr-{school:03d}{i:03d}", person(rng)) for i in range(rng.randint(40, 110))]
        add(STAFF_CHAT_NAME, "staff", staff[0], len(staff))
        for grade in range(1, 12):
            for letter in "АБВГДЕ"[: rng.randint(2, 5)]:
                n_class += 1
                class_id, title = f"cls-{n_class:06d}", f"{grade}{letter}"
                titles[class_id] = title
                size = rng.randint(18, 32)
                teacher = rng.choice(staff)
                add(class_chat_name(title), "class", teacher, size + 1, class_id=class_id)
                parents = round(size * rng.uniform(1.3, 1.9)) + 1
                add(parents_chat_name(title), "parents", teacher, parents, class_id=class_id)
                for subject, _hours in CURRICULUM[grade]:
                    split = grade in SPLIT_GRADES.get(subject, ()) and size >= 16
                    for subgroup in SUBGROUPS if split else (None,):
                        n_group += 1
                        members = (size + 1) // 2 + 1 if subgroup else size + 1
                        add(
                            subject_chat_name(title, subject, subgroup), "subject",
                            rng.choice(staff), members, class_id=class_id,
                            group_id=f"grp-{n_group:06d}", subject=subject,
                        )  # fmt: skip
        for name in rng.sample(CUSTOM_CHATS, rng.randint(2, 6)):
            add(name, "custom", rng.choice(staff), rng.randint(5, 250))
    return chats[:count], titles


def typed_queries() -> Iterator[str]:
    """The search field's text after each keystroke of TYPING."""
    text = ""
    for phrase, deleted in TYPING:
        for letter in phrase:
            text += letter
            yield text
        for _ in range(deleted):
            text = text[:-1]
            yield text


class PaintCounter(QObject):
    """Counts the paints of a widget, to show that the timings include the view's repaint."""

    def __init__(self) -> None:
        super().__init__()
        self.paints = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def settle(app: QApplication, view: ChatRegistryView) -> None:
    """Let the view react as the event loop would: delayed layout, then its repaint if any."""
    app.processEvents()
    app.sendPostedEvents()


def timed(action: Callable[[], object], app: QApplication, view: ChatRegistryView) -> float:
    """Seconds for `action` and the view's reaction to it."""
    started = time.perf_counter()
    action()
    settle(app, view)
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (p95 of 50 is the 48th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


# --- the textbook baseline


def standard_model(items: list[dict[str, Any]], titles: dict[str, str]) -> QStandardItemModel:
    """One QStandardItem per cell, with the same texts as ChatRegistryModel shows."""
    labels = ChatRegistryModel().type_labels()
    model = QStandardItemModel(0, len(Column))
    model.setHorizontalHeaderLabels(
        [str(ChatRegistryModel().headerData(c, Qt.Orientation.Horizontal)) for c in Column]
    )
    id_role = Qt.ItemDataRole.UserRole + 1
    for item in items:
        kind = item["type"]
        name = QStandardItem(item["name"])
        name.setData(item["id"], id_role)
        if kind == "staff":
            klass = "-"
        elif kind == "parents":
            klass = ""
        else:
            klass = titles.get(item["class_id"] or "", "")
        members = QStandardItem()
        members.setData(item["member_count"], Qt.ItemDataRole.DisplayRole)
        model.appendRow([
            name, QStandardItem(labels.get(kind, kind)), QStandardItem(klass),
            QStandardItem(item["subject"] or ""), members, QStandardItem(item["admin_name"] or ""),
            QStandardItem(f"{item['linked_member_count']} / {item['member_count']}"),
        ])  # fmt: skip
    return model


def new_proxy() -> QSortFilterProxyModel:
    proxy = QSortFilterProxyModel()
    proxy.setFilterKeyColumn(-1)
    proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    return proxy


# --- memory, in a child process each


def rss_bytes() -> int:
    """The process's resident set size now (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def memory_child(kind: str, count: int) -> None:
    """Load once with tracemalloc on; print one JSON line of figures."""
    app = QApplication.instance() or QApplication([])
    items, titles = synthetic_registry(count)
    view = ChatRegistryView()
    view.resize(1200, 800)
    view.show()
    settle(app, view)  # type: ignore[arg-type]
    gc.collect()
    before = rss_bytes()
    tracemalloc.start()
    if kind == "ours":
        model: Any = ChatRegistryModel()
        view.setModel(model)
        model.set_rows(items, titles)
    else:
        model = new_proxy()
        model.setSourceModel(standard_model(items, titles))
        view.setModel(model)
    settle(app, view)  # type: ignore[arg-type]
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    gc.collect()
    figures = {
        "traced_peak": peak,
        "traced_retained": current,
        "rss_growth": rss_bytes() - before,
        "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    print("MEMORY " + json.dumps(figures))


def memory(kind: str, count: int) -> dict[str, int]:
    command = [sys.executable, __file__, "--memory", kind, "--chats", str(count)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    line = next(x for x in done.stdout.splitlines() if x.startswith("MEMORY "))
    return json.loads(line.removeprefix("MEMORY "))


# --- the run

ORDERS = (("ESh's order", -1), ("sorted by name", Column.NAME))


class Bench:
    """The shared view and data of one run, and the measurements common to both models."""

    def __init__(self, app: QApplication, items: list[dict[str, Any]], titles: dict[str, str]):
        self.app, self.items, self.titles = app, items, titles
        self.view = ChatRegistryView()
        self.view.resize(1200, 800)
        self.view.show()
        self.paints = PaintCounter()
        self.view.viewport().installEventFilter(self.paints)
        self.settle()

    def settle(self) -> None:
        settle(self.app, self.view)

    def timed(self, action: Callable[[], object]) -> float:
        return timed(action, self.app, self.view)

    def keystrokes(self, apply: Callable[[str], object]) -> tuple[list[float], list[float]]:
        """Seconds per keystroke of TYPING: all of them, and those that repainted the table."""
        apply("")
        self.settle()
        gc.collect()
        times, repainted = [], []
        for text in typed_queries():
            before = self.paints.paints
            times.append(self.timed(lambda t=text: apply(t)))
            if self.paints.paints > before:
                repainted.append(times[-1])
        return times, repainted

    def keystroke_runs(
        self, apply: Callable[[str], object], runs: int
    ) -> tuple[list[float], list[float], list[float]]:
        """`runs` passes of TYPING: the pass with the median p95, and every pass's p95."""
        passes = [self.keystrokes(apply) for _ in range(runs)]
        passes.sort(key=lambda run: percentile(run[0], 0.95))
        times, repainted = passes[len(passes) // 2]
        return times, repainted, [percentile(run[0], 0.95) for run in passes]

    def sorts(self, sort: Callable[[int, Qt.SortOrder], object]) -> dict[int, tuple[float, float]]:
        """Seconds to sort by each column ascending, then descending."""
        return {
            column: (
                self.timed(lambda c=column: sort(c, Qt.SortOrder.AscendingOrder)),
                self.timed(lambda c=column: sort(c, Qt.SortOrder.DescendingOrder)),
            )
            for column in Column
        }


def print_keys(
    label: str, times: list[float], repainted: list[float], p95s: list[float] | None = None
) -> None:
    print(f"  keystroke, {label:15} p50 {ms(percentile(times, 0.5))}  "
          f"p95 {ms(percentile(times, 0.95))}  max {ms(max(times))}")  # fmt: skip
    if p95s and len(p95s) > 1:
        print(f"    (the pass with the median p95 of {len(p95s)}: "
              + ", ".join(f"{p * 1000:.1f}" for p in p95s) + " ms)")  # fmt: skip
    if repainted:
        print(f"    the {len(repainted)} that changed the rows shown: "
              f"p50 {ms(percentile(repainted, 0.5)).strip()}, "
              f"p95 {ms(percentile(repainted, 0.95)).strip()}")  # fmt: skip


def print_sorts(sorts: dict[int, tuple[float, float]], note: str) -> None:
    print(f"  sort by column: ascending{note} / descending")
    for column, (up, down) in sorts.items():
        header = ChatRegistryModel().headerData(column, Qt.Orientation.Horizontal)
        print(f"    {header:24} {ms(up)} / {ms(down)}")


def print_memory(figures: dict[str, int], note: str = "") -> None:
    print(f"  memory: traced peak {figures['traced_peak'] / 2**20:.0f} MiB{note}, retained "
          f"{figures['traced_retained'] / 2**20:.0f} MiB; RSS growth "
          f"{figures['rss_growth'] / 2**20:.0f} MiB, peak RSS "
          f"{figures['maxrss'] / 2**20:.0f} MiB")  # fmt: skip


def bench_ours(bench: Bench, runs: int) -> dict[str, Any]:
    """ChatRegistryModel: load, keystrokes, sorts, memory."""
    print("\nChatRegistryModel")
    started = time.perf_counter()
    models = [EshChat.model_validate(item) for item in bench.items]
    pydantic_time = time.perf_counter() - started
    loads: dict[str, float] = {}
    for label, source in (("dicts (cache)", bench.items), ("API Chat models", models)):
        totals, builds = [], []
        for _ in range(runs):
            gc.collect()
            started = time.perf_counter()
            _Columns.build(source, bench.titles)
            builds.append(time.perf_counter() - started)
            model = ChatRegistryModel()
            bench.view.setModel(model)
            bench.settle()
            gc.collect()
            totals.append(bench.timed(lambda m=model, s=source: m.set_rows(s, bench.titles)))
        loads[label] = statistics.median(totals)
        print(f"  load from {label:16}{ms(loads[label])} median of {runs} (storage build "
              f"{ms(statistics.median(builds)).strip()}; the rest: reset and view)")  # fmt: skip
    print(f"  (building the {len(models):,} pydantic models from the dicts, not part of the "
          f"model: {ms(pydantic_time).strip()})")  # fmt: skip
    del models
    model = bench.view.registry_model()
    results: dict[str, Any] = {"load": loads["dicts (cache)"]}
    for label, column in ORDERS:
        model.sort(column, Qt.SortOrder.AscendingOrder)
        times, repainted, p95s = bench.keystroke_runs(model.set_filter, KEY_RUNS)
        results[label], results[label + " repainted"] = times, repainted
        print_keys(label, times, repainted, p95s)
    model.set_filter("")
    model.sort(-1)
    results["sorts"] = bench.sorts(model.sort)
    model.sort(-1)
    print_sorts(results["sorts"], " (the first computes the column's keys)")
    bench.view.setModel(None)
    results["memory"] = memory("ours", len(bench.items))
    print_memory(results["memory"])
    return results


def bench_baseline(bench: Bench, runs: int) -> dict[str, Any]:
    """QStandardItemModel + QSortFilterProxyModel: the same measurements."""
    print("\nQStandardItemModel + QSortFilterProxyModel")
    proxy = new_proxy()
    bench.view.setModel(proxy)
    totals = []
    for _ in range(runs):
        proxy.setSourceModel(None)
        bench.settle()
        gc.collect()

        def fill() -> None:
            proxy.setSourceModel(standard_model(bench.items, bench.titles))

        totals.append(bench.timed(fill))
    results: dict[str, Any] = {"load": statistics.median(totals)}
    print(f"  load from dicts (cache)   {ms(results['load'])} median of {runs}")
    for label, column in ORDERS:
        proxy.sort(column, Qt.SortOrder.AscendingOrder)
        times, repainted = bench.keystrokes(proxy.setFilterFixedString)
        results[label], results[label + " repainted"] = times, repainted
        print_keys(label, times, repainted)
    proxy.setFilterFixedString("")
    proxy.sort(-1)
    results["sorts"] = bench.sorts(proxy.sort)
    print_sorts(results["sorts"], "")
    bench.view.setModel(None)
    results["memory"] = memory("standard", len(bench.items))
    print_memory(results["memory"], " (Python objects only)")
    return results


def print_ratios(ours: dict[str, Any], base: dict[str, Any]) -> None:
    print("\nRatios (QStandardItemModel + proxy / ChatRegistryModel)")
    print(f"  load                      {base['load'] / ours['load']:8.1f}x")
    for label, _column in ORDERS:
        key = label + " repainted"  # the others cost ChatRegistryModel next to nothing
        p50 = percentile(base[key], 0.5) / percentile(ours[key], 0.5)
        p95 = percentile(base[label], 0.95) / percentile(ours[label], 0.95)
        print(f"  keystroke, {label:15}  p95 {p95:6.1f}x   p50 of those changing rows {p50:5.1f}x")
    ours_sort = sum(down for _up, down in ours["sorts"].values())
    base_sort = sum(down for _up, down in base["sorts"].values())
    print(f"  sort, all columns descending {base_sort / ours_sort:5.1f}x")
    growth = base["memory"]["rss_growth"] / ours["memory"]["rss_growth"]
    print(f"  RSS growth of the load    {growth:8.1f}x")


def print_targets(ours: dict[str, Any], base: dict[str, Any] | None) -> None:
    p95 = max(percentile(ours[label], 0.95) for label, _column in ORDERS)
    verdicts = [
        f"load < 0.5 s: {'met' if ours['load'] < 0.5 else 'MISSED'} ({ours['load']:.3f} s)",
        f"keystroke p95 < 30 ms: {'met' if p95 < 0.030 else 'MISSED'} ({p95 * 1000:.1f} ms)",
    ]
    if base is not None:
        ratio = base["load"] / ours["load"]
        verdicts.append(f"load >= 10x faster: {'met' if ratio >= 10 else 'MISSED'} ({ratio:.1f}x)")
    print("\nTargets: " + "; ".join(verdicts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5, help="load runs to take the median of")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--memory", choices=("ours", "standard"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    guard_singleton_refcounts()
    if args.memory:
        memory_child(args.memory, args.chats)
        return
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    started = time.perf_counter()
    items, titles = synthetic_registry(args.chats)
    print(f"{len(items):,} chats of {len(titles):,} classes (generated in "
          f"{time.perf_counter() - started:.1f} s); Python {sys.version.split()[0]}, PySide6 "
          f"{PySide6.__version__}, QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}")  # fmt: skip
    print(f"{KEYSTROKES} keystrokes: " + ", ".join(
        f"{text!r} typed then {deleted} deleted" for text, deleted in TYPING))  # fmt: skip
    bench = Bench(app, items, titles)
    ours = bench_ours(bench, args.runs)
    base = None if args.skip_baseline else bench_baseline(bench, max(1, args.runs // 2))
    if base is not None:
        print_ratios(ours, base)
    print_targets(ours, base)


if __name__ == "__main__":
    main()
