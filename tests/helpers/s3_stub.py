"""A boto3 client whose answers a unit test queues (botocore's Stubber): the exact S3 requests
the landing zone makes, without a server. Every landing request goes to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from botocore.stub import Stubber

from meterlake.core.config import ObjectStoreSettings
from meterlake.core.object_store import boto_client, credentials_from_env
from meterlake.receive import object_landing

STORE = ObjectStoreSettings(endpoint="http://127.0.0.1:9", region="us-east-1")
KEY_ID = "AKIDEXAMPLE"


@contextmanager
def stubbed_landing_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    client = boto_client(STORE, credentials_from_env(), max_attempts=1)
    monkeypatch.setattr(object_landing, "_client", lambda landing, credentials: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
