"""The engines' contract: every engine offers ``Engine``'s members, and exactly the capabilities it declares."""
from __future__ import annotations

import inspect

import pytest

from checks.engines import ENGINES, get_engine
from checks.engines.base import PROTOCOLS, Capability, Engine, diagnose_on, discover_on, supports

# What each engine adds to the contract, as the README's engine table describes them.
DECLARED = {
    "pandas": {Capability.ANY_CONTRACT},
    "polars": {Capability.ANY_CONTRACT, Capability.READS_BESIDE},
    "duckdb": {Capability.OUT_OF_CORE_DEDUP, Capability.ANY_CONTRACT},
    "spark": {Capability.OWN_LISTING, Capability.OWN_DIAGNOSIS, Capability.CLUSTER, Capability.ANY_CONTRACT},
}


def _members(protocol: type, *, below: type | None = None) -> set[str]:
    """The names a protocol declares (methods and annotated attributes), without those of ``below``."""
    own = {name for name in vars(protocol) if not name.startswith("_")} | set(protocol.__annotations__)
    return own - (_members(below) if below is not None else set())


def test_every_engine_is_listed_with_its_capabilities():
    assert set(DECLARED) == set(ENGINES)


@pytest.mark.parametrize("name", ENGINES)
def test_an_engine_offers_every_member_of_the_contract(name):
    engine = get_engine(name)
    missing = sorted(member for member in _members(Engine) if not hasattr(engine, member))
    assert missing == []
    assert engine.NAME == name
    assert all(callable(getattr(engine, member)) for member in _members(Engine) - {"NAME", "CAPABILITIES"})


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize("capability", list(Capability))
def test_an_engine_offers_a_capability_s_members_exactly_when_it_declares_it(name, capability):
    engine = get_engine(name)
    offered = {member for member in _members(PROTOCOLS[capability], below=Engine) if hasattr(engine, member)}
    assert supports(engine, capability) == (capability in DECLARED[name])
    if supports(engine, capability):
        assert offered == _members(PROTOCOLS[capability], below=Engine)
    else:
        assert offered == set(), f"{name} offers {sorted(offered)} without declaring {capability}"


def test_every_capability_has_a_protocol():
    assert set(PROTOCOLS) == set(Capability)


@pytest.mark.parametrize("name", ENGINES)
def test_listing_and_diagnosis_fall_back_to_the_reference(name):
    from checks import diagnose, feed

    engine = get_engine(name)
    own_listing = supports(engine, Capability.OWN_LISTING)
    own_diagnosis = supports(engine, Capability.OWN_DIAGNOSIS)
    assert (discover_on(engine) is feed.discover_deltas) == (not own_listing)
    assert (diagnose_on(engine) is diagnose.diagnose) == (not own_diagnosis)


def test_an_engine_s_members_take_the_contract_s_arguments():
    for name in ENGINES:
        engine = get_engine(name)
        for member in _members(Engine) - {"NAME", "CAPABILITIES"}:
            wanted = [p for p in inspect.signature(getattr(Engine, member)).parameters if p != "self"]
            offered = list(inspect.signature(getattr(engine, member)).parameters)
            assert offered[: len(wanted)] == wanted, f"{name}.{member}"
