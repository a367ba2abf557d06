"""Incomplete multipart uploads a killed runner left under qrun's keys are aborted by a later
apply, whatever the key: an experiment's definition is uploaded only when a run is
submitted, so no later upload of that key would clear it. Moto's S3 server over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runner.stores import keys
from runner.stores.config import StoreConfig, open_store
from runner.stores.cos import CosStore
from tests.s3_fixtures import S3Setup


def test_only_old_uploads_of_qruns_keys_are_aborted(moto_s3: S3Setup, tmp_path: Path) -> None:
    name = f"stale-{uuid.uuid4().hex[:8]}"
    client, results = moto_s3.client(), moto_s3.buckets["results"]
    ours = keys.definition_key(name)
    foreign = f"{name}-not-qrun.bin"  # a key outside qrun's layout: someone else's upload
    for bucket, key in (("experiments", ours), ("results", foreign)):
        client.create_multipart_upload(Bucket=moto_s3.buckets[bucket], Key=key)
    store = open_store(StoreConfig.from_env(moto_s3.env(), tmp_path))
    assert isinstance(store, CosStore)
    listed = client.list_multipart_uploads(Bucket=moto_s3.buckets["experiments"], Prefix=name)
    begun = listed["Uploads"][0]["Initiated"]  # as the server reports it (moto: a fixed date)
    assert store.abort_stale_uploads(begun) == []  # not before the bound: maybe a live runner's
    aborted = store.abort_stale_uploads(begun + timedelta(seconds=1))
    assert aborted == [f"experiments/{ours}"]
    left = client.list_multipart_uploads(Bucket=moto_s3.buckets["experiments"], Prefix=name)
    assert left.get("Uploads", []) == []
    kept = client.list_multipart_uploads(Bucket=results, Prefix=foreign).get("Uploads", [])
    assert [u["Key"] for u in kept] == [foreign]
    client.abort_multipart_upload(Bucket=results, Key=foreign, UploadId=kept[0]["UploadId"])


def test_the_local_store_has_nothing_to_abort(tmp_path: Path) -> None:
    store = open_store(StoreConfig.from_env({}, tmp_path))
    assert store.abort_stale_uploads(datetime.now(UTC)) == []
