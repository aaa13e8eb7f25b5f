"""One root: every error the library raises on purpose is a UserError or a TransientError, and one classifier says
which a retry may fix."""

import pytest

from synthfoundry.benchmarks import BenchmarkError
from synthfoundry.config import ConfigError
from synthfoundry.contracts import ContractError
from synthfoundry.documents import DocumentsError
from synthfoundry.errors import TransientError, UserError, is_retryable, is_user_error
from synthfoundry.exporters import ExportError
from synthfoundry.filters.judge_scores import ScoreUnparseable
from synthfoundry.filters.quality_judge import RubricError
from synthfoundry.inputs import InputError, SeedError
from synthfoundry.teachers.base import CircuitOpen, TeacherError
from synthfoundry.teachers.sdk import UnreadableAnswer
from synthfoundry.verify import VerifierError
from tasks.failures import ContractFailed, PreflightFailed

USER = [BenchmarkError, ConfigError, ContractError, DocumentsError, ExportError, RubricError, InputError, SeedError,
        TeacherError, CircuitOpen, VerifierError, ContractFailed, PreflightFailed]


@pytest.mark.parametrize("error", USER, ids=lambda e: e.__name__)
def test_what_the_user_must_fix_is_never_retried(error):
    assert is_user_error(error("x")) and not is_retryable(error("x"))


@pytest.mark.parametrize("error", [UnreadableAnswer, ScoreUnparseable], ids=lambda e: e.__name__)
def test_transient_errors_and_bugs_are_retried(error):
    assert issubclass(error, TransientError) and is_retryable(error("x"))
    assert is_retryable(KeyError("a bug")) and not is_user_error(KeyError("a bug"))


def test_pydantic_validators_still_see_value_errors():
    assert all(issubclass(e, ValueError) for e in (ConfigError, SeedError, VerifierError, BenchmarkError))
    assert issubclass(UserError, Exception) and issubclass(SeedError, InputError)
