"""The desk's meetings pages (issue 17): built on the branch desk-meetings; routes under /desk/meetings."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
