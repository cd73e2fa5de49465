"""All /api/v1 routes."""

from fastapi import APIRouter

from app.api.routes import health, stores

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(stores.router)
api_router.include_router(health.router)
