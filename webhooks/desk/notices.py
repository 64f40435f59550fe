"""The desk's notices pages (issue 17): built on the branch desk-notices; routes under /desk/notices."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
