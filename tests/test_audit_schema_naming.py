"""The naming policy: the guide's defaults, environments, explicit kinds, config errors."""

from __future__ import annotations

import pytest

from pgaudit_roles.audit.naming import KINDS, NamingPolicy
from pgaudit_roles.core.errors import ConfigError


def kind(pol: NamingPolicy, name: str, **kw: bool) -> tuple[str, str | None]:
    args = {"login": False, "superuser": False, "predefined": False}
    args.update(kw)
    return pol.classify(name, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name,expected",
    [
        ("db_owner_api", ("owner", "api")),
        ("db_writer_api_prod", ("writer", "api")),
        ("db_reader_billing_staging", ("reader", "billing")),
        ("deploy_api", ("deploy", "api")),
        ("app_api_dev", ("app", "api")),
        ("app_user", ("app", "user")),  # the guide's own example
        ("monitoring_agent", ("monitor", None)),
        ("zabbix_monitor", ("monitor", None)),
        ("analyst_jane", ("other", None)),
        ("app_", ("other", None)),  # the app group needs at least one character
        ("xdb_owner_api", ("other", None)),  # anchored: no match inside a name
        ("app_prod", ("app", "prod")),  # a bare environment word is the app itself
    ],
)
def test_guide_defaults(name: str, expected: tuple[str, str | None]) -> None:
    assert kind(NamingPolicy(), name) == expected


def test_environment_is_reported_and_configurable() -> None:
    pol = NamingPolicy()
    c = pol.classify_full("db_writer_api_prod")
    assert (c.kind, c.app, c.environment) == ("writer", "api", "prod")
    custom = NamingPolicy.from_mapping({"environments": ["live"]}, "t.toml")
    assert custom.classify_full("app_api_live").environment == "live"
    assert custom.classify_full("app_api_prod").app == "api_prod"


def test_order_explicit_predefined_auditor_breakglass_patterns_monitor_admin() -> None:
    pol = NamingPolicy(
        kinds={"legacy_svc": "app", "app_x": "other"}, breakglass=["emergency"], auditor=["audit"]
    )
    assert kind(pol, "legacy_svc") == ("app", None)
    assert kind(pol, "app_x") == ("other", "x")  # explicit kind wins, app still captured
    assert kind(pol, "pg_monitor", predefined=True) == ("predefined", None)
    assert kind(pol, "postgres", predefined=True, superuser=True) == ("admin", None)
    assert kind(pol, "audit", login=True) == ("auditor", None)
    assert kind(pol, "emergency", superuser=True) == ("breakglass", None)
    assert kind(pol, "app_api", superuser=True) == ("app", "api")  # stays app: the finding
    assert kind(pol, "root", superuser=True) == ("admin", None)
    assert pol.classify(
        "metrics", login=True, superuser=False, predefined=False, monitor_member=True
    ) == ("monitor", None)
    off = NamingPolicy(monitor_members=False)
    assert off.classify(
        "metrics", login=True, superuser=False, predefined=False, monitor_member=True
    ) == ("other", None)


def test_custom_patterns_from_config() -> None:
    pol = NamingPolicy.from_mapping(
        {
            "owner": [r"(?P<app>[a-z]+)_owner", r"own_(?P<app>.+)"],
            "app": r"svc_(?P<app>.+)",
            "app_schemas": {"api": ["api", "api_audit"]},
            "breakglass": ["postgres"],
        },
        "pgaudit-roles.toml",
    )
    assert kind(pol, "billing_owner") == ("owner", "billing")
    assert kind(pol, "own_x") == ("owner", "x")
    assert kind(pol, "svc_api_prod") == ("app", "api")
    assert kind(pol, "db_owner_api") == ("other", None)  # replaced, not added
    assert pol.schema_app("api_audit") == "api"
    assert pol.schema_app("public") is None
    assert pol.to_mapping()["owner"] == [r"(?P<app>[a-z]+)_owner", r"own_(?P<app>.+)"]


@pytest.mark.parametrize(
    "mapping,key",
    [
        ({"ownr": "x_(?P<app>.+)"}, "naming.ownr"),
        ({"owner": "db_owner_(?P<app>.+"}, "naming.owner"),
        ({"writer": "db_writer_.+"}, "naming.writer"),
        ({"kinds": {"bob": "wizard"}}, "naming.kinds.bob"),
        ({"kinds": ["bob"]}, "naming.kinds"),
        ({"breakglass": "postgres"}, "naming.breakglass"),
        ({"auditor": [1]}, "naming.auditor"),
        ({"environments": ["pr od"]}, "naming.environments"),
        ({"app_schemas": {"api": "api"}}, "naming.app_schemas.api"),
        ({"monitor_members": "yes"}, "naming.monitor_members"),
        ({"owner": []}, "naming.owner"),
    ],
)
def test_config_errors_name_the_key(mapping: dict, key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        NamingPolicy.from_mapping(mapping, "cfg.toml")
    assert key in str(exc.value) and "cfg.toml" in str(exc.value)


def test_monitor_patterns_may_omit_the_app_group_and_kinds_are_known() -> None:
    pol = NamingPolicy.from_mapping({"monitor": ["prometheus"]}, "t")
    assert kind(pol, "prometheus") == ("monitor", None)
    assert set(KINDS) == {
        "owner",
        "writer",
        "reader",
        "deploy",
        "app",
        "monitor",
        "breakglass",
        "admin",
        "predefined",
        "auditor",
        "other",
    }
    assert NamingPolicy.default() == NamingPolicy()
