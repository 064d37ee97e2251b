"""(being written)"""

from __future__ import annotations

from fastapi import APIRouter

from services.api.problems import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
