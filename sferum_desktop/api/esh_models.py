"""The ESh answers outside OneRoster: the signed-in person, the Sferum chat registry, links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from sferum_desktop.api.tokens import BearerTokens

EshTokens = BearerTokens


class EshModel(BaseModel):
    """Base of ESh answers: unknown fields are ignored, required ones enforced."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class School(EshModel):
    id: str
    name: str


class LinkStatus(EshModel):
    """Whether the person's ESh account is linked to a Sferum (VK ID) educational profile."""

    status: str  # "linked" | "unlinked"
    vk_user_id: int | None = None

    @property
    def linked(self) -> bool:
        return self.status == "linked"


class Me(EshModel):
    """The signed-in person (`GET /me`); roles are ESh roles: teacher, admin, student, parent."""

    id: str
    username: str | None = None
    full_name: str
    given_name: str | None = None
    family_name: str | None = None
    middle_name: str | None = None
    roles: list[str]
    schools: list[School] = Field(default_factory=list)
    link: LinkStatus

    @property
    def is_staff(self) -> bool:
        return bool({"teacher", "admin"} & set(self.roles))


class TokenAnswer(EshModel):
    """The answer of login, refresh and the ESIA code exchange."""

    access_token: str = Field(repr=False)
    refresh_token: str = Field(repr=False)
    token_type: str = "Bearer"  # noqa: S105 (a scheme name)
    expires_in: float
    person: Me | None = None


@dataclass(frozen=True)
class Session:
    """A fresh sign-in: the tokens (for the keyring) and who signed in."""

    tokens: BearerTokens
    me: Me


class Chat(EshModel):
    """A chat of the ESh Sferum registry; `version` guards edits (`If-Match`)."""

    id: int
    name: str
    type: str  # staff | class | parents | subject | custom
    school_id: str | None = None
    class_id: str | None = None
    group_id: str | None = None
    subject: str | None = None
    admin_person_id: str | None = None
    admin_name: str | None = None
    member_count: int = 0
    linked_member_count: int = 0
    sferum_chat_id: int | None = None
    status: str  # active | archived
    version: int
    updated_at: datetime


class ChatPage(EshModel):
    """One page of `GET /chats`: its items and the total number of matches."""

    items: list[Chat]
    total: int


class Member(EshModel):
    """A person in a registry chat; `linked=False` means pending for the Sferum chat."""

    person_id: str
    full_name: str
    role_in_chat: str  # staff | student | parent
    source: str  # rule | manual
    excluded: bool = False
    blocked: bool = False
    linked: bool = False
    vk_user_id: int | None = None
    added_at: datetime | None = None


class MemberPage(EshModel):
    items: list[Member]
    total: int


class MembersAdded(EshModel):
    """`POST /chats/{id}/members`: who was actually added, and the chat's new version."""

    added: list[str]
    version: int


class MembersRemoved(EshModel):
    """`DELETE /chats/{id}/members`: who was actually removed, and the chat's new version."""

    removed: list[str]
    version: int


class Link(EshModel):
    """A person's ESh ↔ VK ID link as ESh records it."""

    person_id: str
    vk_user_id: int | None = None
    status: str  # linked | unlinked
    updated_at: datetime


class LinkPage(EshModel):
    items: list[Link]
    total: int
