"""Server profiles: which ESh, VK ID and Sferum servers to talk to, and how to reach them.

A region's IT staff describe their servers in `profiles.toml` in the user's config folder
(`paths.config_dir()`); each profile has the three base URLs, the VK ID application id, and
optionally a proxy and a CA bundle (Russian services often need the Минцифры root CA, which
stock trust stores lack). `SFERUM_DESKTOP_ESH_URL`, `…_VKID_URL` and `…_SFERUM_URL` override
the URLs of the configured profiles (`spec/cli.md`). The «Демо» profile is always there: it
points at the sandbox that `--demo` starts.

```toml
default = "Новоозёрск"

[profiles."Новоозёрск"]
esh_url = "https://esh.novoozersk.example"
vkid_url = "https://id.vk.com"
sferum_url = "https://api.vk.com"
vkid_client_id = "51900001"
esia_client_id = "sferum-desktop"
proxy = "http://proxy.school.local:3128"
ca_bundle = "/usr/local/share/ca-certificates/russian_trusted_root_ca.crt"
```
"""

from __future__ import annotations

import hashlib
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from sferum_desktop import paths
from sferum_desktop.api.transport import Verify

log = logging.getLogger("sferum_desktop.auth.profiles")

DEMO_NAME: Final = "Демо"
PROFILES_FILE: Final = "profiles.toml"
ENV_PROFILE_NAME: Final = "Из переменных окружения"

# The sandbox registers «ЭлЖур» under this VK ID application id and ESIA client id.
DEMO_VKID_CLIENT_ID: Final = "51900001"
DEFAULT_ESIA_CLIENT_ID: Final = "sferum-desktop"
DEFAULT_VKID_URL: Final = "https://id.vk.com"
DEFAULT_SFERUM_URL: Final = "https://api.vk.com"

ENV_ESH_URL: Final = "SFERUM_DESKTOP_ESH_URL"
ENV_VKID_URL: Final = "SFERUM_DESKTOP_VKID_URL"
ENV_SFERUM_URL: Final = "SFERUM_DESKTOP_SFERUM_URL"

_KEYS: Final = frozenset(
    {
        "esh_url",
        "vkid_url",
        "sferum_url",
        "vkid_client_id",
        "esia_client_id",
        "proxy",
        "ca_bundle",
    }
)

EXAMPLE: Final = """\
# Профили серверов Sferum Desktop. Раскомментируйте и заполните для своего региона.
# Переменные окружения SFERUM_DESKTOP_ESH_URL, SFERUM_DESKTOP_VKID_URL и
# SFERUM_DESKTOP_SFERUM_URL заменяют адреса настроенных профилей.
#
# default = "Мой регион"
#
# [profiles."Мой регион"]
# esh_url = "https://esh.example.ru"
# vkid_url = "https://id.vk.com"
# sferum_url = "https://api.vk.com"
# vkid_client_id = "идентификатор приложения VK ID"
# esia_client_id = "sferum-desktop"
# proxy = "http://proxy.school.local:3128"          # необязательно
# ca_bundle = "/путь/к/russian_trusted_root_ca.pem"  # необязательно: корневой сертификат Минцифры
"""


class ProfileError(Exception):
    """The profiles file cannot be used; `user_message` says why, in Russian."""

    def __init__(self, user_message: str) -> None:
        self.user_message = user_message
        super().__init__(user_message)


@dataclass(frozen=True)
class ServerProfile:
    """One set of servers: ESh, VK ID and Sferum base URLs and how to connect to them."""

    name: str
    esh_url: str
    vkid_url: str = DEFAULT_VKID_URL
    sferum_url: str = DEFAULT_SFERUM_URL
    vkid_client_id: str = ""
    esia_client_id: str = DEFAULT_ESIA_CLIENT_ID
    proxy: str | None = None
    ca_bundle: Path | None = None
    demo: bool = False
    overridden: tuple[str, ...] = field(default=(), compare=False)  # env variables applied

    @property
    def verify(self) -> Verify:
        """httpx's TLS verification: the profile's CA bundle, else the system's trust store."""
        return self.ca_bundle if self.ca_bundle is not None else True

    @property
    def ready(self) -> bool:
        """Whether the profile can be used (the «Демо» one only once its sandbox runs)."""
        return bool(self.esh_url)

    @property
    def key(self) -> str:
        """The keyring and cache key: tokens of one server are never sent to another.

        The demo's sandbox gets a new port at every start, so its key is its name alone.
        """
        if self.demo:
            return "demo"
        digest = hashlib.sha256(f"{self.esh_url}\n{self.vkid_url}".encode()).hexdigest()[:12]
        return f"profile-{digest}"

    def at_sandbox(self, base_url: str) -> ServerProfile:
        """This (demo) profile pointed at a sandbox's base URL."""
        root = base_url.rstrip("/")
        return replace(self, esh_url=root, vkid_url=f"{root}/vkid", sferum_url=f"{root}/sferum")


def demo_profile(base_url: str | None = None) -> ServerProfile:
    """The «Демо» profile; without `base_url` it is not ready until the sandbox starts."""
    profile = ServerProfile(
        name=DEMO_NAME, esh_url="", vkid_client_id=DEMO_VKID_CLIENT_ID, demo=True
    )
    return profile.at_sandbox(base_url) if base_url else profile


def profiles_path() -> Path:
    """The profiles file in the user's config folder."""
    return paths.config_dir() / PROFILES_FILE


def site_profiles_path() -> Path:
    """The machine-wide profiles file (IT staff's), read before the user's own."""
    return paths.site_config_dir() / PROFILES_FILE


@dataclass(frozen=True)
class ProfileSet:
    """The configured profiles (file order, then «Демо») and the default one's name."""

    profiles: tuple[ServerProfile, ...]
    default: str | None = None
    problem: str | None = None  # a Russian message when the file could not be used

    def names(self) -> list[str]:
        return [p.name for p in self.profiles]

    def get(self, name: str) -> ServerProfile | None:
        return next((p for p in self.profiles if p.name == name), None)

    def with_profile(self, profile: ServerProfile) -> ProfileSet:
        """The set with `profile` replacing the one of the same name."""
        items = tuple(profile if p.name == profile.name else p for p in self.profiles)
        return replace(self, profiles=items)


def _url(value: Any, what: str, profile: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"Профиль «{profile}»: не указан адрес {what}.")
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProfileError(f"Профиль «{profile}»: «{value}» — не адрес http(s) для {what}.")
    return url


def _text(value: Any, key: str, profile: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProfileError(f"Профиль «{profile}»: значение «{key}» должно быть строкой.")
    return value.strip() or None


def _profile(name: str, raw: Any, base: Path) -> ServerProfile:
    if not isinstance(raw, dict):
        raise ProfileError(f"Профиль «{name}» описан неверно: ожидалась таблица [profiles.…].")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ProfileError(f"Профиль «{name}»: неизвестные параметры {', '.join(unknown)}.")
    proxy = _text(raw.get("proxy"), "proxy", name)
    if proxy is not None and urlsplit(proxy).scheme not in ("http", "https", "socks5"):
        raise ProfileError(f"Профиль «{name}»: прокси «{proxy}» должен начинаться с http://.")
    ca_text = _text(raw.get("ca_bundle"), "ca_bundle", name)
    ca_bundle = None
    if ca_text is not None:
        ca_bundle = Path(ca_text).expanduser()
        if not ca_bundle.is_absolute():
            ca_bundle = base / ca_bundle
        if not ca_bundle.is_file():
            raise ProfileError(
                f"Профиль «{name}»: файл сертификатов «{ca_bundle}» не найден. Укажите путь к "
                "корневому сертификату (например, Минцифры) в формате PEM."
            )
    return ServerProfile(
        name=name,
        esh_url=_url(raw.get("esh_url"), "сервера ЭШ (esh_url)", name),
        vkid_url=_url(raw.get("vkid_url", DEFAULT_VKID_URL), "VK ID (vkid_url)", name),
        sferum_url=_url(raw.get("sferum_url", DEFAULT_SFERUM_URL), "Сферума (sferum_url)", name),
        vkid_client_id=_text(raw.get("vkid_client_id"), "vkid_client_id", name) or "",
        esia_client_id=_text(raw.get("esia_client_id"), "esia_client_id", name)
        or DEFAULT_ESIA_CLIENT_ID,
        proxy=proxy,
        ca_bundle=ca_bundle,
    )


def parse_profiles(text: str, base: Path) -> tuple[list[ServerProfile], str | None]:
    """The profiles and default name in a TOML text; `ProfileError` when it is unusable."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"Файл профилей серверов содержит ошибку: {exc}.") from None
    table = data.get("profiles", {})
    if not isinstance(table, dict):
        raise ProfileError("В файле профилей «profiles» должно быть таблицей профилей.")
    profiles = []
    for name, raw in table.items():
        if name == DEMO_NAME:
            raise ProfileError(f"Имя «{DEMO_NAME}» занято учебной средой: выберите другое.")
        profiles.append(_profile(name, raw, base))
    default = data.get("default")
    if default is not None and not isinstance(default, str):
        raise ProfileError("«default» в файле профилей должно быть именем профиля.")
    return profiles, default


def apply_env(profile: ServerProfile, env: Mapping[str, str]) -> ServerProfile:
    """The profile with the URL overrides from the environment (never the «Демо» one)."""
    if profile.demo:
        return profile

    def url(variable: str, current: str) -> str:
        value = env.get(variable, "").strip()
        return _url(value, variable, profile.name) if value else current

    applied = tuple(
        v for v in (ENV_ESH_URL, ENV_VKID_URL, ENV_SFERUM_URL) if env.get(v, "").strip()
    )
    if not applied:
        return profile
    return replace(
        profile,
        esh_url=url(ENV_ESH_URL, profile.esh_url),
        vkid_url=url(ENV_VKID_URL, profile.vkid_url),
        sferum_url=url(ENV_SFERUM_URL, profile.sferum_url),
        overridden=applied,
    )


def _read_profiles(path: Path) -> tuple[list[ServerProfile], str | None, str | None]:
    """(profiles, default name, problem) of one profiles file; a missing file is empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], None, None
    except OSError as exc:
        return [], None, f"Не удалось прочитать файл профилей серверов ({exc.strerror})."
    if not text:
        return [], None, None
    try:
        configured, default = parse_profiles(text, path.parent)
    except ProfileError as exc:
        log.warning("the profiles file is not usable")
        return [], None, exc.user_message
    return configured, default, None


def load_profiles(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    demo_url: str | None = None,
    site_path: Path | None = None,
) -> ProfileSet:
    """Every usable profile: the files' (with env overrides), an env-only one, then «Демо».

    The machine-wide file (`site_profiles_path()`, for IT staff to point every user of a
    workstation at the region's servers) is read first; the user's own file adds profiles
    and replaces a machine-wide one of the same name, and its `default` wins. The
    machine-wide file is read when `path` is not given (the app) or `site_path` is.
    A broken file does not stop the app: its problem is reported and «Демо» remains.
    """
    env = os.environ if env is None else env
    if site_path is None and path is None:
        site_path = site_profiles_path()
    path = path or profiles_path()
    problems = []
    site: list[ServerProfile] = []
    site_default: str | None = None
    if site_path is not None and site_path != path:
        site, site_default, site_problem = _read_profiles(site_path)
        if site_problem:
            problems.append(f"{site_problem} ({site_path})")
    own, default, problem = _read_profiles(path)
    if problem:
        problems.append(problem)
    own_names = {p.name for p in own}
    configured = [p for p in site if p.name not in own_names] + own
    default = default or site_default
    try:
        configured = [apply_env(p, env) for p in configured]
        if not configured and env.get(ENV_ESH_URL, "").strip():
            configured = [apply_env(ServerProfile(name=ENV_PROFILE_NAME, esh_url=""), env)]
    except ProfileError as exc:
        problems.append(exc.user_message)
        configured = []
    names = [p.name for p in configured]
    if default not in names:
        default = names[0] if names else None
    problem_text = " ".join(problems) or None
    return ProfileSet((*configured, demo_profile(demo_url)), default, problem_text)


def write_example(path: Path | None = None) -> bool:
    """Put a commented example profiles file in place when there is none; whether it did."""
    path = path or profiles_path()
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(EXAMPLE, encoding="utf-8")
    return True
