"""All /api/v1 routes."""

from fastapi import APIRouter

from app.api.routes import audit, credentials, domains, fleet, health, stores, tokens, users

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(stores.router)
api_router.include_router(domains.router)
api_router.include_router(credentials.router)
api_router.include_router(health.router)
api_router.include_router(tokens.router)
api_router.include_router(users.router)
api_router.include_router(audit.router)
api_router.include_router(fleet.router)
