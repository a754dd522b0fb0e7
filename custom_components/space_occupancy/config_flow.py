"""Config flow: pick a provider, enter its credentials, test them."""

from __future__ import annotations

from collections.abc import Mapping
import ipaddress
from typing import Any

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_SCAN_INTERVAL
from homeassistant.core import callback
from homeassistant.data_entry_flow import AbortFlow, section
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from yarl import URL

from .clients import build_client
from .compat import vol
from .const import (
    AUTH_BUTLR_ACCOUNT,
    AUTH_BUTLR_API_CLIENT,
    AUTH_CONCORDIA,
    AUTH_OCCUSPACE,
    CONF_ACCOUNT_ID,
    CONF_AUTH_METHOD,
    CONF_BASE_URL,
    CONF_CAPACITIES,
    CONF_HISTORY_DAYS,
    CONF_PROVIDER,
    CONF_STALE_MINUTES,
    CONF_THRESHOLD_HIGH,
    CONF_THRESHOLD_LOW,
    CONF_THRESHOLD_MODERATE,
    CREDENTIAL_FIELDS,
    CREDENTIAL_KEYS,
    DEFAULT_HISTORY_DAYS,
    DEFAULT_STALE_MINUTES,
    DEFAULT_THRESHOLD_HIGH,
    DEFAULT_THRESHOLD_LOW,
    DEFAULT_THRESHOLD_MODERATE,
    DOMAIN,
    LOGGER,
    MAX_HISTORY_DAYS,
    MAX_SCAN_INTERVAL,
    PROVIDER_OF_AUTH,
    SECRET_KEYS,
)
from .data import SpaceOccupancyConfigEntry, SpaceOccupancyData
from .ids import entry_unique_id
from .providers import (
    DEFAULT_BASE_URLS,
    PROVIDER_BUTLR,
    Account,
    ProviderAuthError,
    ProviderError,
    ProviderNoSpacesError,
    Snapshot,
    Space,
    capabilities_of,
)
from .state import provider_capacity

TEXT = TextSelector()
SECRET = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
LOOPBACK_NAMES = {"localhost"}
# Between the names of a space's path in the options: names repeat, paths do not.
PATH_SEPARATOR = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "
# The provider knows the credentials but shows no space: nothing to add.
NO_SPACES = "no_spaces"
# The collapsed section of the credential forms that holds the base URL.
SECTION_ADVANCED = "advanced"


def _url_error(url: str) -> str | None:
    """Why a base URL is refused: credentials never travel unencrypted off this host.

    Nor in the URL itself: a user name or password in it is refused.
    """
    try:
        parsed = URL(url)
    except ValueError:
        return "invalid_url"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "invalid_url"
    if parsed.user is not None or parsed.password is not None:
        # Credentials in a URL end up in logs, diagnostics and Referer headers.
        return "url_with_credentials"
    if parsed.scheme == "https" or parsed.host in LOOPBACK_NAMES:
        return None
    try:
        loopback = ipaddress.ip_address(parsed.host).is_loopback
    except ValueError:
        loopback = False
    return None if loopback else "insecure_url"


def _is_same_account(entry: ConfigEntry, account: Account) -> bool:
    """Tell whether new credentials reach the account an entry was made for.

    The account ids must match, with one exception: a Butlr entry may switch
    between an account login and an API client of the same organisation. Their
    ids differ, so the new credentials must see a site the entry already shows
    (Butlr's site ids are unique across organisations). The entry keeps its
    unique id, so that its entities keep theirs.
    """
    provider = entry.data[CONF_PROVIDER]
    if entry_unique_id(provider, account.unique_id) == entry.unique_id or (
        account.unique_id == entry.data.get(CONF_ACCOUNT_ID)
    ):
        return True
    snapshot = _last_snapshot(entry)
    if not account.organisation or snapshot is None:
        return False
    return not account.organisation.isdisjoint(snapshot.spaces)


def _last_snapshot(entry: ConfigEntry) -> Snapshot | None:
    """Return the last snapshot of an entry, None unless it is loaded and polled."""
    data: SpaceOccupancyData | None = getattr(entry, "runtime_data", None)
    return None if data is None else data.last_snapshot()


class SpaceOccupancyConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a provider account."""

    # 2: entry unique ids scoped by provider ("occuspace_1"), see async_migrate_entry.
    VERSION = 2

    _auth_method: str

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
        """Change an entry's credentials or base URL (Butlr: also the kind)."""
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
            account, errors = await self._async_test(data)
            if account is not None:
                if not _is_same_account(entry, account):
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

    async def _async_credentials(
        self, auth_method: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Show a credential kind's form; test what was entered; finish the flow."""
        provider = PROVIDER_OF_AUTH[auth_method]
        reconfiguring = self.source == SOURCE_RECONFIGURE
        errors: dict[str, str] = {}
        if user_input is not None:
            # The base URL comes in its own (collapsed) section of the form.
            credentials = {
                key: value
                for key, value in user_input.items()
                if key != SECTION_ADVANCED
            }
            data = {
                **credentials,
                CONF_BASE_URL: user_input[SECTION_ADVANCED][CONF_BASE_URL],
                CONF_PROVIDER: provider,
                CONF_AUTH_METHOD: auth_method,
            }
            if url_error := _url_error(data[CONF_BASE_URL]):
                # The form shows an error keyed by a section above that section.
                errors[SECTION_ADVANCED] = url_error
                account = None
            else:
                account, errors = await self._async_test(data)
            if account is not None and reconfiguring:
                entry = self._get_reconfigure_entry()
                if not _is_same_account(entry, account):
                    return self.async_abort(reason="unique_id_mismatch")
                # Keys of the other credential kind go: the entry holds one kind.
                kept = {
                    key: value
                    for key, value in entry.data.items()
                    if key not in CREDENTIAL_KEYS and key != CONF_ACCOUNT_ID
                }
                if entry_unique_id(provider, account.unique_id) != entry.unique_id:
                    kept[CONF_ACCOUNT_ID] = account.unique_id
                return self.async_update_reload_and_abort(entry, data={**kept, **data})
            if account is not None:
                await self.async_set_unique_id(
                    entry_unique_id(provider, account.unique_id)
                )
                self._abort_if_unique_id_configured()
                return self.async_create_entry(title=account.title, data=data)
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
    ) -> tuple[Account | None, dict[str, str]]:
        """Try the credentials against the provider."""
        try:
            return await build_client(self.hass, data).async_validate(), {}
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


class SpaceOccupancyOptionsFlow(OptionsFlow):
    """Poll interval, activity thresholds, stale limit and capacities."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer the capacity step only where some space has no capacity."""
        if self._spaces_without_capacity():
            return self.async_show_menu(
                step_id="init", menu_options=["settings", "capacity"]
            )
        return await self.async_step_settings()

    async def async_step_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Poll interval, thresholds, (Butlr) history days, (Concordia) stale limit."""
        capabilities = capabilities_of(self.config_entry.data[CONF_PROVIDER])
        errors: dict[str, str] = {}
        if user_input is not None:
            thresholds = (
                user_input[CONF_THRESHOLD_LOW],
                user_input[CONF_THRESHOLD_MODERATE],
                user_input[CONF_THRESHOLD_HIGH],
            )
            if not thresholds[0] < thresholds[1] < thresholds[2]:
                errors["base"] = "thresholds_not_increasing"
            else:
                return self._async_save({**self.config_entry.options, **user_input})
        options = self.config_entry.options
        # (key, default, minimum, maximum, unit) of each number in the form.
        fields: list[tuple[str, float, float, float, str]] = [
            (
                CONF_SCAN_INTERVAL,
                capabilities.poll_interval.total_seconds(),
                capabilities.min_poll_interval.total_seconds(),
                MAX_SCAN_INTERVAL.total_seconds(),
                "s",
            ),
            (CONF_THRESHOLD_LOW, DEFAULT_THRESHOLD_LOW, 1, 200, "%"),
            (CONF_THRESHOLD_MODERATE, DEFAULT_THRESHOLD_MODERATE, 1, 200, "%"),
            (CONF_THRESHOLD_HIGH, DEFAULT_THRESHOLD_HIGH, 1, 200, "%"),
        ]
        if capabilities.history:
            fields.append(
                (CONF_HISTORY_DAYS, DEFAULT_HISTORY_DAYS, 0, MAX_HISTORY_DAYS, "d")
            )
        if capabilities.stale_by_change:
            fields.append((CONF_STALE_MINUTES, DEFAULT_STALE_MINUTES, 10, 1440, "min"))
        schema: dict[vol.Marker, Any] = {
            vol.Required(key, default=options.get(key, default)): NumberSelector(
                NumberSelectorConfig(
                    min=minimum,
                    max=maximum,
                    unit_of_measurement=unit,
                    mode=NumberSelectorMode.BOX,
                )
            )
            for key, default, minimum, maximum, unit in fields
        }
        return self.async_show_form(
            step_id="settings",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(schema), user_input or {}
            ),
            errors=errors,
        )

    async def async_step_capacity(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set the capacity of a space whose provider gives none (0 clears it)."""
        if user_input is not None:
            capacities = dict(self.config_entry.options.get(CONF_CAPACITIES, {}))
            if capacity := int(user_input["capacity"]):
                capacities[user_input["space"]] = capacity
            else:
                capacities.pop(user_input["space"], None)
            return self._async_save(
                {**self.config_entry.options, CONF_CAPACITIES: capacities}
            )
        spaces = self._spaces_without_capacity()
        return self.async_show_form(
            step_id="capacity",
            data_schema=vol.Schema(
                {
                    vol.Required("space"): SelectSelector(
                        SelectSelectorConfig(
                            options=[
                                SelectOptionDict(value=space_id, label=name)
                                for space_id, name in sorted(
                                    spaces.items(), key=lambda item: item[1]
                                )
                            ],
                            mode=SelectSelectorMode.DROPDOWN,
                        )
                    ),
                    vol.Required("capacity", default=0): NumberSelector(
                        NumberSelectorConfig(
                            min=0, max=100000, mode=NumberSelectorMode.BOX
                        )
                    ),
                }
            ),
        )

    def _async_save(self, options: dict[str, Any]) -> ConfigFlowResult:
        """Store the options, and apply them to the running entry at once.

        Applied here rather than by an update listener: Home Assistant 2026
        reserves update listeners for reloading, and options need no reload.
        """
        data: SpaceOccupancyData | None = getattr(
            self.config_entry, "runtime_data", None
        )
        if data is not None:
            data.async_apply_options(options)
        return self.async_create_entry(data=options)

    def _spaces_without_capacity(self) -> dict[str, str]:
        """Spaces the provider gives no capacity for: id → path of names."""
        # Only a loaded entry knows its spaces.
        snapshot = _last_snapshot(self.config_entry)
        if snapshot is None:
            return {}
        return {
            space_id: _space_path(snapshot.spaces, space_id)
            for space_id, space in snapshot.spaces.items()
            if space_id in snapshot.readings
            and provider_capacity(space, snapshot.readings[space_id]) is None
        }


def _space_path(spaces: Mapping[str, Space], space_id: str) -> str:
    """Return a space's names from the top down, joined by PATH_SEPARATOR.

    Names repeat (every floor has its "Room 1"): the path tells them apart.
    """
    names: list[str] = []
    seen: set[str] = set()
    current: str | None = space_id
    while current is not None and current in spaces and current not in seen:
        seen.add(current)
        names.append(spaces[current].name)
        current = spaces[current].parent_id
    return PATH_SEPARATOR.join(reversed(names))
