"""The game day's web app (Starlette, served by uvicorn): a page per trainee, the facilitator's page, each drill's
debrief, and their live streams (server-sent events, two a second).

Access: every page sits under a secret token in its URL (/t/<trainee token>, /f/<facilitator token>); a trainee's
token opens only their own drill, and only the facilitator's shows the scenarios and faults. Served on anything
but the loopback interface, every request also needs the game day's password (HTTP basic authentication).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from lab.gameday.game import GameDay, Trainee

STREAM_EVERY_S = 0.5
NOT_FOUND = PlainTextResponse("not found: ask your facilitator for your link", status_code=404)


def build_app(game: GameDay, password: str | None = None) -> Starlette:
    templates = Environment(loader=PackageLoader("lab.gameday", "templates"), undefined=StrictUndefined,
                            autoescape=select_autoescape(["html"]))

    def page(template: str, **context: Any) -> HTMLResponse:
        return HTMLResponse(templates.get_template(template).render(**context),
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    def trainee_of(request: Request) -> Trainee | None:
        return game.trainee(request.path_params["token"])

    def facilitator(request: Request) -> bool:
        return game.is_facilitator(request.path_params["token"])

    async def trainee_page(request: Request) -> Response:
        trainee = trainee_of(request)
        if trainee is None:
            return NOT_FOUND
        return page("trainee.html", name=trainee.name, base=f"/t/{trainee.token}")

    async def trainee_stream(request: Request) -> Response:
        trainee = trainee_of(request)
        if trainee is None:
            return NOT_FOUND
        return _stream(game, lambda: trainee.trainee_snapshot(datetime.now(UTC)))

    async def trainee_action(request: Request) -> Response:
        trainee = trainee_of(request)
        if trainee is None:
            return NOT_FOUND
        body = await _json_body(request)
        reply = await run_in_threadpool(trainee.act, request.path_params["op"], str(body.get("text", "")))
        return JSONResponse(reply)

    async def trainee_debrief(request: Request) -> Response:
        trainee = trainee_of(request)
        if trainee is None:
            return NOT_FOUND
        return _debrief(trainee, f"/t/{trainee.token}/report", back=f"/t/{trainee.token}")

    async def trainee_report(request: Request) -> Response:
        trainee = trainee_of(request)
        if trainee is None:
            return NOT_FOUND
        return await _report(trainee)

    async def facilitator_page(request: Request) -> Response:
        if not facilitator(request):
            return NOT_FOUND
        base = f"/f/{game.facilitator_token}"
        links = {t.plan.index: f"/t/{t.token}" for t in game.trainees}
        return page("facilitator.html", base=base, links=links, directory=str(game.directory), engines=game.engines)

    async def facilitator_stream(request: Request) -> Response:
        if not facilitator(request):
            return NOT_FOUND
        return _stream(game, game.facilitator_snapshot)

    async def end_drill(request: Request) -> Response:
        if not facilitator(request):
            return NOT_FOUND
        return JSONResponse(await run_in_threadpool(game.end_drill, int(request.path_params["index"])))

    async def close(request: Request) -> Response:
        if not facilitator(request):
            return NOT_FOUND
        game.closing.set()
        return JSONResponse({"ok": True, "message": "closing the game day: drills still running are ended"})

    def drill_of(request: Request) -> Trainee | None:
        return game.by_index(int(request.path_params["index"])) if facilitator(request) else None

    async def drill_debrief(request: Request) -> Response:
        trainee = drill_of(request)
        if trainee is None:
            return NOT_FOUND
        base = f"/f/{game.facilitator_token}"
        return _debrief(trainee, f"{base}/drills/{trainee.plan.index}/report", back=base)

    async def drill_report(request: Request) -> Response:
        trainee = drill_of(request)
        return NOT_FOUND if trainee is None else await _report(trainee)

    def _debrief(trainee: Trainee, report_url: str, back: str) -> Response:
        if not trainee.ended:
            return PlainTextResponse(f"{trainee.name}'s drill has not ended yet", status_code=409)
        result = trainee.view.debrief()
        scenario = trainee.plan.scenario
        return page("debrief.html", name=trainee.name, result=asdict(result), scenario=scenario,
                    fault=trainee.plan.fault, report_url=report_url, back=back,
                    timeline=trainee.view.timeline(for_facilitator=True))

    async def root(request: Request) -> Response:
        return NOT_FOUND

    routes = [
        Route("/", root),
        Route("/t/{token}", trainee_page),
        Route("/t/{token}/stream", trainee_stream),
        Route("/t/{token}/action/{op}", trainee_action, methods=["POST"]),
        Route("/t/{token}/debrief", trainee_debrief),
        Route("/t/{token}/report", trainee_report),
        Route("/f/{token}", facilitator_page),
        Route("/f/{token}/stream", facilitator_stream),
        Route("/f/{token}/drills/{index:int}/end", end_drill, methods=["POST"]),
        Route("/f/{token}/drills/{index:int}/debrief", drill_debrief),
        Route("/f/{token}/drills/{index:int}/report", drill_report),
        Route("/f/{token}/close", close, methods=["POST"]),
    ]
    middleware = [Middleware(BaseHTTPMiddleware, dispatch=_password_check(password))] if password else []
    return Starlette(routes=routes, middleware=middleware)


def _stream(game: GameDay, snapshot: Callable[[], dict[str, Any]]) -> EventSourceResponse:
    async def snapshots() -> AsyncIterator[dict[str, str]]:
        while True:
            yield {"event": "snapshot", "data": json.dumps(await run_in_threadpool(snapshot))}
            if game.closing.is_set() and game.all_ended:
                return
            await asyncio.sleep(STREAM_EVERY_S)

    return EventSourceResponse(snapshots(), ping=15, headers={"Cache-Control": "no-store"})


async def _report(trainee: Trainee) -> Response:
    if not trainee.ended:
        return PlainTextResponse(f"{trainee.name}'s drill has not ended yet", status_code=409)
    try:
        path = await run_in_threadpool(trainee.report_html)
    except Exception as exc:  # a recording too short to judge still has its debrief
        return PlainTextResponse(f"no report for this drill: {type(exc).__name__}: {exc}", status_code=500)
    return FileResponse(path, media_type="text/html")


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


Dispatch = Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]


def _password_check(password: str) -> Dispatch:
    expected = password.encode()

    async def dispatch(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        given = b""
        if scheme.lower() == "basic":
            try:
                given = base64.b64decode(encoded, validate=True).partition(b":")[2]
            except (binascii.Error, ValueError):
                given = b""
        if not secrets.compare_digest(given, expected):
            return PlainTextResponse("this game day needs its password", status_code=401,
                                     headers={"WWW-Authenticate": 'Basic realm="outage-lab game day"'})
        return await call_next(request)

    return dispatch
