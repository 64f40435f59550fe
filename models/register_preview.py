"""Importing a register in two steps: a preview that says what would change (new members, the fields
of each updated one, rows unchanged, problems by line) and saves nothing, then a confirmation that
imports exactly what was previewed.

Both steps run the one import (``models.roster.import_members``): the preview as a dry run, the
confirmation for real, after checking that the same file against the same roster still gives the
very same preview (its fingerprint). A file edited since, or a roster changed since, is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from models.errors import DomainError
from models.membership import check
from models.permissions import Permission, Scope, Target, scope_of
from models.roster import ImportReport, import_members
from models.roster_files import read_uploaded_register
from models.tables import Member


@dataclass(frozen=True)
class RegisterPreview:
    name: str
    report: ImportReport  # nothing written
    fingerprint: str  # of the file and of every planned row: what the confirmation must match

    @property
    def importable(self) -> bool:
        """Whether confirming would import it: all or nothing, as in chat, so no row may have a problem."""
        return not self.report.problems and bool(self.report.rows)


class PreviewChanged(DomainError):
    """The file, or the roster, changed since the preview: nothing was imported; preview again."""


def _fingerprint(raw: bytes, default_branch: str | None, report: ImportReport) -> str:
    digest = hashlib.sha256(raw)
    plan = [
        [r.line, r.outcome.value, r.branch_id, r.member_id, sorted(r.before.items()), sorted(r.after.items())]
        for r in report.rows
    ]
    problems = [[p.line, p.column, p.problem.value, p.value] for p in report.problems]
    digest.update(json.dumps([default_branch, plan, problems], default=str, ensure_ascii=False).encode())
    return digest.hexdigest()


async def _run(
    session: AsyncSession, actor: Member, name: str, raw: bytes, default_branch: str | None, *, dry_run: bool
) -> tuple[ImportReport, str]:
    check(actor, Permission.IMPORT_MEMBERS, Target(actor.branch_id))
    rows = await read_uploaded_register(name, raw)  # RegisterFileError: the file as a whole is unreadable
    allowed = None if scope_of(actor) is Scope.COMMUNE else {actor.branch_id}
    report = await import_members(
        session, rows, default_branch_code=default_branch, allowed_branches=allowed, actor_id=actor.id, dry_run=dry_run
    )
    return report, _fingerprint(raw, default_branch, report)


async def preview_register(
    session: AsyncSession, actor: Member, name: str, raw: bytes, *, default_branch: str | None
) -> RegisterPreview:
    """What importing the file would do, within the actor's branches; nothing is written. Rows
    without a branch column go to ``default_branch`` (a code)."""
    report, fingerprint = await _run(session, actor, name, raw, default_branch, dry_run=True)
    return RegisterPreview(name, report, fingerprint)


async def confirm_register(
    session: AsyncSession, actor: Member, name: str, raw: bytes, fingerprint: str, *, default_branch: str | None
) -> ImportReport:
    """Import the file as previewed with ``fingerprint``, in the caller's transaction (each new or
    changed member audited with the actor); ``PreviewChanged`` when it would now do anything else."""
    preview = await preview_register(session, actor, name, raw, default_branch=default_branch)
    if not hmac.compare_digest(preview.fingerprint, fingerprint) or not preview.importable:
        raise PreviewChanged(name)
    report, after = await _run(session, actor, name, raw, default_branch, dry_run=False)
    assert after == fingerprint and report.written  # the same rows, in the same transaction
    return report
