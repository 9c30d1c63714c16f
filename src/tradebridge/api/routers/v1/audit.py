"""`GET /audit`: the audit log, for admins."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BeforeValidator
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from tradebridge.api.audit_writer import AuditWriter
from tradebridge.api.deps import Admin
from tradebridge.api.encoding import json_response
from tradebridge.api.openapi import returns
from tradebridge.domain.errors import Forbidden
from tradebridge.store.audit import AuditEntry, AuditFilter, list_audit

router = APIRouter(tags=["audit"])


def _not_a_number(value: object) -> object:
    """pydantic reads a number as seconds since 1970; the parameter is documented (and
    meant) as an ISO-8601 time."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError("give an ISO-8601 time with its offset, e.g. 2026-01-02T09:30:00+08:00")
    return value


Time = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]


@router.get(
    "/audit",
    summary="Who did what, when, from where, with what result",
    responses=returns(list[AuditEntry]),
)
async def audit(
    request: Request,
    principal: Admin,
    actor: Annotated[str | None, Query(description="Username (for logins: the one tried)")] = None,
    action: Annotated[str | None, Query(description="Start of the action: `place order`")] = None,
    path: Annotated[str | None, Query(description="Start of the path: `/api/v1/paper`")] = None,
    account: str | None = None,
    status: Annotated[int | None, Query(ge=100, le=599, description="HTTP status")] = None,
    result: Annotated[str | None, Query(description="`ok` or an error code")] = None,
    since: Annotated[Time | None, Query(description="At or after (ISO-8601)")] = None,
    until: Annotated[Time | None, Query(description="Before (ISO-8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[
        int | None, Query(ge=0, lt=2**63, description="An entry id: the entries after it")
    ] = None,
) -> Response:
    """Every login attempt and every mutating request (POST, PUT, PATCH, DELETE), whatever its
    result. Ascending by id; without `after`: the latest `limit` entries. The log covers every
    account, so a key bound to one account may not read it."""
    if principal.account is not None:
        raise Forbidden(
            "the audit log covers every account; use an admin key bound to none",
            {"account": principal.account},
        )
    where = AuditFilter(
        actor=actor,
        action=action,
        path=path,
        account=account,
        status=status,
        result=result,
        since=since,
        until=until,
    )
    writer: AuditWriter | None = request.app.state.audit
    if writer is not None:
        await writer.flush()  # this worker's own rows are all there
    db = request.app.state.db

    def read() -> list[AuditEntry]:
        with db.connect() as conn:
            return list_audit(conn, where, limit=limit, after=after)

    return json_response(await run_in_threadpool(read))
