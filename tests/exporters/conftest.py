import pytest

from tests.helpers import publish_rows, published_rows


@pytest.fixture
def version(tmp_path):
    """A real published version of 25 rows: (rows as read back from the store, manifest)."""
    published = publish_rows(tmp_path / "root", "quickstart", published_rows(25))
    from synthfoundry.dataset import DatasetStore

    return DatasetStore(tmp_path / "root", "quickstart").read(published.number), published.manifest()


def load(kind: str, path, tmp_path):
    """Load with the real `datasets` package, as a trainer does."""
    import datasets

    return datasets.load_dataset(kind, data_files=str(path), split="train", cache_dir=str(tmp_path / "hf-cache"))


def reward_manager_scores(path, responses, **reward_kwargs):
    """What verl 0.9's reward managers do per rollout: the row's non-tensor fields from the dataset, `extra_info`
    copied and extended with the rollout's fields, `reward_kwargs` from the config merged in as keywords."""
    import datasets

    from synthfoundry.exporters.verl import compute_score

    scores = []
    for item, response in zip(datasets.load_dataset("parquet", data_files=str(path), split="train"), responses):
        extra_info = dict(item["extra_info"] or {}, num_turns=2, rollout_reward_scores={})
        scores.append(compute_score(
            data_source=item["data_source"], solution_str=response,
            ground_truth=item["reward_model"]["ground_truth"], extra_info=extra_info, **reward_kwargs,
        ))
    return scores
