"""Server profiles: the TOML file, environment overrides, the «Демо» profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from sferum_desktop import paths
from sferum_desktop.auth.profiles import (
    DEMO_NAME,
    ENV_PROFILE_NAME,
    ProfileError,
    ServerProfile,
    demo_profile,
    load_profiles,
    parse_profiles,
    profiles_path,
    site_profiles_path,
    write_example,
)

GOOD = """
default = "Новоозёрск"

[profiles."Областной"]
esh_url = "https://esh.region.example/"

[profiles."Новоозёрск"]
esh_url = "https://esh.novoozersk.example"
vkid_url = "https://id.vk.com"
sferum_url = "https://api.vk.com"
vkid_client_id = "51900001"
proxy = "http://proxy.school.local:3128"
ca_bundle = "mincifry.pem"
"""


def test_profiles_file_in_the_user_config_folder(user_dirs: Path) -> None:
    assert profiles_path() == user_dirs / ".config" / "sferum-desktop" / "profiles.toml"
    assert paths.log_dir().is_relative_to(user_dirs)


def test_a_full_profiles_file(user_dirs: Path) -> None:
    path = profiles_path()
    path.parent.mkdir(parents=True)
    path.write_text(GOOD, encoding="utf-8")
    (path.parent / "mincifry.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    found = load_profiles(env={})
    assert found.problem is None
    assert found.names() == ["Областной", "Новоозёрск", DEMO_NAME]
    assert found.default == "Новоозёрск"
    regional = found.get("Новоозёрск")
    assert regional is not None
    assert regional.proxy == "http://proxy.school.local:3128"
    assert regional.ca_bundle == path.parent / "mincifry.pem"
    assert regional.verify == regional.ca_bundle  # httpx trusts the Минцифры CA
    assert regional.vkid_client_id == "51900001"
    other = found.get("Областной")
    assert other is not None and other.esh_url == "https://esh.region.example"
    assert other.vkid_url == "https://id.vk.com" and other.verify is True
    assert other.key != regional.key  # tokens of one server are never sent to another
    demo = found.get(DEMO_NAME)
    assert demo is not None and demo.demo and not demo.ready


def test_environment_overrides_the_urls() -> None:
    profiles, _ = parse_profiles(GOOD.replace('ca_bundle = "mincifry.pem"\n', ""), Path("/"))
    env = {
        "SFERUM_DESKTOP_ESH_URL": "https://esh.test.example",
        "SFERUM_DESKTOP_SFERUM_URL": "https://sferum.test.example",
    }
    path = Path(paths.config_dir()) / "profiles.toml"
    path.parent.mkdir(parents=True)
    path.write_text(GOOD.replace('ca_bundle = "mincifry.pem"\n', ""), encoding="utf-8")
    found = load_profiles(env=env)
    for profile in found.profiles:
        if profile.demo:
            assert not profile.ready  # the demo's sandbox is never overridden
            continue
        assert profile.esh_url == "https://esh.test.example"
        assert profile.sferum_url == "https://sferum.test.example"
        assert profile.vkid_url == "https://id.vk.com"
        assert profile.overridden == ("SFERUM_DESKTOP_ESH_URL", "SFERUM_DESKTOP_SFERUM_URL")
    assert profiles  # the file parsed on its own too


def test_environment_alone_makes_a_profile() -> None:
    found = load_profiles(env={"SFERUM_DESKTOP_ESH_URL": "http://127.0.0.1:9"})
    assert found.names() == [ENV_PROFILE_NAME, DEMO_NAME]
    assert found.default == ENV_PROFILE_NAME


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[profiles.x\n", "Файл профилей серверов содержит ошибку"),
        ('[profiles."A"]\nesh_url = "ftp://x"\n', "не адрес http(s)"),
        ('[profiles."A"]\nvkid_url = "https://id.vk.com"\n', "не указан адрес сервера ЭШ"),
        ('[profiles."A"]\nesh_url = "https://e.example"\nsecret = "x"\n', "неизвестные"),
        ('[profiles."A"]\nesh_url = "https://e.example"\nca_bundle = "/nope.pem"\n', "не найден"),
        ('[profiles."Демо"]\nesh_url = "https://e.example"\n', "занято"),
    ],
)
def test_a_broken_file_is_reported_and_the_demo_remains(text: str, message: str) -> None:
    path = profiles_path()
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    found = load_profiles(env={})
    assert found.problem is not None and message in found.problem
    assert found.names() == [DEMO_NAME]
    with pytest.raises(ProfileError):
        parse_profiles(text, path.parent)


def test_the_demo_profile_points_at_the_sandbox() -> None:
    demo = demo_profile("http://127.0.0.1:8123/")
    assert (demo.esh_url, demo.vkid_url, demo.sferum_url) == (
        "http://127.0.0.1:8123",
        "http://127.0.0.1:8123/vkid",
        "http://127.0.0.1:8123/sferum",
    )
    assert demo.vkid_client_id == "51900001" and demo.esia_client_id == "sferum-desktop"
    assert demo.key == demo_profile("http://127.0.0.1:9999").key == "demo"


def test_the_example_file_is_written_once_and_parses_to_nothing() -> None:
    assert write_example()
    assert not write_example()
    text = profiles_path().read_text(encoding="utf-8")
    assert "Минцифры" in text
    assert parse_profiles(text, profiles_path().parent) == ([], None)


def test_a_profile_hides_nothing_secret_in_its_repr() -> None:
    profile = ServerProfile(name="A", esh_url="https://e.example")
    assert "A" in repr(profile)


SITE = """
default = "Регион"

[profiles."Регион"]
esh_url = "https://esh.region.ru"
vkid_client_id = "51900001"

[profiles."Тестовый контур"]
esh_url = "https://test.esh.region.ru"
"""


def test_a_machine_wide_file_serves_every_user_of_the_workstation(user_dirs: Path) -> None:
    site = site_profiles_path()
    assert site == user_dirs / "etc-xdg" / "sferum-desktop" / "profiles.toml"
    site.parent.mkdir(parents=True)
    site.write_text(SITE, encoding="utf-8")
    write_example()  # the user's own file: only the commented example
    profiles = load_profiles(env={})
    assert profiles.names() == ["Регион", "Тестовый контур", DEMO_NAME]
    assert profiles.default == "Регион" and profiles.problem is None
    assert profiles.get("Регион").esh_url == "https://esh.region.ru"  # type: ignore[union-attr]


def test_the_users_own_file_adds_and_replaces_and_its_default_wins(user_dirs: Path) -> None:
    site = site_profiles_path()
    site.parent.mkdir(parents=True)
    site.write_text(SITE, encoding="utf-8")
    own = profiles_path()
    own.parent.mkdir(parents=True)
    own.write_text(
        'default = "Свой"\n'
        '[profiles."Тестовый контур"]\nesh_url = "https://other.example.ru"\n'
        '[profiles."Свой"]\nesh_url = "https://own.example.ru"\n',
        encoding="utf-8",
    )
    profiles = load_profiles(env={})
    assert profiles.names() == ["Регион", "Тестовый контур", "Свой", DEMO_NAME]
    assert profiles.default == "Свой"
    replaced = profiles.get("Тестовый контур")
    assert replaced is not None and replaced.esh_url == "https://other.example.ru"


def test_a_broken_machine_wide_file_is_reported_and_the_users_own_still_works(
    user_dirs: Path,
) -> None:
    site = site_profiles_path()
    site.parent.mkdir(parents=True)
    site.write_text("[profiles\n", encoding="utf-8")
    own = profiles_path()
    own.parent.mkdir(parents=True)
    own.write_text('[profiles."Свой"]\nesh_url = "https://own.example.ru"\n', encoding="utf-8")
    profiles = load_profiles(env={})
    assert profiles.names() == ["Свой", DEMO_NAME]
    assert profiles.problem is not None and str(site) in profiles.problem
    # An explicit file alone (the tests' and tools' way) does not read the machine-wide one.
    assert load_profiles(own, env={}).problem is None
