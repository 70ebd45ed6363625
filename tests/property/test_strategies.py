"""The strategies' own promises (tests/property/strategies.py)."""

from shared.scim.storable_text import refused_character
from tests.property.strategies import REFUSED_CHARACTERS


def test_the_named_refused_characters_are_exactly_those_the_service_refuses_besides_surrogates():
    refused = {chr(point) for point in range(0x110000)
               if not 0xD800 <= point <= 0xDFFF and refused_character(chr(point)) is not None}
    assert refused == set(REFUSED_CHARACTERS)
