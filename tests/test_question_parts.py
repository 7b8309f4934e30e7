import pytest

from assistant.answering.question_parts import split_parts


@pytest.mark.parametrize(
    "question,parts",
    [
        ("what is the ROIF and how much is in it", ["what is the ROIF", "how much is in it (what is the ROIF)"]),
        (
            "cyber essentials basic vs plus, whats the difference",
            ["what is cyber essentials basic", "what is cyber essentials plus"],
        ),
        ("difference between a probation officer and a pso?", ["what is a probation officer", "what is a pso"]),
        ("who can apply and is there a deadline", ["who can apply", "is there a deadline"]),
        ("is it free?", []),
        ("what do volunteers and staff need to know", []),
    ],
)
def test_questions_that_ask_two_things_are_split(question, parts):
    assert split_parts(question) == parts
