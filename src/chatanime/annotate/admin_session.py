"""Who may administer a study: the admin token (bearer or login cookie) of either kind of study.

Rating studies (``admin.py``) and collection studies (``collect_admin.py``) authenticate
their admins the same way, so the rules live here once: ``Authorization: Bearer <token>``
for scripts, or an HMAC-signed cookie set after the one login form at ``/admin``. The
cookie is ``<study id>.<signature>`` over the study's admin token hash, so it holds no
secret and stops working when the token is rotated. A token grants its own study only.
Only the table, the cookie's name and path, and the signing purposes differ per kind.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Row, Table, select
from starlette.concurrency import run_in_threadpool

from chatanime.annotate.app import settings
from chatanime.annotate.security import csrf_token, hash_token, sign


@dataclass(frozen=True)
class AdminSession:
    """The admin authentication of one kind of study (its table has ``id``,
    ``admin_token_hash`` and ``secret_key`` columns)."""

    table: Table
    cookie: str
    cookie_path: str
    home: str
    """Prefix of a study's admin page: ``{home}/{study id}``."""
    purpose: str
    """What the cookie's signature is for (so a cookie of one kind is useless for the other)."""

    def study_by_token(self, request: Request, token: str) -> Row[Any] | None:
        with settings(request).store.engine.connect() as conn:
            return conn.execute(
                select(self.table).where(self.table.c.admin_token_hash == hash_token(token))
            ).first()

    def _study_by_id(self, request: Request, study_id: str) -> Row[Any] | None:
        with settings(request).store.engine.connect() as conn:
            return conn.execute(select(self.table).where(self.table.c.id == study_id)).first()

    def cookie_value(self, study: Row[Any]) -> str:
        sig = sign(study.secret_key, self.purpose, study.id, study.admin_token_hash)
        return f"{study.id}.{sig}"

    def authorised(self, request: Request) -> Row[Any] | None:
        """The study the request may administer (bearer token first, then cookie)."""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return self.study_by_token(request, auth[7:].strip())
        cookie = request.cookies.get(self.cookie, "")
        study_id, _, _sig = cookie.partition(".")
        study = self._study_by_id(request, study_id) if study_id else None
        if study is not None and hmac.compare_digest(self.cookie_value(study), cookie):
            return study
        return None

    def require(self, request: Request, study_id: str) -> Row[Any]:
        """The study ``study_id`` if the request may administer it; 401 / 403 otherwise."""
        study = self.authorised(request)
        if study is None:
            raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"})
        if study.id != study_id:
            raise HTTPException(403)
        return study

    def login_response(self, request: Request, study: Row[Any]) -> Response:
        """The redirect to the study's admin page that sets the signed cookie."""
        response = RedirectResponse(f"{self.home}/{study.id}", status_code=303)
        response.set_cookie(
            self.cookie,
            self.cookie_value(study),
            path=self.cookie_path,
            httponly=True,
            samesite="strict",
            secure=settings(request).secure_cookies,
        )
        return response

    def logout_csrf(self, study: Row[Any]) -> str:
        """The logout form's token, bound to the current cookie."""
        return csrf_token(study.secret_key, f"{self.purpose}-logout", self.cookie_value(study))

    async def logout(self, request: Request) -> Response:
        """Drop the admin cookie (the form carries a token bound to that cookie)."""
        form = await request.form()
        study = await run_in_threadpool(self.authorised, request)
        submitted = str(form.get("csrf", ""))
        if study is None or not hmac.compare_digest(self.logout_csrf(study), submitted):
            raise HTTPException(403)
        response = RedirectResponse("/admin", status_code=303)
        response.delete_cookie(self.cookie, path=self.cookie_path)
        return response
