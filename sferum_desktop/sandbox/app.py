"""The sandbox's ASGI application: ESh, VK ID and Sferum, the control surface, injected faults."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sferum_desktop import __version__
from sferum_desktop.sandbox import auth, dev, registry, roster, sferum, vkid
from sferum_desktop.sandbox.common import EshError, SandboxState
from sferum_desktop.sandbox.faults import FaultsMiddleware

log = logging.getLogger("sferum_desktop.sandbox.app")

ROSTER_PREFIX = "/esh/ims/oneroster/rostering/v1p2"
REGISTRY_PREFIX = "/esh/api/v1/sferum"

DESCRIPTION = """\
One local server that emulates the electronic school system (ЭШ: `/esh`), VK ID (`/vkid`) and
the Sferum API (`/sferum`), plus the control surface `/sandbox/dev` for demos, training and
tests. ESh errors are `{"error", "message", "details"}` with a Russian `message`.
"""

# pydantic error type -> the Russian message shown next to the field
_FIELD_MESSAGES = {
    "missing": "Обязательное поле.",
    "string_type": "Ожидается строка.",
    "string_too_short": "Слишком короткое значение.",
    "string_too_long": "Слишком длинное значение.",
    "string_pattern_mismatch": "Значение в неверном формате.",
    "int_type": "Ожидается целое число.",
    "int_parsing": "Ожидается целое число.",
    "int_from_float": "Ожидается целое число.",
    "float_type": "Ожидается число.",
    "float_parsing": "Ожидается число.",
    "bool_type": "Ожидается «да» или «нет» (true/false).",
    "bool_parsing": "Ожидается «да» или «нет» (true/false).",
    "list_type": "Ожидается список.",
    "dict_type": "Ожидается объект.",
    "model_attributes_type": "Ожидается объект.",
    "too_short": "Слишком мало значений.",
    "too_long": "Слишком много значений.",
    "literal_error": "Недопустимое значение.",
    "enum": "Недопустимое значение.",
    "greater_than": "Значение слишком мало.",
    "greater_than_equal": "Значение слишком мало.",
    "less_than": "Значение слишком велико.",
    "less_than_equal": "Значение слишком велико.",
    "extra_forbidden": "Неизвестное поле.",
}
_PARAMETER_PLACES = frozenset({"query", "path", "header", "cookie"})


def _is_esh(request: Request) -> bool:
    path = request.url.path
    return path == "/esh" or path.startswith("/esh/")


async def _esh_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, EshError)
    return error.response()


async def _validation_error(request: Request, error: Exception) -> Response:
    """ESh-shaped 400 `bad_request` (malformed body or parameter) or 422 `validation`."""
    assert isinstance(error, RequestValidationError)
    if not _is_esh(request):
        return await request_validation_exception_handler(request, error)
    problems = list(error.errors())
    if any(p.get("type") == "json_invalid" for p in problems):
        return EshError(400, "bad_request", "Тело запроса не является корректным JSON.").response()
    if any(tuple(p.get("loc", ())) == ("body",) for p in problems):
        return EshError(
            400, "bad_request", "Тело запроса отсутствует или не является JSON-объектом."
        ).response()
    fields: dict[str, str] = {}
    for p in problems:
        loc = tuple(str(part) for part in p.get("loc", ()))
        name = (".".join(loc[1:]) or loc[0]) if loc else "?"
        fields.setdefault(name, _FIELD_MESSAGES.get(p.get("type", ""), "Некорректное значение."))
    if any(p.get("loc", ("body",))[0] in _PARAMETER_PLACES for p in problems):
        return EshError(
            400, "bad_request", "Некорректный параметр запроса.", {"fields": fields}
        ).response()
    return EshError(422, "validation", "Проверьте заполнение полей.", {"fields": fields}).response()


async def _http_error(request: Request, error: Exception) -> Response:
    """Routing errors (404, 405) on `/esh` in the ESh error shape."""
    assert isinstance(error, StarletteHTTPException)
    if not _is_esh(request):
        return await http_exception_handler(request, error)
    code, message = {
        404: ("not_found", "Не найдено."),
        405: ("method_not_allowed", "Метод не поддерживается для этого адреса."),
    }.get(error.status_code, ("bad_request", str(error.detail)))
    return JSONResponse(
        {"error": code, "message": message, "details": {}},
        status_code=error.status_code,
        headers=dict(error.headers or {}),
    )


def create_app(state: SandboxState) -> FastAPI:
    """The sandbox application over `state` (which dev routes may rebuild in place)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        state.engine.dispose()

    app = FastAPI(
        title="Sferum Desktop sandbox",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.sandbox = state
    app.add_exception_handler(EshError, _esh_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(FaultsMiddleware, state=state)

    app.include_router(auth.router)
    app.include_router(roster.router, prefix=ROSTER_PREFIX)
    app.include_router(registry.router, prefix=REGISTRY_PREFIX)
    app.include_router(dev.router, prefix="/sandbox/dev")
    app.include_router(vkid.router, prefix="/vkid")
    app.include_router(sferum.router, prefix="/sferum")
    return app
