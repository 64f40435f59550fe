"""The desk's members pages (issue 17): built on the branch desk-roster; routes under /desk/members."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
