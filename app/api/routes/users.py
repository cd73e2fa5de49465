"""/api/v1/users: who am I; admins create users, disable/enable them, change roles and store limits."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from app.api.deps import CurrentUser, FactoryDep, RowId, SessionDep
from app.api.problems import Problem
from app.audit import Action
from app.auth import accounts
from app.auth.deps import AdminUser
from app.auth.passwords import generate_password
from app.auth.schemas import PasswordChange, UserCreate, UserCreated, UserPublic, UserUpdate
from app.db.engine import transaction
from app.db.models import User

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.of(user)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(body: PasswordChange, user: CurrentUser, factory: FactoryDep) -> None:
    """Change your own password; the current one is required."""
    with transaction(factory) as session:
        if accounts.authenticate(session, user.name, body.current_password) is None:
            raise Problem(403, "wrong-password", "The current password is wrong.")
        owner = session.get(User, user.id)
        assert owner is not None
        try:
            accounts.set_password(session, owner, body.new_password)
        except accounts.AccountError as exc:
            raise Problem(422, "weak-password", str(exc)) from exc


@router.get("", response_model=list[UserPublic])
def list_(_admin: AdminUser, session: SessionDep) -> list[UserPublic]:
    return [UserPublic.of(user) for user in accounts.list_users(session)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UserCreated)
def create(body: UserCreate, _admin: AdminUser, session: SessionDep, request: Request) -> UserCreated:
    """Create a user with a generated password, shown in this response only."""
    password = generate_password()
    try:
        user = accounts.create_user(session, name=body.name, password=password, is_admin=body.role == "admin")
    except accounts.UserExists as exc:
        raise Problem(409, "user-exists", str(exc)) from exc
    except accounts.AccountError as exc:
        raise Problem(422, "user-invalid", str(exc)) from exc
    user.max_stores = body.max_stores
    session.flush()
    request.state.audit_target = f"user:{user.id}"
    request.state.audit_detail = {"role": body.role, "max_stores": body.max_stores}
    return UserCreated(**UserPublic.of(user).model_dump(), password=password)


@router.get("/{user_id}", response_model=UserPublic)
def read(user_id: RowId, _admin: AdminUser, session: SessionDep) -> UserPublic:
    return UserPublic.of(_found(session, user_id))


@router.patch("/{user_id}", response_model=UserPublic)
def update(
    user_id: RowId, body: UserUpdate, admin: AdminUser, session: SessionDep, request: Request
) -> UserPublic:
    """Disable or enable a user, change their role, or set their store limit (`reset_max_stores`
    returns to the platform default). Disabling ends their sessions and revokes their tokens at
    once; enabling them again revives neither (they log in again and make new tokens)."""
    user = _found(session, user_id)
    if user.id == admin.id and (body.disabled or body.role == "user"):
        raise Problem(409, "self-lockout", "You cannot disable yourself or drop your own admin role.")
    changes: dict[str, object] = {}
    if body.disabled is not None:
        revoked = accounts.set_disabled(session, user, body.disabled)
        changes["disabled"] = body.disabled
        if body.disabled:
            changes["revoked_token_count"] = revoked
    if body.role is not None:
        user.is_admin = body.role == "admin"
        changes["role"] = body.role
    if body.reset_max_stores or body.max_stores is not None:
        new_limit = None if body.reset_max_stores else body.max_stores
        changes["max_stores_from"], changes["max_stores_to"] = user.max_stores, new_limit
        accounts.set_max_stores(session, user, new_limit)
    session.flush()
    request.state.audit_action = _action_for(changes)
    request.state.audit_detail = changes
    return UserPublic.of(user)


def _action_for(changes: dict[str, object]) -> Action:
    """The most specific audit action for one update: a single kind of change names itself."""
    kinds = {
        "disabled" if k in ("disabled", "revoked_token_count") else "role" if k == "role" else "limits"
        for k in changes
    }
    if kinds == {"disabled"}:
        return Action.USER_DISABLE if changes["disabled"] else Action.USER_ENABLE
    if kinds == {"role"}:
        return Action.USER_ROLE
    if kinds == {"limits"}:
        return Action.USER_LIMITS
    return Action.USER_UPDATE


def _found(session: SessionDep, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise Problem(404, "user-not-found", f"There is no user with id {user_id}.")
    return user
