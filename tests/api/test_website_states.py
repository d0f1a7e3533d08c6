"""The website page's and the new-version dialog's state handlers act as the tab's user only: Bob's
tab, sent to Alice's website with her ids, finds nothing and changes nothing; Alice's own tab can."""

from __future__ import annotations

import pytest

from tests.api.conftest import auth, on_page, run, sign_up, states_signed_in_as, upload_zip

BASE = "/api/website-builder"


@pytest.fixture
def alices_website(api, make_zip) -> dict:
    alice = sign_up(api, "alice")
    website = upload_zip(api, alice, make_zip("alice"), name="Alice's shop")["website"]
    return {"token": alice, "id": website["id"], "job": website["buildJobId"]}


def website_of(api, a: dict) -> dict:
    return api.get(f"{BASE}/websites/{a['id']}", headers=auth(a["token"])).json()["website"]


def test_another_users_tab_finds_and_changes_nothing(api, alices_website):
    from webbuilder_app.state.upload import UploadState
    from webbuilder_app.state.websites import WebsiteFeedState, WebsiteState

    a = alices_website
    before = website_of(api, a)
    bob = sign_up(api, "bob")

    async def bob_tries():
        root = await states_signed_in_as(bob)
        page = await root.get_state(WebsiteState)
        on_page(root, f"/websites/{a['id']}")
        assert page.viewing_id == a["id"]
        await WebsiteState.load.fn(page)
        assert page.not_found is True
        feed = await root.get_state(WebsiteFeedState)
        assert feed.website == {} and feed.deployments == [] and not feed._linked_to
        WebsiteState.ask_promote.fn(page, a["job"])
        await WebsiteState.promote.fn(page)
        await WebsiteState.redeploy.fn(page)
        await WebsiteState.save_settings.fn(page, {"name": "Bob's now", "slug": "bobs-now"})
        assert page.settings_error == "Website not found."
        await WebsiteState.set_auto_publish.fn(page, False)
        WebsiteState.set_delete_typed.fn(page, "Alice's shop")
        await WebsiteState.delete_website.fn(page)
        assert page.delete_error == "Website not found."
        upload = await root.get_state(UploadState)
        await UploadState.open_deploy.fn(upload, a["id"])
        assert (upload.deploy_to, upload.deploy_name) == (0, "")

    run(bob_tries())
    assert website_of(api, a) == before


def test_the_owners_tab_renames_and_deletes(api, alices_website):
    from webbuilder_app.state.upload import UploadState
    from webbuilder_app.state.websites import WebsiteState

    a = alices_website

    async def alice_acts():
        root = await states_signed_in_as(a["token"])
        on_page(root, f"/websites/{a['id']}")
        page = await root.get_state(WebsiteState)
        await WebsiteState.save_settings.fn(page, {"name": "Alice's bakery", "slug": "alices-bakery"})
        assert page.settings_error == ""
        await WebsiteState.save_settings.fn(page, {"name": "Alice's bakery", "slug": "www"})
        assert page.settings_error == '"www" is reserved.'  # the service's own words
        upload = await root.get_state(UploadState)
        await UploadState.open_deploy.fn(upload, a["id"])
        assert (upload.deploy_to, upload.deploy_name) == (a["id"], "Alice's bakery")
        WebsiteState.set_delete_typed.fn(page, "Alice's shop")  # its old name
        await WebsiteState.delete_website.fn(page)
        assert page.delete_error.startswith("Type the website's name")
        WebsiteState.set_delete_typed.fn(page, "Alice's bakery")
        await WebsiteState.delete_website.fn(page)
        assert "queued or building" in page.delete_error  # her deployment is still queued

    run(alice_acts())
    website = website_of(api, a)
    assert (website["name"], website["slug"]) == ("Alice's bakery", "alices-bakery")
