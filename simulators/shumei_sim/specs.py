"""The feeds as the simulator writes them, read from the pipeline's contracts (the source of truth:
include/shumei/contracts/*.yaml, or the folder SHUMEI_CONTRACTS_DIR names), never the reverse.

From the contracts: which feeds and sheets there are, each field's name and header in order, the
allowed values the simulator draws from (hotline categories, event and credit record types with
their labels) and where the manifests state digests and row counts. What the simulator knows itself
(how often, how many, which values are likely) stays in its modules; a value the contract allows
that the simulator has no weight for is drawn with a default weight.
"""

from __future__ import annotations

from dataclasses import dataclass

from shumei.ingest.contracts import Contract, load_contracts

CONTRACTS = load_contracts()
# the workbook's sheets in the order the registry exports them; a registry feed of the contracts
# that the simulator does not generate is an error at its first snapshot
SHEET_ORDER = ["registry_communities", "registry_compounds", "registry_enterprises", "registry_owners_committees",
               "registry_party_orgs", "registry_agreements", "registry_service_projects", "registry_demonstrations"]


@dataclass(frozen=True)
class Feed:
    contract: Contract

    @property
    def feed(self) -> str:
        return self.contract.feed

    @property
    def sheet(self) -> str | None:
        return self.contract.sheet

    @property
    def fields(self):
        return self.contract.fields

    @property
    def headers(self) -> list[str]:
        return [f.header for f in self.contract.fields]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.contract.fields]


REGISTRY_SHEETS = [Feed(c) for c in sorted((c for c in CONTRACTS.values() if c.source == "registry"),
                                           key=lambda c: SHEET_ORDER.index(c.feed) if c.feed in SHEET_ORDER else 99)]
HOTLINE_EVENTS = Feed(CONTRACTS["hotline_events"])
CREDIT_EVENTS = Feed(CONTRACTS["credit_events"])

CATEGORIES = list(HOTLINE_EVENTS.contract.field("category").allowed)
EVENT_TYPES = HOTLINE_EVENTS.contract.labels("event_type")  # canonical code -> status shown by the source
CREDIT_EVENT_TYPES = CREDIT_EVENTS.contract.labels("event_type")  # record type -> its Chinese name


def put(manifest: dict, path: tuple[str, ...], value, **names: str) -> None:
    """Sets the manifest's entry at a contract's key path (`<file>`, `<sheet>` replaced by `names`)."""
    keys = [k.replace("<file>", names.get("file", "")).replace("<sheet>", names.get("sheet", "")) for k in path]
    for key in keys[:-1]:
        manifest = manifest.setdefault(key, {})
    manifest[keys[-1]] = value
