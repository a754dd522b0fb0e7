"""Config flow: pick a provider, enter its credentials, test them, pick the spaces."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.data_entry_flow import AbortFlow, section
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .budget import entity_cap
from .clients import build_client
from .compat import vol
from .const import (
    AUTH_BUTLR_ACCOUNT,
    AUTH_BUTLR_API_CLIENT,
    AUTH_CONCORDIA,
    AUTH_OCCUSPACE,
    CONF_ACCOUNT_ID,
    CONF_ACCOUNT_KEY,
    CONF_AREAS,
    CONF_AUTH_METHOD,
    CONF_BASE_URL,
    CONF_CAPACITIES,
    CONF_PROVIDER,
    CONF_PUSH,
    CONF_SPACES,
    CREDENTIAL_FIELDS,
    CREDENTIAL_KEYS,
    DOMAIN,
    LOGGER,
    PROVIDER_OF_AUTH,
    SECRET_KEYS,
)
from .data import SpaceOccupancyConfigEntry
from .forms import (
    account_key_of,
    check_picks,
    held_by,
    last_snapshot,
    spaces_placeholders,
    spaces_schema,
)
from .ids import entry_unique_id
from .options import picked_of
from .options_flow import SpaceOccupancyOptionsFlow
from .picking import AccountSpaces, part_unique_id
from .providers import (
    DEFAULT_BASE_URLS,
    PROVIDER_BUTLR,
    Account,
    Provider,
    ProviderAuthError,
    ProviderError,
    ProviderNoSpacesError,
)
from .urls import url_error

TEXT = TextSelector()
SECRET = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
# The provider knows the credentials but shows no space: nothing to add.
NO_SPACES = "no_spaces"
# The collapsed section of the credential forms that holds the base URL.
SECTION_ADVANCED = "advanced"


def _is_same_account(entry: ConfigEntry, account: Account) -> bool:
    """Tell whether new credentials reach the account an entry was made for.

    The account ids must match, with one exception: a Butlr entry may switch
    between an account login and an API client of the same organisation. Their
    ids differ, so the new credentials must see a site the entry already shows
    (Butlr's site ids are unique across organisations). The entry keeps its
    ids, so that its entities keep theirs.
    """
    provider = entry.data[CONF_PROVIDER]
    if entry_unique_id(provider, account.unique_id) == account_key_of(entry) or (
        account.unique_id == entry.data.get(CONF_ACCOUNT_ID)
    ):
        return True
    snapshot = last_snapshot(entry)
    if not account.organisation or snapshot is None:
        return False
    return not account.organisation.isdisjoint(snapshot.spaces)


class SpaceOccupancyConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a provider account, or a part of one."""

    # 2: entry unique ids scoped by provider ("occuspace_1"); minor 2: the
    # account key in the data (see migration.py).
    VERSION = 2
    MINOR_VERSION = 2

    _data: dict[str, Any]
    _account: Account
    _spaces: AccountSpaces

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: SpaceOccupancyConfigEntry) -> OptionsFlow:
        """Return the options flow of an entry."""
        return SpaceOccupancyOptionsFlow()

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the provider."""
        return self.async_show_menu(
            step_id="user", menu_options=["butlr", AUTH_OCCUSPACE, AUTH_CONCORDIA]
        )

    async def async_step_butlr(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick how to sign in to Butlr."""
        return self.async_show_menu(
            step_id="butlr", menu_options=[AUTH_BUTLR_ACCOUNT, AUTH_BUTLR_API_CLIENT]
        )

    async def async_step_butlr_account(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Butlr with an account's username and password."""
        return await self._async_credentials(AUTH_BUTLR_ACCOUNT, user_input)

    async def async_step_butlr_api_client(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Butlr with an API client id and secret."""
        return await self._async_credentials(AUTH_BUTLR_API_CLIENT, user_input)

    async def async_step_occuspace(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Occuspace with an API token."""
        return await self._async_credentials(AUTH_OCCUSPACE, user_input)

    async def async_step_concordia(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Concordia University open data with a user id and API key."""
        return await self._async_credentials(AUTH_CONCORDIA, user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change an entry's credentials or base URL (Butlr: also the kind), and spaces."""
        entry = self._get_reconfigure_entry()
        if entry.data[CONF_PROVIDER] == PROVIDER_BUTLR:
            return self.async_show_menu(
                step_id="reconfigure",
                menu_options=[AUTH_BUTLR_ACCOUNT, AUTH_BUTLR_API_CLIENT],
            )
        return await self._async_credentials(entry.data[CONF_AUTH_METHOD], None)

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Start reauthentication: the provider rejected the stored credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the secret again; everything else stays."""
        entry = self._get_reauth_entry()
        secrets = [
            key
            for key, secret in CREDENTIAL_FIELDS[entry.data[CONF_AUTH_METHOD]]
            if secret
        ]
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, **user_input}
            client, errors = await self._async_test(data)
            if client is not None:
                if not _is_same_account(entry, self._account):
                    return self.async_abort(reason="unique_id_mismatch")
                return self.async_update_reload_and_abort(
                    entry, data_updates=user_input
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(key): SECRET for key in secrets}),
            description_placeholders={"account": entry.title},
            errors=errors,
        )

    async def async_step_spaces(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the spaces the entry shows; refuse more than Home Assistant adds."""
        reconfiguring = self.source == SOURCE_RECONFIGURE
        options = self._get_reconfigure_entry().options if reconfiguring else {}
        capacities: Mapping[str, int] = options.get(CONF_CAPACITIES, {})
        errors: dict[str, str] = {}
        placeholders = {
            "account": self._account.title,
            **spaces_placeholders(self._spaces, capacities),
            "picked_entities": "0",
            "picked_spaces": "0",
        }
        if user_input is not None:
            picks = list(user_input[CONF_SPACES])
            errors, numbers = check_picks(self._spaces, picks, capacities)
            placeholders.update(numbers)
            if not errors:
                return await self._async_finish(
                    picks, user_input.get(CONF_AREAS, False)
                )
        default = (
            self._spaces.current(picked_of(options))
            if reconfiguring
            else self._spaces.default(capacities, entity_cap())
        )
        return self.async_show_form(
            step_id="spaces",
            data_schema=self.add_suggested_values_to_schema(
                spaces_schema(self._spaces, default, with_areas=not reconfiguring),
                user_input or {},
            ),
            description_placeholders=placeholders,
            errors=errors,
        )

    async def _async_finish(self, picks: list[str], areas: bool) -> ConfigFlowResult:
        """Create the entry, or store a reconfigured one's new data and spaces."""
        stored = self._spaces.stored(picks)
        unique_id = part_unique_id(self._data[CONF_ACCOUNT_KEY], stored)
        if self.source == SOURCE_RECONFIGURE:
            entry = self._get_reconfigure_entry()
            options = {**entry.options, CONF_SPACES: stored}
            if stored is None:
                options.pop(CONF_SPACES)
            return self.async_update_reload_and_abort(
                entry, unique_id=unique_id, data=self._data, options=options
            )
        await self.async_set_unique_id(unique_id)
        self._abort_if_unique_id_configured()
        title = self._account.title
        if stored is not None:
            labels = [self._spaces.label(space_id) for space_id in stored]
            title = (
                f"{title}: {', '.join(labels[:2])}{', …' if len(labels) > 2 else ''}"
            )
        options = {CONF_AREAS: areas}
        if stored is not None:
            options[CONF_SPACES] = stored
        return self.async_create_entry(title=title, data=self._data, options=options)

    async def _async_credentials(
        self, auth_method: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Show a credential kind's form; test what was entered; go on to the spaces."""
        provider = PROVIDER_OF_AUTH[auth_method]
        errors: dict[str, str] = {}
        if user_input is not None:
            # The base URL comes in its own (collapsed) section of the form.
            data = {
                **{k: v for k, v in user_input.items() if k != SECTION_ADVANCED},
                CONF_BASE_URL: user_input[SECTION_ADVANCED][CONF_BASE_URL],
                CONF_PROVIDER: provider,
                CONF_AUTH_METHOD: auth_method,
            }
            if error := url_error(data[CONF_BASE_URL]):
                # The form shows an error keyed by a section above that section.
                errors[SECTION_ADVANCED] = error
            else:
                client, errors = await self._async_test(data)
                if client is not None:
                    return await self._async_credentials_accepted(client, data)
        return self.async_show_form(
            step_id=auth_method,
            data_schema=self.add_suggested_values_to_schema(
                self._credentials_schema(
                    auth_method, collapsed=SECTION_ADVANCED not in errors
                ),
                self._suggested_values(provider, user_input),
            ),
            errors=errors,
        )

    async def _async_credentials_accepted(
        self, client: Provider, data: dict[str, Any]
    ) -> ConfigFlowResult:
        """Read the whole account, then ask which spaces the entry shows."""
        account_key = entry_unique_id(data[CONF_PROVIDER], self._account.unique_id)
        siblings = [
            entry
            for entry in self._async_current_entries(include_ignore=False)
            if account_key_of(entry) == account_key
        ]
        if self.source == SOURCE_RECONFIGURE:
            entry = self._get_reconfigure_entry()
            if not _is_same_account(entry, self._account):
                return self.async_abort(reason="unique_id_mismatch")
            data = self._reconfigured_data(entry, data)
            account_key = account_key_of(entry)
            siblings = [
                other
                for other in self._async_current_entries(include_ignore=False)
                if account_key_of(other) == account_key and other is not entry
            ]
        self._data = {**data, CONF_ACCOUNT_KEY: account_key}
        try:
            snapshot = await client.async_fetch(None)
        except ProviderError as err:
            LOGGER.debug("Reading the account's spaces failed: %s", err)
            raise AbortFlow("cannot_connect") from err
        held = held_by(siblings, snapshot)
        if held is None:
            return self.async_abort(reason="already_configured")
        pushes = self.source == SOURCE_RECONFIGURE and bool(
            self._get_reconfigure_entry().options.get(CONF_PUSH)
        )
        self._spaces = AccountSpaces.of(
            snapshot, held, split=bool(siblings), pushes=pushes
        )
        if not self._spaces.pickable():
            return self.async_abort(reason="already_configured")
        return await self.async_step_spaces()

    def _reconfigured_data(
        self, entry: ConfigEntry, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Return the entry's data with new credentials; the other kind's keys go."""
        kept = {
            key: value
            for key, value in entry.data.items()
            if key not in CREDENTIAL_KEYS and key != CONF_ACCOUNT_ID
        }
        provider = data[CONF_PROVIDER]
        if entry_unique_id(provider, self._account.unique_id) != account_key_of(entry):
            kept[CONF_ACCOUNT_ID] = self._account.unique_id
        return {**kept, **data}

    def _credentials_schema(self, auth_method: str, *, collapsed: bool) -> vol.Schema:
        """Return the credential fields, then the base URL in a collapsed section."""
        schema: dict[vol.Marker, Any] = {
            vol.Required(key): SECRET if secret else TEXT
            for key, secret in CREDENTIAL_FIELDS[auth_method]
        }
        schema[vol.Required(SECTION_ADVANCED)] = section(
            vol.Schema({vol.Required(CONF_BASE_URL): URL_SELECTOR}),
            {"collapsed": collapsed},
        )
        return vol.Schema(schema)

    def _suggested_values(
        self, provider: str, user_input: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Return what the form shows: the last input, else the entry's values.

        A new entry's base URL is the provider's real API; reconfigure shows the
        entry's own.
        """
        if user_input is not None:
            return user_input
        values: dict[str, Any] = {}
        base_url = DEFAULT_BASE_URLS[provider]
        if self.source == SOURCE_RECONFIGURE:
            data = self._get_reconfigure_entry().data
            values = {
                key: value
                for key, value in data.items()
                if key not in SECRET_KEYS and key != CONF_BASE_URL
            }
            base_url = data.get(CONF_BASE_URL, base_url)
        return {**values, SECTION_ADVANCED: {CONF_BASE_URL: base_url}}

    async def _async_test(
        self, data: Mapping[str, Any]
    ) -> tuple[Provider | None, dict[str, str]]:
        """Try the credentials against the provider; keep the account they reach."""
        client = build_client(self.hass, data)
        try:
            self._account = await client.async_validate()
        except ProviderAuthError:
            return None, {"base": "invalid_auth"}
        except ProviderNoSpacesError as err:
            # Nothing the user can type here changes that: end the flow.
            raise AbortFlow(NO_SPACES) from err
        except ProviderError as err:
            LOGGER.debug("Testing the credentials failed: %s", err)
            return None, {"base": "cannot_connect"}
        except Exception:  # noqa: BLE001 - the form must say something went wrong
            LOGGER.exception("Unexpected error testing the credentials")
            return None, {"base": "unknown"}
        return client, {}
