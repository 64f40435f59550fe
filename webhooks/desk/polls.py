"""The desk's polls pages (issue 17): built on the branch desk-notices; routes under /desk/polls."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
