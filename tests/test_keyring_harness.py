"""The test harness gives a real Secret Service (gnome-keyring in a private D-Bus session)."""

from __future__ import annotations

import os
import uuid

import keyring
import pytest

pytestmark = pytest.mark.skipif(not os.environ.get("DBUS_SESSION_BUS_ADDRESS"),
                                reason="needs the private D-Bus session that test.sh starts")


def test_secret_service_round_trip() -> None:
    backend = keyring.get_keyring()
    assert "SecretService" in type(backend).__module__ + type(backend).__name__, backend
    name = f"studioml-test-{uuid.uuid4().hex}"
    keyring.set_password("studioml-azure-test", name, "s3cret")
    assert keyring.get_password("studioml-azure-test", name) == "s3cret"
    keyring.delete_password("studioml-azure-test", name)
    assert keyring.get_password("studioml-azure-test", name) is None
