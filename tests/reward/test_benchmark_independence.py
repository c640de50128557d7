"""The trace-ranking benchmark's own rewordings must not be undone by the reward's lexicon: a substitution that the
lexicon reads as the same word would measure the lexicon against itself (the issue that found five such rules)."""

import re
import sys
from pathlib import Path

from moss_plugins.reward.lexicon import analyse

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
import trace_ranking  # noqa: E402

_WORD = re.compile(r"\\b([a-z]+)\\b")


def test_no_rewording_rule_maps_a_word_onto_one_the_lexicon_reads_alike():
    checked = 0
    for pattern, replacement in trace_ranking._REWORD:
        m = _WORD.fullmatch(pattern)
        if m and re.fullmatch(r"[a-z]+", replacement):
            checked += 1
            assert analyse(m.group(1)).canon != analyse(replacement).canon, (pattern, replacement)
    assert checked >= 12  # most rules are one word for another
