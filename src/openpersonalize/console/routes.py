"""The console's routes under /console: pages, form actions and the static files. Every page and
action runs in the caller's scope (signed in when the server has --credentials), and never shows a
stack trace: a service error is a message on the page, anything else a short apology (the log has
the rest)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from openpersonalize.api.auth import Key
from openpersonalize.api.rest import item_rows
from openpersonalize.console import actions, charts, session
from openpersonalize.console.pages import Pages, pretty
from openpersonalize.errors import InvalidInput, ServiceError
from openpersonalize.scope import Scope
from openpersonalize.serving.runtime import Runtime

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
MAX_FORM_BYTES = 256 << 10
Handler = Callable[[Request, Scope], Awaitable[Response]]


class Console:
    def __init__(
        self, pages: Pages, runtime_call: actions.Runtime, runtime: Runtime, keys: dict[str, Key], region: str,
        account: str,
    ) -> None:  # fmt: skip
        self.pages, self.runtime_call, self.runtime = pages, runtime_call, runtime
        self.keys, self.region, self.account = keys, region, account
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape())
        self.env.filters.update(pretty=pretty, when=_when, short=_short, percent=_percent)
        self.env.globals.update(quote=quote)

    def routes(self) -> list[BaseRoute]:
        page, post = self._guard, self._guard
        return [Mount("/console", routes=[
            Route("/", page(self.home)),
            Route("/login", self.login, methods=["GET", "POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/jobs", page(self.jobs)),
            Route("/resource", page(self.resource)),
            Route("/activity", page(self.activity)),
            Route("/delete", page(self.confirm_delete)),
            Route("/delete", post(self.delete), methods=["POST"]),
            Route("/import", post(self.form_action(actions.start_import)), methods=["POST"]),
            Route("/train", post(self.form_action(actions.train)), methods=["POST"]),
            Route("/deploy", post(self.form_action(actions.deploy)), methods=["POST"]),
            Route("/batch-inference", post(self.form_action(actions.batch_inference)), methods=["POST"]),
            Route("/solutions", post(self.form_action(actions.create_solution)), methods=["POST"]),
            Route("/filters", post(self.form_action(actions.create_filter)), methods=["POST"]),
            Route("/event-trackers", post(self.form_action(actions.create_event_tracker)), methods=["POST"]),
            Route("/recommender-state", post(self.form_action(actions.start_or_stop_recommender)),
                  methods=["POST"]),
            Route("/experiments", page(self.experiments)),
            Route("/experiments", post(self.create_experiment), methods=["POST"]),
            Route("/experiments/{name}", page(self.experiment)),
            Route("/experiments/{name}/stop", post(self.stop_experiment), methods=["POST"]),
            Route("/experiments/{name}/delete", post(self.delete_experiment), methods=["POST"]),
            Route("/try", page(self.try_page)),
            Route("/try", post(self.try_answer), methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ])]  # fmt: skip

    # -- sign-in ----------------------------------------------------------------------------------
    def _guard(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            try:
                refused = self._refusal(request)
                if refused is not None:
                    return refused
                account = self._account(request) or self.account
                return await handler(request, Scope(self.region, account))
            except ServiceError as error:
                status = error.rest_status if 400 <= error.rest_status < 500 else 400
                return self.render(
                    request, "message.html", {"title": error.code, "message": str(error)}, status
                )
            except Exception:
                log.exception("console page %s failed", request.url.path)
                return self.render(request, "message.html", {"title": "Something went wrong",
                                   "message": "The server could not show this page; its log has the details."}, 500)  # fmt: skip

        return guarded

    def _account(self, request: Request) -> str | None:
        """The signed-in caller's account (None: no credentials configured, the default one)."""
        if not self.keys:
            return None
        return session.account_of(self.keys, request.cookies.get(session.COOKIE, ""),
                                  request.headers.get("authorization", ""))  # fmt: skip

    def _cross_site(self, request: Request) -> Response | None:
        """403 for a form posted from another site (browsers name the page it came from)."""
        if request.method != "POST" or _same_origin(request):
            return None
        return self.render(request, "message.html", {"title": "Refused",
                           "message": "A form from another site cannot act on this console."}, 403)  # fmt: skip

    def _refusal(self, request: Request) -> Response | None:
        """Why this request may not go on: a form from another site, or nobody signed in."""
        refused = self._cross_site(request)
        if refused is not None:
            return refused
        if not self.keys or self._account(request) is not None:
            return None
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        login = f"/console/login?next={quote(target)}"
        if request.headers.get("hx-request") == "true":  # a refreshing part of a page: the whole page goes
            return Response(status_code=401, headers={"HX-Redirect": login})
        if request.method == "GET":
            return RedirectResponse(login, status_code=303)
        return self.render(request, "message.html", {"title": "Sign in first",
                           "message": "Your session has ended: sign in again."}, 401)  # fmt: skip

    async def login(self, request: Request) -> Response:
        target = request.query_params.get("next") or "/console/"
        if not target.startswith("/console"):
            target = "/console/"
        if not self.keys:
            return RedirectResponse(target, status_code=303)
        if request.method == "GET":
            return self.render(request, "login.html", {"next": target})
        refused = self._cross_site(request)  # nobody is signed in to another's account from elsewhere
        if refused is not None:
            return refused
        form = await _form(request)
        cookie = session.sign_in(self.keys, form.get("accessKeyId", ""), form.get("secretAccessKey", ""))
        if cookie is None:
            return self.render(request, "login.html", {"next": target, "error":
                               "That access key id and secret access key do not match the server's credentials."}, 401)  # fmt: skip
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(session.COOKIE, cookie, max_age=session.LIFETIME_SECONDS, httponly=True,
                            samesite="strict", path="/console", secure=request.url.scheme == "https")  # fmt: skip
        return response

    async def logout(self, request: Request) -> Response:
        refused = self._cross_site(request)
        if refused is not None:
            return refused
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(session.COOKIE, path="/console")
        return response

    # -- pages ----------------------------------------------------------------------------------
    async def home(self, request: Request, scope: Scope) -> Response:
        return self.render(request, "home.html", await run_in_threadpool(self.pages.home, scope))

    async def jobs(self, request: Request, scope: Scope) -> Response:
        found = await run_in_threadpool(self.pages.jobs, scope)
        fragment = request.headers.get("hx-request") == "true"
        return self.render(request, "jobs_table.html" if fragment else "jobs.html", found)

    async def resource(self, request: Request, scope: Scope, error: str | None = None,
                       form: dict[str, str] | None = None) -> Response:  # fmt: skip
        arn = request.query_params.get("arn") or (form or {}).get("from") or ""
        found = await run_in_threadpool(self.pages.resource, scope, arn)
        return self.render(
            request, "resource.html", {**found, "error": error, "form": form or {}}, 400 if error else 200
        )

    async def activity(self, request: Request, scope: Scope) -> Response:
        """The traffic charts alone, for the campaign and recommender pages to refresh."""
        arn = request.query_params.get("arn") or ""
        await run_in_threadpool(self.pages.resource, scope, arn)  # exists, and is the caller's
        return self.render(request, "activity.html", self.pages.traffic(arn))

    async def confirm_delete(self, request: Request, scope: Scope) -> Response:
        found = await run_in_threadpool(self.pages.resource, scope, request.query_params.get("arn") or "")
        return self.render(request, "confirm_delete.html", found)

    async def delete(self, request: Request, scope: Scope) -> Response:
        arn = (await _form(request)).get("arn", "")
        parent = await run_in_threadpool(actions.delete, self.pages, scope, arn)
        return RedirectResponse(_resource_url(parent) if parent else "/console/", status_code=303)

    def form_action(self, act: Callable[[Pages, Scope, Any], str]) -> Handler:
        """A form that makes or changes a resource: on to its page, or back to the form's page
        (``from``) with the reason and what was typed."""

        async def run(request: Request, scope: Scope) -> Response:
            form = await _form(request)
            try:
                made = await run_in_threadpool(act, self.pages, scope, form)
            except ServiceError as error:  # the page the form was on, with what was typed
                if not form.get("from"):
                    raise
                return await self.resource(request, scope, error=f"{error.code}: {error}", form=form)
            return RedirectResponse(_resource_url(made), status_code=303)

        return run

    async def experiments(self, request: Request, scope: Scope, error: str | None = None,
                          form: dict[str, str] | None = None) -> Response:  # fmt: skip
        def gather() -> dict[str, Any]:
            attributions = [a for g in self.pages.listing(scope, "dataset-group")
                            for a in self.pages.listing(scope, "metric-attribution", datasetGroupArn=g["datasetGroupArn"])]  # fmt: skip
            return {"experiments": [self.pages.book.view(e) for e in self.pages.book.list(scope)],
                    "attributions": attributions, **self.pages.targets(scope)}  # fmt: skip

        found = await run_in_threadpool(gather)
        return self.render(
            request, "experiments.html", {**found, "error": error, "form": form or {}}, 400 if error else 200
        )

    async def create_experiment(self, request: Request, scope: Scope) -> Response:
        form = await _form(request)
        try:
            name = await run_in_threadpool(actions.create_experiment, self.pages, scope, form)
        except ServiceError as error:
            return await self.experiments(request, scope, error=f"{error.code}: {error}", form=form)
        return RedirectResponse(f"/console/experiments/{quote(name)}", status_code=303)

    async def experiment(self, request: Request, scope: Scope) -> Response:
        found = await run_in_threadpool(self.pages.experiment, scope, request.path_params["name"])
        fragment = request.headers.get("hx-request") == "true"
        return self.render(request, "experiment_results.html" if fragment else "experiment.html", found)

    async def stop_experiment(self, request: Request, scope: Scope) -> Response:
        book = self.pages.book
        await run_in_threadpool(lambda: book.stop(book.get(scope, request.path_params["name"])))
        return RedirectResponse(f"/console/experiments/{quote(request.path_params['name'])}", status_code=303)

    async def delete_experiment(self, request: Request, scope: Scope) -> Response:
        book = self.pages.book
        await run_in_threadpool(lambda: book.delete(book.get(scope, request.path_params["name"])))
        return RedirectResponse("/console/experiments", status_code=303)

    async def try_page(self, request: Request, scope: Scope) -> Response:
        found = await run_in_threadpool(self.pages.targets, scope)
        chosen = request.query_params.get("target", "")
        return self.render(request, "try.html", {**found, "form": {"target": chosen}})

    async def try_answer(self, request: Request, scope: Scope) -> Response:
        form = await _form(request)
        context: dict[str, Any] = {"form": form}
        found = await run_in_threadpool(self.pages.targets, scope)
        recipe = next((t["recipe"] for t in found["targets"] if t["arn"] == form.get("target")), "")
        try:
            target, answer = await actions.try_it(self.runtime_call, scope, form, recipe)
            if "actionList" in answer:
                listed = [{"itemId": a["actionId"], "score": a.get("score")} for a in answer["actionList"]]
                kind = "ACTIONS"
            else:
                listed, kind = answer.get("itemList") or answer.get("personalizedRanking") or [], "ITEMS"
            ids = [i["itemId"] for i in listed]
            rows = await run_in_threadpool(item_rows, self.runtime, target, ids, kind)
            columns = sorted({c for row in rows for c in row if c not in ("ITEM_ID", "ACTION_ID")})
            context.update(items=[{**i, "metadata": row} for i, row in zip(listed, rows, strict=True)],
                           columns=columns, recommendationId=answer.get("recommendationId"),
                           kind="Action" if kind == "ACTIONS" else "Item")  # fmt: skip
            status = 200
        except ServiceError as error:
            context["answer_error"], status = f"{error.code}: {error}", 400
        if request.headers.get("hx-request") == "true":
            return self.render(request, "try_answer.html", context, status)
        return self.render(request, "try.html", {**found, **context}, status)

    # -- rendering ------------------------------------------------------------------------------
    def render(self, request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
        html = self.env.get_template(template).render(
            request=request, signed_in=bool(self.keys), charts=charts, **context
        )
        return HTMLResponse(html, status_code=status)


async def _form(request: Request) -> dict[str, str]:
    """A URL-encoded form (every console form is one), refused past MAX_FORM_BYTES."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise InvalidInput(f"The form is over {MAX_FORM_BYTES} bytes.")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _resource_url(arn: str) -> str:
    return f"/console/resource?arn={quote(arn, safe='')}"


def _same_origin(request: Request) -> bool:
    """Browsers name the page a form came from; a form from elsewhere must not act here."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return origin.split("://", 1)[-1] == request.headers.get("host", "")


def _when(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or not seconds:
        return ""
    return charts.clock(float(seconds), with_day=True) + " UTC"


def _short(arn: Any) -> str:
    text = str(arn or "")
    return text.split(":", 5)[-1] if text.startswith("arn:") else text


def _percent(value: Any) -> str:
    return f"{float(value) * 100:.0f}%" if isinstance(value, int | float) else ""
