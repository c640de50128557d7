import pytest
from reward_cases import OPTIONS, TRACE, render


@pytest.fixture
def truth():
    return {"answer": "B", "options": list(OPTIONS), "trace": [dict(s) for s in TRACE]}


@pytest.fixture
def ref_steps():
    return [s["text"] for s in TRACE]


@pytest.fixture
def faithful(ref_steps):
    return render(ref_steps)
