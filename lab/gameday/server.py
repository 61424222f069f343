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


class Pages:
    """The game day's pages and their routes: a trainee's (behind their token), the facilitator's (behind theirs)."""

    def __init__(self, game: GameDay) -> None:
        self.game = game
        self.templates = Environment(loader=PackageLoader("lab.gameday", "templates"), undefined=StrictUndefined,
                                     autoescape=select_autoescape(["html"]))

    def page(self, template: str, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.templates.get_template(template).render(**context),
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    def trainee_of(self, request: Request) -> Trainee | None:
        return self.game.trainee(request.path_params["token"])

    def facilitator(self, request: Request) -> bool:
        return self.game.is_facilitator(request.path_params["token"])

    async def trainee_page(self, request: Request) -> Response:
        trainee = self.trainee_of(request)
        if trainee is None:
            return NOT_FOUND
        return self.page("trainee.html", name=trainee.name, base=f"/t/{trainee.token}")

    async def trainee_stream(self, request: Request) -> Response:
        trainee = self.trainee_of(request)
        if trainee is None:
            return NOT_FOUND
        return _stream(self.game, lambda: trainee.trainee_snapshot(datetime.now(UTC)))

    async def trainee_action(self, request: Request) -> Response:
        trainee = self.trainee_of(request)
        if trainee is None:
            return NOT_FOUND
        body = await _json_body(request)
        reply = await run_in_threadpool(trainee.act, request.path_params["op"], str(body.get("text", "")))
        return JSONResponse(reply)

    async def trainee_debrief(self, request: Request) -> Response:
        trainee = self.trainee_of(request)
        if trainee is None:
            return NOT_FOUND
        return self.debrief_page(trainee, f"/t/{trainee.token}/report", back=f"/t/{trainee.token}")

    async def trainee_report(self, request: Request) -> Response:
        trainee = self.trainee_of(request)
        if trainee is None:
            return NOT_FOUND
        return await _report(trainee)

    async def facilitator_page(self, request: Request) -> Response:
        if not self.facilitator(request):
            return NOT_FOUND
        base = f"/f/{self.game.facilitator_token}"
        links = {t.plan.index: f"/t/{t.token}" for t in self.game.trainees}
        return self.page("facilitator.html", base=base, links=links, directory=str(self.game.directory),
                         engines=self.game.engines)

    async def facilitator_stream(self, request: Request) -> Response:
        if not self.facilitator(request):
            return NOT_FOUND
        return _stream(self.game, self.game.facilitator_snapshot)

    async def end_drill(self, request: Request) -> Response:
        if not self.facilitator(request):
            return NOT_FOUND
        return JSONResponse(await run_in_threadpool(self.game.end_drill, int(request.path_params["index"])))

    async def close(self, request: Request) -> Response:
        if not self.facilitator(request):
            return NOT_FOUND
        self.game.closing.set()
        return JSONResponse({"ok": True, "message": "closing the game day: drills still running are ended"})

    def drill_of(self, request: Request) -> Trainee | None:
        return self.game.by_index(int(request.path_params["index"])) if self.facilitator(request) else None

    async def drill_debrief(self, request: Request) -> Response:
        trainee = self.drill_of(request)
        if trainee is None:
            return NOT_FOUND
        base = f"/f/{self.game.facilitator_token}"
        return self.debrief_page(trainee, f"{base}/drills/{trainee.plan.index}/report", back=base)

    async def drill_report(self, request: Request) -> Response:
        trainee = self.drill_of(request)
        return NOT_FOUND if trainee is None else await _report(trainee)

    def debrief_page(self, trainee: Trainee, report_url: str, back: str) -> Response:
        if not trainee.ended:
            return PlainTextResponse(f"{trainee.name}'s drill has not ended yet", status_code=409)
        result = trainee.view.debrief()
        scenario = trainee.plan.scenario
        return self.page("debrief.html", name=trainee.name, result=asdict(result), scenario=scenario,
                    fault=trainee.plan.fault, report_url=report_url, back=back,
                    timeline=trainee.view.timeline(for_facilitator=True))

    async def root(self, request: Request) -> Response:
        return NOT_FOUND

    def routes(self) -> list[Route]:
        return [
            Route("/", self.root),
            Route("/t/{token}", self.trainee_page),
            Route("/t/{token}/stream", self.trainee_stream),
            Route("/t/{token}/action/{op}", self.trainee_action, methods=["POST"]),
            Route("/t/{token}/debrief", self.trainee_debrief),
            Route("/t/{token}/report", self.trainee_report),
            Route("/f/{token}", self.facilitator_page),
            Route("/f/{token}/stream", self.facilitator_stream),
            Route("/f/{token}/drills/{index:int}/end", self.end_drill, methods=["POST"]),
            Route("/f/{token}/drills/{index:int}/debrief", self.drill_debrief),
            Route("/f/{token}/drills/{index:int}/report", self.drill_report),
            Route("/f/{token}/close", self.close, methods=["POST"]),
        ]


def build_app(game: GameDay, password: str | None = None) -> Starlette:
    middleware = [Middleware(BaseHTTPMiddleware, dispatch=_password_check(password))] if password else []
    return Starlette(routes=Pages(game).routes(), middleware=middleware)


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
