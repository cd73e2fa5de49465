"""Server-rendered dashboard pages: stores, /login, /logout, API tokens, user management, the fleet."""

from fastapi import APIRouter

from app.pages import domains, fleet, login, stores, tokens, users

router = APIRouter()
router.include_router(login.router)
router.include_router(stores.router)
router.include_router(domains.router)
router.include_router(tokens.router)
router.include_router(users.router)
router.include_router(fleet.router)
