"""The ops page's handlers answer admins only. A non-admin's tab never renders the page's controls,
but its events can still be sent by hand, so each handler checks again: here they are called directly,
as such an event would run them."""

from __future__ import annotations

from tests.api.conftest import run, states_signed_in_as
from tests.helpers import make_user, queue_project
from tests.projects import static_site
from workers.accounts import sessions
from workers.queue import scheduler
from workers.store.db import session_scope
from workers.store.models import User


def session_token(username: str, admin: bool = False) -> str:
    user_id = make_user(username, admin=admin)
    with session_scope() as session:
        return sessions.issue(session, session.get(User, user_id))[1]


async def ops_state_of(token: str):
    from webbuilder_app.state.ops import OpsState

    return await (await states_signed_in_as(token)).get_state(OpsState)


def test_a_non_admin_can_neither_pause_nor_resume_dispatching(env):
    from webbuilder_app.state.ops import OpsState

    async def toggle(token: str):
        return await OpsState.toggle_paused.fn(await ops_state_of(token))

    user, admin = session_token("bob"), session_token("root", admin=True)

    refused = run(toggle(user))
    assert "Only admins can pause dispatching." in str(refused)
    assert scheduler.dispatching_paused() is False

    # The same handler does pause for an admin, so the refusal above is the admin check at work.
    run(toggle(admin))
    assert scheduler.dispatching_paused() is True
    run(toggle(user))
    assert scheduler.dispatching_paused() is True


def test_a_non_admin_reads_nothing_of_the_ops_page(env, tmp_path):
    from webbuilder_app.state.ops import OpsState

    queue_project(make_user("alice"), static_site(tmp_path / "site"), "Alice's site")
    user = session_token("bob")

    async def read_everything():
        state = await ops_state_of(user)
        await OpsState.load.fn(state)
        await OpsState.refresh.fn(state)
        await OpsState.set_window.fn(state, "day")
        return state

    state = run(read_everything())
    assert state.checked and not state.allowed
    assert state.jobs == [] and state.users == [] and state.host == {} and state.window == "hour"
