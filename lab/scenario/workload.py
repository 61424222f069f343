"""What the synthetic users ask for: the requests of a workload, declared in the scenario (method, path, body
template, the statuses that count as success, each request's share of the mix, which replies acknowledge a
write), and the optional check that every acknowledged write is in the database (a query of the team's).

The built-in stack's orders workload is the default: writes (POST /orders) until there is something to read, then
reads of acknowledged orders (GET /orders/{id}) at the scenario's read ratio. The synthetic users draw from it
(lab.record.users).
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from lab.document import DocumentModel, FieldProblem, ServiceName

SEQ, ACKNOWLEDGED = "{seq}", "{acknowledged}"


class WorkloadRequest(DocumentModel):
    name: str = Field(min_length=1, description="How the request shows in the recording (e.g. 'read a note').")
    method: str = Field("GET", pattern=r"^(GET|POST|PUT|PATCH|DELETE|HEAD)$")
    path: str = Field(description="Starts with /; {seq} is the request's number, {acknowledged} the id of a write "
                                  "a reply acknowledged (the request waits until there is one).")
    body: str | None = Field(None, description="A body template ({seq}, {acknowledged}), sent as JSON.")
    expect: tuple[int, ...] = Field((200,), min_length=1, description="Statuses that mean success.")
    share: float = Field(1.0, strict=True, gt=0, description="Its weight in the mix.")
    acknowledges: str | None = Field(None, description="The JSON field of a successful reply holding the id of "
                                                       "the write it acknowledges (checked at the end).")

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"must start with /, got {value!r}")
        return value

    @property
    def needs_acknowledged(self) -> bool:
        return ACKNOWLEDGED in self.path or ACKNOWLEDGED in (self.body or "")


class WriteCheck(DocumentModel):
    database: ServiceName = Field(description="The PostgreSQL service (one of stack.databases).")
    query: str = Field(min_length=1, description="SQL returning, in its first column, those of the acknowledged ids "
                                                 "it finds; the ids are passed as %(ids)s (a list).")

    @field_validator("query")
    @classmethod
    def _takes_the_ids(cls, value: str) -> str:
        if "%(ids)s" not in value:
            raise ValueError("must use %(ids)s where the acknowledged ids go")
        return value


class WorkloadSpec(DocumentModel):
    requests: tuple[WorkloadRequest, ...] = Field(min_length=1)
    write_check: WriteCheck | None = None

    @model_validator(mode="after")
    def _something_to_start_with(self) -> WorkloadSpec:
        if all(request.needs_acknowledged for request in self.requests):
            raise FieldProblem("requests", "every request needs an acknowledged write: add one that makes them")
        if any(r.needs_acknowledged for r in self.requests) and not any(r.acknowledges for r in self.requests):
            raise FieldProblem("requests", "a request uses {acknowledged} but none acknowledges a write")
        return self


def orders_workload(read_ratio: float) -> WorkloadSpec:
    """The built-in app's: orders written, then read back."""
    write = WorkloadRequest(name="POST /orders", method="POST", path="/orders", expect=(201,), acknowledges="id",
                            body='{"item": "item-{seq}", "quantity": 1}', share=max(1.0 - read_ratio, 1e-6))
    read = WorkloadRequest(name="GET /orders/{id}", path="/orders/{acknowledged}", share=max(read_ratio, 1e-6))
    return WorkloadSpec(requests=(write, read), write_check=WriteCheck(
        database="db", query="SELECT id FROM orders WHERE id = ANY(%(ids)s)"))
