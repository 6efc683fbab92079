"""Settings of the automatic sync, from `sync.toml` in the user's config folder.

```toml
[thresholds]            # the mass-removal hold (membership-rules.md «Safety»)
chat_fraction = 0.2     # hold a chat's removals above 20 % of its members …
min_chat_removals = 3   # … when there are at least 3 of them
total_fraction = 0.2    # hold every removal above 20 % of all memberships …
min_total_removals = 10 # … when there are at least 10

[sync]
full_refresh_hours = 24 # re-read the whole roster this often (deltas in between)
lock_timeout_s = 30     # wait this long for another sync of the same store to finish
```
Every key is optional; a file that is not valid TOML, an unknown key or a value of the wrong
type is a configuration error (`SyncConfigError`, exit code 2 of `sferum-desktop sync`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sferum_desktop import paths
from sferum_desktop.domain import DEFAULT_THRESHOLDS, Thresholds

CONFIG_FILE: Final = "sync.toml"

_THRESHOLD_KEYS: Final = {
    "chat_fraction": float,
    "total_fraction": float,
    "min_chat_removals": int,
    "min_total_removals": int,
}
_SYNC_KEYS: Final = {"full_refresh_hours": float, "lock_timeout_s": float}


class SyncConfigError(Exception):
    """The sync settings cannot be used; `user_message` says why, in Russian."""

    def __init__(self, user_message: str) -> None:
        self.user_message = user_message
        super().__init__(user_message)


@dataclass(frozen=True)
class SyncConfig:
    thresholds: Thresholds = field(default_factory=lambda: DEFAULT_THRESHOLDS)
    full_refresh_hours: float = 24.0
    lock_timeout_s: float = 30.0


def config_path() -> Path:
    return paths.config_dir() / CONFIG_FILE


def _number(table: str, key: str, value: Any, kind: type) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SyncConfigError(f"{CONFIG_FILE}: [{table}] {key} должно быть числом.")
    if kind is int:
        if not isinstance(value, int):
            raise SyncConfigError(f"{CONFIG_FILE}: [{table}] {key} должно быть целым числом.")
        return value
    return float(value)


def _table(data: dict[str, Any], name: str, keys: Mapping[str, type]) -> dict[str, Any]:
    raw = data.get(name, {})
    if not isinstance(raw, dict):
        raise SyncConfigError(f"{CONFIG_FILE}: «{name}» должно быть таблицей [{name}].")
    unknown = sorted(set(raw) - set(keys))
    if unknown:
        raise SyncConfigError(
            f"{CONFIG_FILE}: неизвестные параметры [{name}]: {', '.join(unknown)}."
        )
    return {key: _number(name, key, value, keys[key]) for key, value in raw.items()}


def parse_config(text: str) -> SyncConfig:
    """The settings in a TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SyncConfigError(f"{CONFIG_FILE} содержит ошибку: {exc}.") from None
    unknown = sorted(set(data) - {"thresholds", "sync"})
    if unknown:
        raise SyncConfigError(f"{CONFIG_FILE}: неизвестные разделы {', '.join(unknown)}.")
    values = _table(data, "thresholds", _THRESHOLD_KEYS)
    try:
        thresholds = Thresholds(**values) if values else DEFAULT_THRESHOLDS
    except (TypeError, ValueError):
        raise SyncConfigError(
            f"{CONFIG_FILE}: пороги — доли от 0 до 1, минимальные числа удалений — от 1."
        ) from None
    sync = _table(data, "sync", _SYNC_KEYS)
    config = SyncConfig(thresholds, **sync)
    if config.full_refresh_hours <= 0 or config.lock_timeout_s < 0:
        raise SyncConfigError(f"{CONFIG_FILE}: значения [sync] должны быть положительными.")
    return config


def load_config(path: Path | None = None) -> SyncConfig:
    """The settings file's, or the defaults when there is none."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return SyncConfig()
    except OSError as exc:
        raise SyncConfigError(f"Не удалось прочитать {path} ({exc.strerror}).") from None
    return parse_config(text)
