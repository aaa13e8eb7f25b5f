"""storage_options: one translation for s3fs and for object_store (LanceDB, polars), keys never shown."""

import pytest

from synthfoundry.dataset.storage import StorageOptions
from synthfoundry.errors import UserError


def test_one_set_of_options_becomes_each_library_s_names_and_its_keys_stay_masked():
    options = StorageOptions.parse(["endpoint_url=http://127.0.0.1:9000", "region=auto", "key=AK", "secret=s3cr3t!"])
    assert options.fsspec() == {"key": "AK", "secret": "s3cr3t!", "endpoint_url": "http://127.0.0.1:9000",
                                "client_kwargs": {"region_name": "auto"}}
    assert options.object_store() == {"aws_endpoint": "http://127.0.0.1:9000", "aws_region": "auto",
                                      "aws_access_key_id": "AK", "aws_secret_access_key": "s3cr3t!",
                                      "allow_http": "true"}
    assert "s3cr3t!" not in repr(options) + str(options.model_dump(mode="json"))
    assert StorageOptions(anon=True).object_store() == {"aws_skip_signature": "true"}


def test_a_config_dumped_for_a_child_run_leaves_its_keys_to_the_worker():
    dumped = StorageOptions(key="AK", secret="s3cr3t!").model_dump(mode="json")
    assert StorageOptions.model_validate(dumped).fsspec() == {}


@pytest.mark.parametrize("pairs, says", [(["endpoint"], "is not KEY=VALUE"), (["endpoint=http://x"], "endpoint")])
def test_a_malformed_or_unknown_cli_option_is_a_user_error(pairs, says):
    with pytest.raises(UserError, match=says):
        StorageOptions.parse(pairs)
