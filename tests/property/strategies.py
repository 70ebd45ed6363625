"""Hypothesis strategies derived from the attribute definitions in shared/scim/schemas.py.

Used by the property tests here and by the HTTP fuzz
(tests/integration/test_http_fuzz.py): valid resources and PATCH operations
for every attribute the service defines (RFC 7643 §4, §8.7), filter text in
the RFC 7644 §3.4.2.2 grammar with Microsoft Entra's dialect, and hostile
values (arbitrary JSON, odd unicode, wrong types).
"""

from __future__ import annotations

import base64
import functools
import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from shared.scim.attribute import Attribute
from shared.scim.filter_parser import COMPARISON_OPERATORS
from shared.scim.schemas import COMMON_ATTRIBUTES, PATCH_OP_URN, ResourceType

def fuzz_settings(max_examples: int) -> settings:
    """``max_examples`` in ``make test``, derandomized so every run is the same;
    ``make fuzz`` sets ``FUZZ_SEED`` (passed on as ``--hypothesis-seed``) and
    multiplies the examples by ``FUZZ_SCALE``."""
    return settings(max_examples=max_examples * int(os.environ.get("FUZZ_SCALE") or 1), deadline=None,
                    database=None, derandomize=not os.environ.get("FUZZ_SEED"),
                    suppress_health_check=[HealthCheck.too_slow])


# Text that exercises escaping: quotes, backslashes, TAB and LF, astral
# characters, right-to-left marks, key-forbidden characters of Azure Table
# Storage (/ \ # ?) -- everything the service stores.  What it refuses
# (lone surrogates, other control characters, noncharacters:
# shared/scim/storable_text.py) has its own test, tests/integration/test_unstorable_text.py.
#: The characters refused_character refuses besides the surrogates (category Cs):
#: named, so that hypothesis draws from code-point intervals instead of
#: filtering every character it draws.
REFUSED_CHARACTERS = "".join(map(chr, (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0),
                                       *range(0xFDD0, 0xFDF0),
                                       *((plane << 16) | low for plane in range(17) for low in (0xFFFE, 0xFFFF)))))
ODD_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters=REFUSED_CHARACTERS)
    | st.sampled_from(list('"\\/#?%\t\n\u202e\U0001f600 ')),
    max_size=24,
)
# Maps rather than filters: a filter's retries cost time and a repr of the strategy.
ODD_WORD = ODD_TEXT.map(lambda t: t if t.strip() else f"{t}x")
PLAIN_TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_@", min_size=1, max_size=16)
JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | ODD_TEXT
ANY_JSON = st.recursive(JSON_SCALARS, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(ODD_TEXT, kids, max_size=4),
                        max_leaves=12)


# ------------------------------------------------------------------ values
def scalar_value(attr: Attribute) -> st.SearchStrategy:
    """A valid value for a simple attribute (RFC 7643 §2.3), Entra's string booleans included."""
    if attr.type == "boolean":
        return st.booleans() | st.sampled_from(["True", "False", "true", "false"])
    if attr.type == "integer":
        return st.integers(-(2**31), 2**31)
    if attr.type == "decimal":
        return st.floats(allow_nan=False, allow_infinity=False)
    if attr.type == "dateTime":
        return st.datetimes().map(lambda d: d.isoformat(timespec="seconds") + "Z")
    if attr.type == "binary":
        return st.binary(min_size=1, max_size=12).map(lambda b: base64.b64encode(b).decode())
    if attr.type == "reference":
        return PLAIN_TEXT.map(lambda t: f"https://example.test/{t}")
    if attr.canonical_values:
        return st.sampled_from(attr.canonical_values) | PLAIN_TEXT
    return PLAIN_TEXT | ODD_WORD


def writable_subs(attr: Attribute) -> list[Attribute]:
    return [s for s in attr.sub_attributes if s.mutability not in ("readOnly", "immutable")]


def element_value(attr: Attribute) -> st.SearchStrategy:
    """One element of a complex attribute: a few of its writable sub-attributes."""
    subs = writable_subs(attr)
    if attr.name == "manager":
        return st.fixed_dictionaries({"value": PLAIN_TEXT})
    subs = [s for s in subs if s.name != "primary"]
    first = next((s for s in subs if s.name == "value"), subs[0])
    return st.fixed_dictionaries({first.name: scalar_value(first)},
                                 optional={s.name: scalar_value(s) for s in subs if s is not first})


def attribute_value(attr: Attribute) -> st.SearchStrategy:
    """A valid value for ``attr``: at most one ``primary: true`` per list (RFC 7643 §2.4)."""
    if attr.type != "complex":
        return scalar_value(attr)
    if not attr.multi_valued:
        return element_value(attr)
    elements = st.lists(element_value(attr), min_size=1, max_size=3)
    if attr.sub("primary") is None:
        return elements
    return st.tuples(elements, st.integers(0, 3)).map(
        lambda pair: [{**e, "primary": True} if i == pair[1] else e for i, e in enumerate(pair[0])])


def writable_attributes(rt: ResourceType) -> list[tuple[str | None, Attribute]]:
    """(extension URN or None, attribute) for every client-writable attribute,
    members excluded (they go through the membership engine)."""
    found = [(None, a) for a in (*COMMON_ATTRIBUTES, *rt.schema.attributes)]
    found += [(ext.id, a) for ext, _ in rt.extensions for a in ext.attributes]
    return [(urn, a) for urn, a in found
            if a.mutability in ("readWrite", "writeOnly") and a.name not in ("members", "password")]


@functools.cache
def resources(rt: ResourceType, names: st.SearchStrategy = PLAIN_TEXT) -> st.SearchStrategy:
    """A valid POST body of ``rt`` (RFC 7644 §3.3); ``names`` draws its required
    attribute (``userName``, ``displayName``)."""
    core: dict[str, st.SearchStrategy] = {}
    extensions: dict[str, dict[str, st.SearchStrategy]] = {}
    for urn, attr in writable_attributes(rt):
        if attr.required:
            continue
        (core if urn is None else extensions.setdefault(urn, {}))[attr.name] = attribute_value(attr)
    needed = {a.name: names for a in rt.schema.attributes if a.required}
    optional = dict(core)
    for urn, attrs in extensions.items():
        optional[urn] = st.fixed_dictionaries({}, optional=attrs)
    return st.fixed_dictionaries({"schemas": st.just(list(rt.all_schema_urns)), **needed}, optional=optional)


# ------------------------------------------------------------------- PATCH
def _op_name(op: str) -> st.SearchStrategy:
    return st.sampled_from([op, op.capitalize(), op.upper()])


def _path_and_value(rt: ResourceType, *, filtered: bool = True, required: bool = True) -> st.SearchStrategy:
    """(path text, value) pairs naming every writable attribute, in the forms
    RFC 7644 §3.5.2 and Entra use: plain, URN-qualified, ``attr.sub`` and,
    when ``filtered``, ``attr[type eq "..."].sub``; without ``required``,
    the required attributes are left out (for removals)."""
    choices = []
    for urn, attr in writable_attributes(rt):
        if attr.required and not required:
            continue
        name = attr.name if urn is None else f"{urn}:{attr.name}"
        choices.append(st.tuples(st.just(name), attribute_value(attr)))
        if attr.type == "complex" and not attr.multi_valued:
            for sub in writable_subs(attr):
                choices.append(st.tuples(st.just(f"{name}.{sub.name}"), scalar_value(sub)))
        if filtered and attr.multi_valued and attr.sub("type") is not None:
            kind = st.sampled_from(["work", "home", "other", "mobile"])
            for sub in writable_subs(attr):
                if sub.name != "type":
                    choices.append(st.tuples(kind.map(lambda k, n=name, s=sub.name: f'{n}[type eq "{k}"].{s}'),
                                             scalar_value(sub)))
    return st.one_of(choices)


@functools.cache
def patch_operations(rt: ResourceType) -> st.SearchStrategy:
    """One operation that the PATCH engine should accept on a valid resource
    of ``rt`` (RFC 7644 §3.5.2.1-3), Entra's dialect included: capitalised
    ops, path-less values with dotted and URN keys, ``""``/``null`` clears."""
    adding = _op_name("add") | _op_name("replace")
    with_path = st.builds(lambda op, pv: {"op": op, "path": pv[0], "value": pv[1]}, adding, _path_and_value(rt))
    optional = _path_and_value(rt, required=False)
    removal = st.builds(lambda op, pv: {"op": op, "path": pv[0]}, _op_name("remove"), optional)
    pathless = st.builds(lambda op, pvs: {"op": op, "value": dict(pvs)}, adding,
                         st.lists(_path_and_value(rt, filtered=False), min_size=1, max_size=3))
    clearing = st.builds(lambda op, pv, empty: {"op": op, "path": pv[0], "value": empty},
                         _op_name("replace"), _path_and_value(rt, filtered=False, required=False),
                         st.sampled_from(["", None]))
    return with_path | removal | pathless | clearing


def hostile_operations() -> st.SearchStrategy:
    """Operations that are malformed or name nothing: wrong ops, bad paths,
    wrong value types, readOnly targets."""
    ops = st.sampled_from(["add", "replace", "remove", "move", "", "ADD", "copy", "test"]) | ODD_TEXT
    paths = st.sampled_from(["id", "meta.created", "groups", "userName", "emails[", 'emails[type eq "work"', "name.",
                             "a.b.c", "members[value eq 1]", "urn:x:y", "emails[type eq \"work\"].nothing", "x]"]) | ODD_TEXT
    return st.fixed_dictionaries({"op": ops}, optional={"path": paths | ANY_JSON, "value": ANY_JSON})


def patch_body(operations: list) -> dict:
    return {"schemas": [PATCH_OP_URN], "Operations": operations}


# ----------------------------------------------------------------- filters
_ATTR_NAMES = st.sampled_from(["userName", "displayName", "externalId", "title", "active", "id", "name.givenName",
                               "emails.value", "meta.lastModified", "meta.created", "manager", "employeeNumber",
                               "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                               "urn:ietf:params:scim:schemas:core:2.0:User:userName", "members.value", "nosuch"])
_SUB_NAMES = st.sampled_from(["value", "type", "primary", "display"])


def _case_noise(word: str) -> st.SearchStrategy:
    return st.sampled_from([word, word.upper(), word.capitalize()])


def _value_text() -> st.SearchStrategy:
    quoted = ODD_TEXT.map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"')
    unquoted = PLAIN_TEXT.map(lambda t: f"{t}1" if t.lower() in ("and", "or", "not") else t)  # Entra's dialect
    return quoted | st.sampled_from(["true", "False", "null", "1", "-2.5e3", "0"]) | unquoted


def _comparison(names: st.SearchStrategy) -> st.SearchStrategy:
    op = st.sampled_from(sorted(COMPARISON_OPERATORS)).flatmap(_case_noise)
    return st.builds(lambda n, o, v: f"{n} {o} {v}", names, op, _value_text()) | names.map(lambda n: f"{n} pr")


def _value_path() -> st.SearchStrategy:
    inner = _comparison(_SUB_NAMES)
    simple = st.builds(lambda a, f: f"{a}[{f}]", st.sampled_from(["emails", "phoneNumbers", "members", "addresses"]), inner)
    entra = st.builds(lambda t, v: f'emails[type eq "{t}"].value eq {v}', st.sampled_from(["work", "home"]), _value_text())
    return simple | entra


def filter_texts() -> st.SearchStrategy:
    """Filter text in the grammar of RFC 7644 §3.4.2.2 (Figure 1), with
    keyword case noise and extra whitespace."""
    leaves = _comparison(_ATTR_NAMES) | _value_path()
    space = st.sampled_from([" ", "  ", "\t"])
    return st.recursive(
        leaves,
        lambda kids: st.builds(lambda a, w, b, s: f"{a}{s}{w}{s}{b}", kids, st.sampled_from(["and", "or"]).flatmap(_case_noise), kids, space)
        | kids.map(lambda k: f"({k})")
        | st.builds(lambda w, k: f"{w} ({k})", _case_noise("not"), kids),
        max_leaves=8,
    )
