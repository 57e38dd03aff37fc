"""Microsoft Graph SDK for Python against the simulator: list users page by page and get
every user back; the SDK's error type for a Graph error."""

import asyncio

import httpx
import msal
import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider, AllowedHostsValidator, BaseBearerTokenAuthenticationProvider)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph_core import GraphClientFactory

TENANT = "conformance.example"
APP = "c0f0a000-0000-4000-8000-0000000000a1"


class MsalTokenProvider(AccessTokenProvider):
    def __init__(self, app):
        self.app = app

    async def get_authorization_token(self, uri, additional_authentication_context=None):
        result = self.app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
        return result["access_token"]

    def get_allowed_hosts_validator(self):
        return AllowedHostsValidator([])


def graph_client(sim):
    app = msal.ConfidentialClientApplication(
        APP, client_credential="conformance-secret-value", authority=sim.authority(TENANT))
    auth = BaseBearerTokenAuthenticationProvider(MsalTokenProvider(app))
    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(verify=sim.ca))
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = sim.graph_base()
    return GraphServiceClient(request_adapter=adapter)


def test_list_users_with_paging(sim):
    client = graph_client(sim)

    async def run():
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            top=5, select=["id", "userPrincipalName", "department", "accountEnabled"])
        page = await client.users.get(request_configuration=RequestConfiguration(query_parameters=query))
        users, pages = list(page.value), 1
        while page.odata_next_link:
            assert page.odata_next_link.startswith(f"https://graph.microsoft.com:{sim.port}/v1.0/users?")
            page = await client.users.with_url(page.odata_next_link).get()
            users.extend(page.value)
            pages += 1
        return users, pages

    users, pages = asyncio.run(run())
    want = {"admin@conformance.example"} | {f"user{i:02d}@conformance.example" for i in range(1, 12)}
    assert pages == 3
    assert len(users) == len(want)
    assert {u.user_principal_name for u in users} == want
    user01 = next(u for u in users if u.user_principal_name == "user01@conformance.example")
    assert user01.department == "Sales"
    assert user01.account_enabled is True


def test_graph_error_surfaces_as_odata_error(sim):
    client = graph_client(sim)

    async def run():
        return await client.users.by_user_id("nobody@conformance.example").get()

    with pytest.raises(ODataError) as e:
        asyncio.run(run())
    assert e.value.response_status_code == 404
    assert e.value.error.code == "Request_ResourceNotFound"


def test_mail_folders(sim):
    client = graph_client(sim)

    async def run():
        return await client.users.by_user_id("user01@conformance.example").mail_folders.get()

    page = asyncio.run(run())
    assert [f.display_name for f in page.value][:3] == ["Inbox", "Drafts", "Sent Items"]
    assert all(f.parent_folder_id for f in page.value)


def test_messages_delta_and_mime(sim):
    """The SDK's delta request builder pages through a folder's messages to a deltaLink;
    each message's MIME ($value) carries the Message-ID the JSON reports."""
    client = graph_client(sim)
    inbox = client.users.by_user_id("user01@conformance.example").mail_folders.by_mail_folder_id("inbox")

    async def run():
        page = await inbox.messages.delta.get()
        messages, pages = list(page.value), 1
        while page.odata_next_link:
            assert "$skiptoken=" in page.odata_next_link
            page = await inbox.messages.delta.with_url(page.odata_next_link).get()
            messages.extend(page.value)
            pages += 1
        assert page.odata_delta_link and "$deltatoken=" in page.odata_delta_link
        again = await inbox.messages.delta.with_url(page.odata_delta_link).get()
        mimes = {}
        for m in messages[:5]:
            mimes[m.id] = await client.users.by_user_id("user01@conformance.example") \
                .messages.by_message_id(m.id).content.get()
        return messages, pages, again, mimes

    messages, pages, again, mimes = asyncio.run(run())
    assert len(messages) > 0
    assert pages == -(-len(messages) // 10)
    assert len({m.id for m in messages}) == len(messages)
    assert again.value == [] and not again.odata_next_link
    for m in messages[:5]:
        assert m.change_key and m.subject is not None and m.received_date_time
        assert m.internet_message_id.strip("<>").encode() in mimes[m.id]


def test_calendar_view_expands_series(sim):
    """calendarView (and its delta) through the SDK: single instances, occurrences and
    exceptions of series with seriesMasterId and originalStart, never a master; /events
    gives the masters with their recurrence; a master's instances are exactly its items
    in the view, one of them an exception moved off its original start."""
    from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import \
        CalendarViewRequestBuilder
    from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import \
        DeltaRequestBuilder
    from msgraph.generated.users.item.events.item.instances.instances_request_builder import \
        InstancesRequestBuilder

    client = graph_client(sim)
    user = client.users.by_user_id("user01@conformance.example")
    start, end = "1990-01-01T00:00:00Z", "2100-01-01T00:00:00Z"

    async def pages(builder, first):
        items = list(first.value)
        while first.odata_next_link:
            first = await builder.with_url(first.odata_next_link).get()
            items.extend(first.value)
        return items, first

    async def run():
        q = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
            start_date_time=start, end_date_time=end, top=7)
        view, _ = await pages(user.calendar_view, await user.calendar_view.get(
            request_configuration=RequestConfiguration(query_parameters=q)))
        dq = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
            start_date_time=start, end_date_time=end)
        delta, last = await pages(user.calendar_view.delta, await user.calendar_view.delta.get(
            request_configuration=RequestConfiguration(query_parameters=dq)))
        events, _ = await pages(user.events, await user.events.get())
        instances = {}
        for m in (e for e in events if e.type.value == "seriesMaster"):
            iq = InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
                start_date_time=start, end_date_time=end)
            b = user.events.by_event_id(m.id).instances
            instances[m.id], _ = await pages(b, await b.get(
                request_configuration=RequestConfiguration(query_parameters=iq)))
        return view, delta, last, events, instances

    view, delta, last, events, instances = asyncio.run(run())
    kinds = {e.type.value for e in view}
    assert "seriesMaster" not in kinds and {"occurrence", "exception"} <= kinds
    assert {e.id for e in delta} == {e.id for e in view}
    assert last.odata_delta_link and "$deltatoken=" in last.odata_delta_link
    masters = [e for e in events if e.type.value == "seriesMaster"]
    assert masters and all(e.type.value in ("seriesMaster", "singleInstance") for e in events)
    for m in masters:
        assert m.recurrence.pattern.type.value and m.recurrence.range.start_date
        mine = [e for e in view if e.series_master_id == m.id]
        assert {e.id for e in mine} == {e.id for e in instances[m.id]}
        assert all(e.original_start for e in mine)
        exceptions = [e for e in mine if e.type.value == "exception"]
        assert len(exceptions) == 1
        assert exceptions[0].subject.endswith("(moved)")
        assert exceptions[0].start.date_time != m.start.date_time
